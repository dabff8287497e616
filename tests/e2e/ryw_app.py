#!/usr/bin/python3
"""The processes of the read_your_writes scenario (read_your_writes.py) other than its driver, each
on its own so that neither shares an interpreter lock with the workload it is measured beside:

  ryw_app.py users SPEC_JSON     dc2 "users" (an app server): each writes its own row on the
                                 primary and reads it back through dc2 at once, half of them with
                                 the session token; phase names arrive on stdin, one per line;
                                 at EOF they stop and the counts are printed as one JSON line
  ryw_app.py stand-in METRICS PROXY
                                 publishes dc2's watermark from its invalidator's confirmed
                                 position until terminated, for an invalidator that does not

SPEC_JSON: {"proxy": "host:port", "primary": DSN, "replica": DSN, "users_per_kind": N,
            "first_id": N}
"""
import json
import os
import socket
import sys
import threading
import time

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "python"))
from mccache import (Client, ReadYourWritesStats, ReplicaBehind, ReplicaFallback,  # noqa: E402
                     format_lsn, watermark_key)
from mccache.postgres import insert_lsn  # noqa: E402


class Phases:
    """The phase a read started in, and per phase the counters of both kinds of user."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current = "setup"
        self.counts = {}
        self.samples = {}  # phase -> [[waited seconds, reached]] of token reads

    def add(self, phase, counter, n=1):
        with self.lock:
            c = self.counts.setdefault(phase, {})
            c[counter] = c.get(counter, 0) + n


class SampledStats(ReadYourWritesStats):
    """The client's counters, plus every watermark wait by phase, for the percentiles."""

    def __init__(self, phases):
        super().__init__()
        self.phases = phases

    def record_wait(self, reached, waited, reads):
        super().record_wait(reached, waited, reads)
        with self.phases.lock:
            self.phases.samples.setdefault(self.phases.current, []).append([waited, reached])

    def record_fallback(self, kind):
        super().record_fallback(kind)
        self.phases.add(self.phases.current, f"fallback_{kind}")


def connect(dsn):
    conn = psycopg2.connect(dsn, connect_timeout=2)
    conn.autocommit = True
    return conn


def user(spec, user_id, with_token, phases, stats, stop):
    kind = "token" if with_token else "plain"
    client = Client(spec["proxy"], timeout=2, ryw_stats=stats)
    key, version, primary, replica = f"user:{user_id}", 0, None, None

    def fill():
        with replica.cursor() as cur:
            cur.execute("SELECT name FROM users WHERE id = %s", (user_id,))
            return cur.fetchone()[0].encode()

    while not stop.is_set():
        phase = phases.current
        try:
            if primary is None:
                primary, replica = connect(spec["primary"]), connect(spec["replica"])
            version += 1
            name = f"u{user_id}-{version}"
            with primary.cursor() as cur:
                cur.execute("UPDATE users SET name = %s WHERE id = %s", (name, user_id))
            lsn = insert_lsn(primary) if with_token else None  # the session token L
            started = time.monotonic()
            if with_token:
                value = client.get_or_fill(key, fill, 300, max_wait=1.0, min_lsn=lsn,
                                           fallback=ReplicaFallback(replica, fill, 0.5))
            else:
                value = client.get_or_fill(key, fill, 300, max_wait=1.0)
            phases.add(phase, f"{kind}_reads")
            phases.add(phase, f"{kind}_read_ms", (time.monotonic() - started) * 1000)
            if value.decode() != name:
                phases.add(phase, f"{kind}_stale")
        except ReplicaBehind:
            phases.add(phase, f"{kind}_unserved")  # an honest "try again", never a stale read
        except psycopg2.Error:
            phases.add(phase, f"{kind}_db_errors")
            primary = replica = None
            time.sleep(0.05)
        except Exception:  # the cache failing under a fault
            phases.add(phase, f"{kind}_cache_errors")
            time.sleep(0.02)
        time.sleep(0.02)


def run_users(spec):
    phases, stop = Phases(), threading.Event()
    stats = SampledStats(phases)
    n = spec["users_per_kind"]
    threads = [threading.Thread(target=user, args=(spec, spec["first_id"] + i, i < n, phases,
                                                   stats, stop), daemon=True)
               for i in range(2 * n)]
    for t in threads:
        t.start()
    for line in sys.stdin:
        phases.current = line.strip()
    stop.set()
    for t in threads:
        t.join(timeout=10)
    print(json.dumps({"counts": phases.counts, "samples": phases.samples,
                      "stats": stats.as_dict()}), flush=True)


def confirmed_lsn(metrics):
    host, port = metrics.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=1) as sock:
        sock.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        body = b""
        while part := sock.recv(65536):
            body += part
    for line in body.decode(errors="replace").splitlines():
        if line.startswith("mcinval_confirmed_flush_lsn"):
            return int(float(line.rsplit(" ", 1)[-1]))
    return 0


def run_stand_in(metrics, proxy):
    """mcinval_confirmed_flush_lsn is the position the invalidator confirmed past every key it
    had acknowledged by every server, gated on the replica, so never ahead of the truth. Set
    every 50 ms even unchanged, so a memcached restart loses it only briefly."""
    client = Client(proxy, timeout=1)
    last, last_set = None, 0.0
    while True:
        try:
            lsn = confirmed_lsn(metrics)
            if lsn > 0 and (lsn != last or time.monotonic() - last_set > 0.05):
                client.set(watermark_key(), format_lsn(lsn))
                last, last_set = lsn, time.monotonic()
        except Exception:
            time.sleep(0.02)  # the invalidator or memcached is down: the watermark stays behind
        time.sleep(0.002)


if __name__ == "__main__":
    if sys.argv[1:2] == ["users"] and len(sys.argv) == 3:
        run_users(json.loads(sys.argv[2]))
    elif sys.argv[1:2] == ["stand-in"] and len(sys.argv) == 4:
        run_stand_in(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
