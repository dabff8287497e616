#!/usr/bin/python3
"""Read your own writes from dc2, on a real two-region devcluster beside the usual workload.

Users in dc2 each write their own row on the primary (dc1) and read it back through dc2's mcproxy
at once, in a loop: half of them carry the session token (get_or_fill(min_lsn=L) with a
ReplicaFallback), half do not. A read is stale if it does not return the reader's own latest
write. Phases on one cluster: healthy, dc2's replica replay paused, dc2's invalidator killed and
restarted, a dc2 memcached killed and restarted. Passes when no token read was stale in any
phase, most healthy token reads were served through the watermark, and once everything has
quiesced no cache differs from its database.

  tests/e2e/read_your_writes.py [--watermark auto|invalidator|stand-in] [--scale N]

--watermark: `invalidator` reads the watermark the region's invalidator publishes; `stand-in`
publishes it from here for an invalidator that does not yet (dc2's mcinval_confirmed_flush_lsn,
the position it confirmed past every acknowledged key, scraped every 3 ms and `set` through
dc2's mcproxy, as the invalidator would); `auto` (default) picks `invalidator` if the invalidator
exports mcinval_applied_lsn. --scale multiplies every phase's length.
"""
import argparse
import sys
import threading
import time

import psycopg2

from harness import Client, Cluster, Workload, check_consistency, log
from mccache import ReadYourWritesStats, ReplicaBehind, ReplicaFallback, format_lsn, watermark_key
from mccache.postgres import insert_lsn

USERS_PER_KIND = 3
FIRST_USER_ID = 901  # beyond the workload's ids, so each row has exactly one writer


class Phases:
    """The phase a read started in, and per phase the counters of both kinds of user."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current = "setup"
        self.order = []
        self.counts = {}

    def start(self, name):
        with self.lock:
            self.current = name
            self.order.append(name)
            self.counts[name] = {}
        log(f"phase: {name}")

    def add(self, phase, counter, n=1):
        with self.lock:
            c = self.counts.setdefault(phase, {})
            c[counter] = c.get(counter, 0) + n


class SampledStats(ReadYourWritesStats):
    """The client's counters, plus every wait's length by phase for the percentiles."""

    def __init__(self, phases):
        super().__init__()
        self.phases = phases
        self.samples = {}

    def record_wait(self, reached, waited, reads):
        super().record_wait(reached, waited, reads)
        phase = self.phases.current
        with self.phases.lock:
            self.samples.setdefault(phase, []).append((waited, reached))

    def record_fallback(self, kind):
        super().record_fallback(kind)
        self.phases.add(self.phases.current, f"fallback_{kind}")


class User(threading.Thread):
    def __init__(self, cluster, region, user_id, with_token, phases, stats, stop):
        super().__init__(daemon=True)
        self.cluster, self.region, self.user_id = cluster, region, user_id
        self.with_token, self.phases, self.stats, self.stop = with_token, phases, stats, stop
        self.kind = "token" if with_token else "plain"

    def run(self):
        primary = replica = None
        client = Client(self.region["proxy"], timeout=2, ryw_stats=self.stats)
        key, version = f"user:{self.user_id}", 0
        while not self.stop.is_set():
            phase = self.phases.current
            try:
                if primary is None:
                    primary = self.connect(self.cluster.pg["primary"])
                    replica = self.connect(self.region["postgres"])
                version += 1
                name = f"u{self.user_id}-{version}"
                with primary.cursor() as cur:
                    cur.execute("UPDATE users SET name = %s WHERE id = %s", (name, self.user_id))
                lsn = insert_lsn(primary) if self.with_token else None
                fill = self.reader(replica)
                started = time.monotonic()
                if self.with_token:
                    value = client.get_or_fill(key, fill, 300, max_wait=1.0, min_lsn=lsn,
                                               fallback=ReplicaFallback(replica, fill, 0.5))
                else:
                    value = client.get_or_fill(key, fill, 300, max_wait=1.0)
                self.phases.add(phase, f"{self.kind}_reads")
                self.phases.add(phase, f"{self.kind}_read_ms",
                                (time.monotonic() - started) * 1000)
                if value.decode() != name:
                    self.phases.add(phase, f"{self.kind}_stale")
            except ReplicaBehind:
                self.phases.add(phase, f"{self.kind}_unserved")  # an honest "try again"
            except psycopg2.Error:
                self.phases.add(phase, f"{self.kind}_db_errors")
                primary = replica = None
                time.sleep(0.05)
            except Exception:  # the cache failing under a fault: counted, never a stale read
                self.phases.add(phase, f"{self.kind}_cache_errors")
                time.sleep(0.02)
            time.sleep(0.02)

    @staticmethod
    def connect(dsn):
        conn = psycopg2.connect(dsn, connect_timeout=2)
        conn.autocommit = True
        return conn

    def reader(self, replica):
        def fill():
            with replica.cursor() as cur:
                cur.execute("SELECT name FROM users WHERE id = %s", (self.user_id,))
                return cur.fetchone()[0].encode()
        return fill


class StandInWatermark(threading.Thread):
    """Publishes dc2's watermark from its invalidator's confirmed position, for an invalidator
    that does not publish it itself. Re-set every 50 ms too, so a memcached restart loses it only
    briefly, as with the invalidator's keepalive writes."""

    def __init__(self, cluster, region, stop):
        super().__init__(daemon=True)
        self.cluster, self.region, self.stop = cluster, region, stop

    def run(self):
        client = Client(self.region["proxy"], timeout=1)
        last, last_set = None, 0.0
        while not self.stop.is_set():
            try:
                lsn = int(self.cluster.invalidator_metrics(self.region).get(
                    "mcinval_confirmed_flush_lsn", 0))
                if lsn > 0 and (lsn != last or time.monotonic() - last_set > 0.05):
                    client.set(watermark_key(), format_lsn(lsn))
                    last, last_set = lsn, time.monotonic()
            except Exception:
                time.sleep(0.02)  # invalidator or memcached down: the watermark goes stale
            time.sleep(0.003)


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


def report(phases, stats):
    ok = True
    for name in phases.order:
        c = phases.counts.get(name, {})
        waits = [w * 1000 for w, _ in stats.samples.get(name, [])]
        timeouts = sum(not reached for _, reached in stats.samples.get(name, []))
        line = (f"{name}: token_reads={c.get('token_reads', 0)} "
                f"token_stale={c.get('token_stale', 0)} "
                f"plain_reads={c.get('plain_reads', 0)} plain_stale={c.get('plain_stale', 0)} "
                f"token_wait_p50_ms={percentile(waits, 50):.2f} "
                f"token_wait_p99_ms={percentile(waits, 99):.2f} timeouts={timeouts} "
                f"fallback_replica={c.get('fallback_replica', 0)} "
                f"unserved={c.get('token_unserved', 0)} "
                f"cache_errors={c.get('token_cache_errors', 0)}/{c.get('plain_cache_errors', 0)} "
                f"db_errors={c.get('token_db_errors', 0)}/{c.get('plain_db_errors', 0)}")
        for kind in ("token", "plain"):
            reads = c.get(f"{kind}_reads", 0)
            if reads:
                ms = c[f"{kind}_read_ms"] / reads
                line += f" {kind}_read_mean_ms={ms:.2f}"
        log(line)
        if c.get("token_stale", 0):
            log(f"FAIL {name}: {c['token_stale']} token reads did not see the reader's own write")
            ok = False
    healthy = phases.counts.get("healthy", {})
    samples = stats.samples.get("healthy", [])
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
    stop = threading.Event()
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
        phases = Phases()
        stats = SampledStats(phases)
        threads = [StandInWatermark(cluster, dc2, stop)] if source == "stand-in" else []
        threads += [User(cluster, dc2, FIRST_USER_ID + i, i < USERS_PER_KIND, phases, stats,
                         stop) for i in range(2 * USERS_PER_KIND)]
        work.start()
        for t in threads:
            t.start()
        time.sleep(1)
        for name, fault in PHASES:
            phases.start(name)
            fault(cluster, args.scale)
        phases.start("done")
        stop.set()
        for t in threads:
            t.join(timeout=10)
        work.stop()
        quiet = cluster.quiesce()
        stale = check_consistency(cluster, 200)
        phases.order.remove("done")
        ok = report(phases, stats)
        s = stats.as_dict()
        log(f"client counters: token_reads={s['token_reads']} at_once={s['at_once']} "
            f"waits={s['waits']} timeouts={s['timeouts']} fallbacks={s['fallbacks']} "
            f"replica_timeouts={s['replica_timeouts']}")
        log(f"workload: writes={work.stats.writes} reads={work.stats.reads} "
            f"stale_keys_after_heal={len(stale)} quiesced={quiet}")
        ok = ok and quiet and not stale and work.stats.writes > 0
        log(f"read_your_writes: {'PASS' if ok else 'FAIL'} in {time.monotonic() - started:.0f} s")
        return 0 if ok else 1
    finally:
        stop.set()
        cluster.down()


if __name__ == "__main__":
    sys.exit(main())
