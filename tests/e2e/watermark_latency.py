#!/usr/bin/python3
"""How long after a commit dc2 has applied it, on a real two-region devcluster (not a ctest).

One writer commits a row on the primary, takes its token L (the insert LSN right after the
commit) and, through dc2's mcproxy, polls until dc2's watermark W >= L and until the row's cached
key is gone; beside it, dc2's replica's replay position. Prints p50/p90/p99 in ms of each.

  tests/e2e/watermark_latency.py [--load] [--seconds N]

--load runs the usual e2e workload beside it (2 writers, readers in both regions).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, Workload, log  # noqa: E402
from mccache import Client  # noqa: E402
from mccache.lsn import parse_lsn  # noqa: E402
import psycopg2  # noqa: E402

ROW = 950  # beyond the workload's ids
KEY = f"user:{ROW}"


def percentiles(values):
    values = sorted(values)
    at = lambda p: values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]  # noqa
    return f"p50={at(50):.2f} p90={at(90):.2f} p99={at(99):.2f} max={values[-1]:.1f}"


def measure(primary, replica, client, seconds):
    """Per commit: ms until replayed in dc2, until its key is gone in dc2, until W >= L."""
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        client.set(KEY, b"old")
        with primary.cursor() as cur:
            cur.execute("UPDATE users SET name = 'p' || now() WHERE id = %s", (ROW,))
            cur.execute("SELECT pg_current_wal_insert_lsn()::text")
            token = parse_lsn(cur.fetchone()[0])
        start = time.monotonic()
        replayed = deleted = applied = None
        while time.monotonic() - start < 1.0 and None in (replayed, deleted, applied):
            now = lambda: (time.monotonic() - start) * 1000  # noqa: E731
            if deleted is None and client.get(KEY) is None:
                deleted = now()
            if replayed is None:
                with replica.cursor() as cur:
                    cur.execute("SELECT pg_last_wal_replay_lsn()::text")
                    if parse_lsn(cur.fetchone()[0]) >= token:
                        replayed = now()
            if applied is None:
                w = client.watermark()
                if w is not None and w >= token:
                    applied = now()
            time.sleep(0.0002)
        samples.append(tuple(1000.0 if v is None else v for v in (replayed, deleted, applied)))
        time.sleep(0.02)
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    cluster = Cluster()
    try:
        dc2 = cluster.endpoints[1]
        work = Workload(cluster, ids=200)
        cluster.quiesce()
        if args.load:
            work.start()
        primary = psycopg2.connect(cluster.pg["primary"])
        primary.autocommit = True
        replica = psycopg2.connect(dc2["postgres"])
        replica.autocommit = True
        samples = measure(primary, replica, Client(dc2["proxy"], timeout=2), args.seconds)
        if args.load:
            work.stop()
        for i, name in enumerate(("replayed", "key deleted", "W >= L")):
            log(f"commit -> {name} in dc2 (ms, n={len(samples)}): "
                f"{percentiles([s[i] for s in samples])}")
    finally:
        cluster.down()


if __name__ == "__main__":
    sys.exit(main())
