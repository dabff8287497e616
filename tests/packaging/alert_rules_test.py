#!/usr/bin/python3
"""The monitoring kit: promtool accepts the alert rules and the example scrape config, the rules'
unit tests (alerts_test.yml) pass, every alert has a severity and a runbook_url naming a section
that docs/operations.md has, and the Grafana dashboard is JSON whose every panel has a query.
(That the metrics they name are exported is service_integration_test's job.)"""
import json
import os
import re
import subprocess
import sys

import yaml

SOURCE = os.environ.get("MCCACHE_SOURCE_DIR",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)


def promtool(*args, cwd):
    r = subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=cwd)
    out = (r.stdout + r.stderr).strip()
    check(r.returncode == 0, f"promtool {' '.join(args)}: {out.splitlines()[-1] if out else ''}")
    if r.returncode != 0:
        print(out)


def github_anchors(markdown):
    """The anchors GitHub gives a page's headings (lower case, punctuation dropped, spaces -)."""
    anchors = set()
    for line in markdown.splitlines():
        m = re.match(r"#{1,6} (.+)", line)
        if m:
            title = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            anchors.add(title.replace(" ", "-"))
    return anchors


def main():
    prometheus = os.path.join(SOURCE, "deploy", "prometheus")
    promtool("check", "rules", "alerts.yml", cwd=prometheus)
    promtool("check", "config", "prometheus.yml", cwd=prometheus)
    promtool("test", "rules", "alerts_test.yml", cwd=os.path.join(SOURCE, "tests", "packaging"))

    with open(os.path.join(prometheus, "alerts.yml")) as f:
        rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"] if "alert" in r]
    with open(os.path.join(SOURCE, "docs", "operations.md")) as f:
        anchors = github_anchors(f.read())
    check(len(rules) >= 15, f"{len(rules)} alerts")
    for rule in rules:
        name = rule["alert"]
        check(rule.get("labels", {}).get("severity") in ("page", "ticket"),
              f"{name} has severity page or ticket")
        url = rule.get("annotations", {}).get("runbook_url", "")
        page, _, anchor = url.partition("#")
        check(page == "docs/operations.md" and anchor in anchors,
              f"{name}'s runbook_url {url!r} is a section of docs/operations.md")

    with open(os.path.join(SOURCE, "deploy", "grafana", "mccache.json")) as f:
        dashboard = json.load(f)
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    check(len(panels) >= 20, f"the dashboard has {len(panels)} panels")
    for p in panels:
        exprs = [t.get("expr", "") for t in p.get("targets", [])]
        check(exprs and all(re.search(r"\b(mcproxy|mcinval)_", e) for e in exprs),
              f"dashboard panel {p['title']!r} queries mccache metrics")
    ids = [p["id"] for p in dashboard["panels"]]
    check(len(ids) == len(set(ids)), "dashboard panel ids are unique")
    print(f"alert rules: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
