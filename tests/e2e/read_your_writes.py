#!/usr/bin/python3
"""Read your own writes from dc2, on a real two-region devcluster beside the usual workload.

Users in dc2 (ryw_app.py, a process of their own, as an app server is) each write their own row
on the primary (dc1) and read it back through dc2's mcproxy at once, in a loop: half of them
carry the session token (get_or_fill(min_lsn=L) with a ReplicaFallback), half do not. A read is
stale if it does not return the reader's own latest write. Phases on one cluster: healthy, dc2's
replica replay paused, dc2's invalidator killed and restarted, a dc2 memcached killed and
restarted. Passes when no token read was stale in any phase, most healthy token reads were
served through the watermark, and once everything has quiesced no cache differs from its
database.

  tests/e2e/read_your_writes.py [--watermark auto|invalidator|stand-in] [--scale N]

--watermark: `invalidator` reads the watermark the region's invalidator publishes (ctest runs
this); `stand-in` publishes one from a process of its own instead (dc2's
mcinval_confirmed_flush_lsn, scraped every 2 ms and `set` through dc2's mcproxy), to compare with;
`auto` (default) picks `invalidator` if the invalidator exports mcinval_applied_lsn. --scale
multiplies every phase's length.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from harness import Cluster, Workload, check_consistency, log

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ryw_app.py")
USERS_PER_KIND = 3
FIRST_USER_ID = 901  # beyond the workload's ids, so each row has exactly one writer


def pause_replay(cluster, scale):
    replica = cluster.pg["replicas"][0]
    cluster.sql(replica, "SELECT pg_wal_replay_pause()")
    log("fault: dc2 replica replay paused")
    time.sleep(3 * scale)
    cluster.sql(replica, "SELECT pg_wal_replay_resume()")
    log("heal: dc2 replica replay resumed")
    time.sleep(2 * scale)


def kill_invalidator(cluster, scale):
    cluster.kill9("dc2-invalidator")
    time.sleep(2 * scale)
    cluster.restart("dc2-invalidator")
    time.sleep(3 * scale)


def kill_memcached(cluster, scale):
    cluster.kill9("dc2-memcached1")
    time.sleep(2 * scale)
    cluster.restart("dc2-memcached1")
    time.sleep(2 * scale)


PHASES = [("healthy", lambda cluster, scale: time.sleep(8 * scale)),
          ("pause_replay", pause_replay),
          ("kill_invalidator", kill_invalidator),
          ("kill_memcached", kill_memcached)]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0


def report(results):
    """Logs each phase's figures; False if any token read was stale or the watermark unused."""
    ok = True
    for name, _ in PHASES:
        c = results["counts"].get(name, {})
        samples = results["samples"].get(name, [])
        waits = [w * 1000 for w, _ in samples]
        line = (f"{name}: token_reads={c.get('token_reads', 0)} "
                f"token_stale={c.get('token_stale', 0)} "
                f"plain_reads={c.get('plain_reads', 0)} plain_stale={c.get('plain_stale', 0)} "
                f"token_wait_p50_ms={percentile(waits, 50):.2f} "
                f"token_wait_p99_ms={percentile(waits, 99):.2f} "
                f"timeouts={sum(not reached for _, reached in samples)} "
                f"fallback_replica={c.get('fallback_replica', 0)} "
                f"unserved={c.get('token_unserved', 0)} "
                f"cache_errors={c.get('token_cache_errors', 0)}/{c.get('plain_cache_errors', 0)} "
                f"db_errors={c.get('token_db_errors', 0)}/{c.get('plain_db_errors', 0)}")
        for kind in ("token", "plain"):
            if c.get(f"{kind}_reads"):
                line += f" {kind}_read_mean_ms={c[f'{kind}_read_ms'] / c[f'{kind}_reads']:.2f}"
        log(line)
        if c.get("token_stale", 0):
            log(f"FAIL {name}: {c['token_stale']} token reads did not see the reader's own write")
            ok = False
    healthy = results["counts"].get("healthy", {})
    samples = results["samples"].get("healthy", [])
    served = sum(reached for _, reached in samples)
    if not healthy.get("token_reads") or not healthy.get("plain_reads"):
        log("FAIL healthy: no reads")
        ok = False
    elif served < len(samples) / 2:
        log(f"FAIL healthy: only {served} of {len(samples)} token reads saw the watermark reach "
            f"their write; is it published (mccache:applied_lsn:default in dc2)?")
        ok = False
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watermark", choices=["auto", "invalidator", "stand-in"],
                        default="auto")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    started = time.monotonic()
    cluster = Cluster()
    procs = []
    try:
        dc2 = cluster.endpoints[1]
        publishes = "mcinval_applied_lsn" in cluster.invalidator_metrics(dc2)
        source = args.watermark if args.watermark != "auto" else (
            "invalidator" if publishes else "stand-in")
        log(f"watermark: {source}" + ("" if publishes else
                                      " (dc2's invalidator does not export mcinval_applied_lsn)"))
        work = Workload(cluster, ids=200)
        if not cluster.quiesce():
            log("setup did not quiesce")
            return 1
        if source == "stand-in":
            procs.append(subprocess.Popen([sys.executable, APP, "stand-in",
                                           dc2["metrics"]["invalidator"], dc2["proxy"]]))
        spec = {"proxy": dc2["proxy"], "primary": cluster.pg["primary"],
                "replica": dc2["postgres"], "users_per_kind": USERS_PER_KIND,
                "first_id": FIRST_USER_ID}
        users = subprocess.Popen([sys.executable, APP, "users", json.dumps(spec)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(users)
        work.start()
        time.sleep(1)
        for name, fault in PHASES:
            log(f"phase: {name}")
            users.stdin.write(name + "\n")
            users.stdin.flush()
            fault(cluster, args.scale)
        out, _ = users.communicate("done\n", timeout=60)
        work.stop()
        quiet = cluster.quiesce()
        stale = check_consistency(cluster, 200)
        results = json.loads(out)
        ok = report(results)
        s = results["stats"]
        log(f"client counters: token_reads={s['token_reads']} at_once={s['at_once']} "
            f"waits={s['waits']} timeouts={s['timeouts']} fallbacks={s['fallbacks']} "
            f"replica_timeouts={s['replica_timeouts']}")
        log(f"workload: writes={work.stats.writes} reads={work.stats.reads} "
            f"stale_keys_after_heal={len(stale)} quiesced={quiet}")
        ok = ok and quiet and not stale and work.stats.writes > 0
        log(f"read_your_writes: {'PASS' if ok else 'FAIL'} in {time.monotonic() - started:.0f} s")
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
        cluster.down()


if __name__ == "__main__":
    sys.exit(main())
