#!/usr/bin/python3
"""Consistency and chaos scenarios on a real two-region devcluster.

  tests/e2e/run.py [--scenario NAME ...] [--soak MINUTES]

Each scenario starts a workload, injects its fault, heals it, lets the system quiesce, and asserts
that no region's cache holds a value that differs from its local database. Prints the figures of
each scenario and a closing "N passed, N failed" line.
"""
import argparse
import sys
import time

from harness import Cluster, Workload, check_consistency, log


def fault_none(cluster, duration):
    time.sleep(duration)


def fault_kill_invalidators(cluster, duration):
    for region in cluster.endpoints:
        cluster.kill9(f"{region['name']}-invalidator")
    time.sleep(duration / 2)
    for region in cluster.endpoints:
        cluster.restart(f"{region['name']}-invalidator")
    time.sleep(duration / 2)


def fault_kill_memcached(cluster, duration):
    name = f"{cluster.endpoints[1]['name']}-memcached1"
    cluster.kill9(name)
    time.sleep(duration / 2)
    cluster.restart(name)
    time.sleep(duration / 2)


def fault_kill_mcproxy(cluster, duration):
    name = f"{cluster.endpoints[1]['name']}-mcproxy"
    cluster.kill9(name)
    time.sleep(duration / 3)
    cluster.restart(name)
    time.sleep(2 * duration / 3)


def fault_pause_replay(cluster, duration):
    replica = cluster.pg["replicas"][0]
    cluster.sql(replica, "SELECT pg_wal_replay_pause()")
    log("fault: replica replay paused")
    time.sleep(duration / 2)
    cluster.sql(replica, "SELECT pg_wal_replay_resume()")
    log("heal: replica replay resumed")
    time.sleep(duration / 2)


def fault_restart_primary(cluster, duration):
    time.sleep(duration / 3)
    cluster.pg_ctl("primary", "restart")
    time.sleep(2 * duration / 3)


# name -> (fault, workload shape)
SCENARIOS = {
    "baseline": (fault_none, {}),
    "kill_invalidators": (fault_kill_invalidators, {}),
    "kill_memcached": (fault_kill_memcached, {}),
    "kill_mcproxy": (fault_kill_mcproxy, {}),
    "pause_replay": (fault_pause_replay, {}),
    "restart_primary": (fault_restart_primary, {}),
    # A burst of writes to one hot key (user:1) read by a hundred readers per region.
    "hot_key_burst": (fault_none, {"hot": 1, "writers": 1, "readers_per_region": 100,
                                   "write_rate": 300}),
}


def run(name, duration, ids=200):
    cluster = Cluster()
    try:
        fault, shape = SCENARIOS[name]
        work = Workload(cluster, ids=ids, **shape)
        if not cluster.quiesce():
            log("setup did not quiesce")
            return False
        work.start()
        time.sleep(1)
        fault(cluster, duration)
        work.stop()
        quiet = cluster.quiesce()
        stale = check_consistency(cluster, ids)
        s = work.stats
        log(f"{name}: writes={s.writes} reads={s.reads} fills={s.fills} "
            f"fills_per_write={s.fills / max(s.writes, 1):.2f} errors={s.errors} "
            f"stale_reads={s.stale_reads} max_staleness_ms={s.max_staleness_ms:.0f} "
            f"quiesced={quiet} stale_keys_after_heal={len(stale)} error_kinds={s.error_kinds}")
        for region, user, cached, db in stale[:10]:
            log(f"  STALE {region} user:{user}: cache {cached!r} vs database {db!r}")
        return quiet and not stale and s.writes > 0 and s.reads > 0
    finally:
        cluster.down()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--soak", type=float, metavar="MINUTES",
                        help="run each scenario's workload this long instead of the quick profile")
    args = parser.parse_args()
    duration = args.soak * 60 if args.soak else 6.0
    passed = failed = 0
    for name in args.scenario or list(SCENARIOS):
        ok = run(name, duration)
        log(f"{'PASS' if ok else 'FAIL'} {name}")
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
