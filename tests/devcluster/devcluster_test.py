#!/usr/bin/python3
"""scripts/devcluster heals the way `docker compose up` does, on one cluster for every case:

  - `status` tells a live process from a dead one, Postgres servers included (kill -9 leaves a pid
    file behind, and here the killed process stays a zombie, as under an init that does not reap);
  - `up` on a cluster with dead parts restarts just those, each on its port and data directory,
    and leaves every other process (same pid) and connection as it is; a second `up` does nothing;
  - `down` stops everything `up` ever started for the directory, restarted parts included.

  /usr/bin/python3 tests/devcluster/devcluster_test.py      exit 0 when every check holds
"""
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import psycopg2

from checks import check, running, verdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVCLUSTER = os.path.join(ROOT, "scripts", "devcluster")


def devcluster(d, *args):
    r = subprocess.run([DEVCLUSTER, *args, "--dir", d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    return r.returncode, r.stdout


def status_lines(d):
    """(exit code, {name: "up" | "DOWN"}) of `devcluster status`."""
    code, out = devcluster(d, "status")
    rows = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) == 6 and words[1] == "pid" and words[3] == "port":
            rows[words[0]] = words[5]
    return code, rows


def state(d):
    with open(os.path.join(d, "state.json")) as f:
        return json.load(f)


def pids(d):
    return {p["name"]: p["pid"] for r in state(d)["regions"] for p in r["processes"]}


def ports(d):
    return {p["name"]: p["port"] for r in state(d)["regions"] for p in r["processes"]}


def postmaster(d, server):
    with open(os.path.join(d, "pg", server, "postmaster.pid")) as f:
        return int(f.readline())


def kill9(pid):
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


class Conn:
    """One client connection, kept open across the heal."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)

    def call(self, line, end=b"\r\n"):
        self.sock.sendall(line.encode())
        data = b""
        while not data.endswith(end):
            chunk = self.sock.recv(65536)
            if not chunk:
                return data.decode() + "<closed>"
            data += chunk
        return data.decode()

    def store(self, key, value, timeout=10.0):
        """set, retried while the proxy is still learning its backends."""
        deadline = time.monotonic() + timeout
        while True:
            reply = self.call(f"set {key} 0 0 {len(value)}\r\n{value}\r\n")
            if reply == "STORED\r\n" or time.monotonic() > deadline:
                return reply
            time.sleep(0.05)


def processes_of(d):
    """Live processes that belong to cluster `d`: started by it (its mark in their environment) or
    working in its directory (the Postgres servers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                marked = f"MCCACHE_DEVCLUSTER={d}".encode() in f.read().split(b"\0")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if marked or cwd == d or cwd.startswith(d + "/"):
            found.append(int(entry))
    return found


def run_cases(d, relayed):
    code, out = devcluster(d, "up", "--regions", "2", "--memcached", "2",
                           *(["--relay-invalidator", "dc2"] if relayed else []))
    if not check(code == 0, f"up starts a cluster ({out.strip()})"):
        return
    with open(os.path.join(d, "endpoints.json")) as f:
        endpoints = f.read()
    regions = json.loads(endpoints)["regions"]
    code, rows = status_lines(d)
    check(code == 0 and rows and all(v == "up" for v in rows.values()),
          f"status: every part up, exit 0 (exit {code}, {rows})")
    check({"pg-primary", "pg-replica1"} <= set(rows), "status lists the Postgres servers")

    # Connections that must survive the heal: dc1 is not touched at all, dc2 loses a memcached.
    dc1, dc2 = Conn(regions[0]["proxy"]), Conn(regions[1]["proxy"])
    check(dc1.store("heal:dc1", "kept") == "STORED\r\n", "set through dc1's mcproxy")
    check(dc2.store("heal:dc2", "any") == "STORED\r\n", "set through dc2's mcproxy")

    before, before_ports = pids(d), ports(d)
    primary, replica = postmaster(d, "primary"), postmaster(d, "replica1")
    killed = ["dc2-memcached1", "dc1-invalidator"] + (["dc2-relay"] if relayed else [])
    for name in killed:
        kill9(before[name])
    kill9(replica)

    code, rows = status_lines(d)
    check(code == 1, f"status exits 1 with parts down (exit {code})")
    check(all(rows.get(n) == "DOWN" for n in killed + ["pg-replica1"]),
          f"status shows the killed parts DOWN, the zombie replica included ({rows})")
    check(all(v == "up" for n, v in rows.items() if n not in killed + ["pg-replica1"]),
          "status shows every other part up")

    code, out = devcluster(d, "up")
    check(code == 0, f"up on a damaged cluster ({out.strip()})")
    after, after_ports = pids(d), ports(d)
    check(after_ports == before_ports, "every process keeps its port")
    check(all(after[n] != before[n] and running(after[n]) for n in killed),
          "the killed processes run again (new pids)")
    untouched = [n for n in before if n not in killed]
    check(all(after[n] == before[n] for n in untouched),
          f"every other process keeps its pid ({[n for n in untouched if after[n] != before[n]]})")
    check(postmaster(d, "primary") == primary, "the primary keeps its pid")
    new_replica = postmaster(d, "replica1")
    check(new_replica != replica and running(new_replica),
          "the replica runs again on its data directory")
    with open(os.path.join(d, "endpoints.json")) as f:
        now, then = json.load(f), json.loads(endpoints)
    for region in now["regions"] + then["regions"]:
        region.get("relay", {}).pop("pid", None)
    check(now == then, "endpoints.json is unchanged (but for a relay's pid)")
    check(dc1.call("get heal:dc1\r\n", b"END\r\n") == "VALUE heal:dc1 0 4\r\nkept\r\nEND\r\n",
          "dc1's open connection still serves the value set before")
    check(dc2.call("version\r\n").startswith("VERSION "), "dc2's open connection still answers")
    mc = Conn(json.loads(endpoints)["regions"][1]["memcached"][0])
    check(mc.call("version\r\n").startswith("VERSION "), "dc2-memcached1 answers on its port")
    with psycopg2.connect(regions[1]["postgres"], connect_timeout=5) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery()")
            check(cur.fetchone()[0] is True, "the replica serves queries on its port, as a standby")

    # The healed region still invalidates: dc2's invalidator is gated on the restarted replica.
    check(dc2.store("user:7", "old") == "STORED\r\n", "cache user:7 in dc2")
    with psycopg2.connect(regions[0]["primary_postgres"]) as conn, conn.cursor() as cur:
        cur.execute("UPDATE users SET name = name || '!' WHERE id = 7")
    deadline = time.monotonic() + 15
    while "VALUE" in dc2.call("get user:7\r\n", b"END\r\n") and time.monotonic() < deadline:
        time.sleep(0.02)
    check(time.monotonic() <= deadline, "after the heal, a write on the primary invalidates dc2")

    code, rows = status_lines(d)
    check(code == 0 and all(v == "up" for v in rows.values()), f"status after up: all up ({rows})")
    code, out = devcluster(d, "up")
    check(code == 0 and "already up" in out and pids(d) == after,
          f"a second up changes nothing ({out.strip()})")

    ever = set(before.values()) | set(after.values()) | {primary, replica, new_replica}
    code, out = devcluster(d, "down")
    check(code == 0, f"down ({out.strip()})")
    check(not [p for p in ever if running(p)], "down stops every process up ever started")
    check(not processes_of(d), f"no process of the cluster is left ({processes_of(d)})")
    code, _ = status_lines(d)
    check(code == 3, f"status after down exits 3 (exit {code})")


def main():
    # Killed processes are re-parented here and stay zombies until the end, as they would under
    # an init that does not reap (a container's, say): liveness must not trust a pid.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    d = tempfile.mkdtemp(prefix="mccache-devcluster-")
    os.chmod(d, 0o755)  # Postgres runs as user postgres and must reach its data directory
    try:
        run_cases(d, relayed=os.geteuid() == 0)
    finally:
        if os.path.exists(os.path.join(d, "state.json")):
            devcluster(d, "down")
        while True:  # the zombies
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        shutil.rmtree(d, ignore_errors=True)
    return verdict("devcluster")


if __name__ == "__main__":
    sys.exit(main())
