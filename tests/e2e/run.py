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


def fault_none(cluster, duration, work):
    time.sleep(duration)


def fault_kill_invalidators(cluster, duration, work):
    for region in cluster.endpoints:
        cluster.kill9(f"{region['name']}-invalidator")
    time.sleep(duration / 2)
    for region in cluster.endpoints:
        cluster.restart(f"{region['name']}-invalidator")
    time.sleep(duration / 2)


def fault_kill_memcached(cluster, duration, work):
    name = f"{cluster.endpoints[1]['name']}-memcached1"
    cluster.kill9(name)
    time.sleep(duration / 2)
    cluster.restart(name)
    time.sleep(duration / 2)


def fault_kill_mcproxy(cluster, duration, work):
    name = f"{cluster.endpoints[1]['name']}-mcproxy"
    cluster.kill9(name)
    time.sleep(duration / 3)
    cluster.restart(name)
    time.sleep(2 * duration / 3)


def fault_pause_replay(cluster, duration, work):
    replica = cluster.pg["replicas"][0]
    cluster.sql(replica, "SELECT pg_wal_replay_pause()")
    log("fault: replica replay paused")
    time.sleep(duration / 2)
    cluster.sql(replica, "SELECT pg_wal_replay_resume()")
    log("heal: replica replay resumed")
    time.sleep(duration / 2)


def fault_restart_primary(cluster, duration, work):
    time.sleep(duration / 3)
    cluster.pg_ctl("primary", "restart")
    time.sleep(2 * duration / 3)


def fault_partition(cluster, duration, work):
    """dc2's invalidator alone (mcproxy and the readers keep direct connections): latency and
    emulated loss on its links to memcached and Postgres; then a partition from its caches while
    the WAL still flows, widened to Postgres too, and ended by resetting every held connection, as
    a peer that gave up would; then healthy again. Returns the figures of each phase."""
    region = cluster.endpoints[1]
    name = region["name"]
    relay = cluster.relay(region)
    degraded, caches_only, everything, after_heal = (
        max(4.0, 0.25 * duration), max(3.0, 0.2 * duration), max(4.0, 0.25 * duration),
        max(4.0, 0.3 * duration))
    before = cluster.invalidator_metrics(region)
    phases = [work.window()]
    relay.set("loss", delay_ms=20, jitter_ms=15, loss=0.05, stall_ms=200)
    log(f"fault: {name} invalidator links +20±15 ms per chunk, 5 % of chunks stall ≈200 ms, "
        f"for {degraded:.0f} s")
    time.sleep(degraded)
    phases.append(work.window())
    relay.set("pass")
    relay.set("blackhole", links=["memcached*"])
    log(f"fault: {name} invalidator partitioned from its memcached servers for {caches_only:.0f} s")
    time.sleep(caches_only)
    relay.set("blackhole")
    log(f"fault: {name} invalidator partitioned from its memcached and Postgres for "
        f"{everything:.0f} s")
    time.sleep(everything)
    relay.set("reset")
    time.sleep(0.5)
    relay.set("pass")
    heal_lsn = cluster.sql(cluster.pg["primary"], "SELECT pg_current_wal_insert_lsn()")[0][0]
    healed_at = time.monotonic()
    log("heal: connections reset, links pass again")
    caught_up_ms = None
    slot = f"mcinval_{name}"
    while time.monotonic() < healed_at + after_heal:
        if caught_up_ms is None and cluster.sql(
                cluster.pg["primary"], "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM "
                "pg_replication_slots WHERE slot_name = %s", (heal_lsn, slot))[0][0]:
            caught_up_ms = (time.monotonic() - healed_at) * 1000
        time.sleep(0.05)
    # The partition's phase ends `after_heal` seconds after the heal, well past the catch-up: the
    # stale reads served while the backlog drains belong to the fault.
    phases.append(work.window())
    after = cluster.invalidator_metrics(region)
    links = relay.status()

    def phase(label, i):
        (reads0, stale0, _), (reads1, stale1, peaks) = phases[i - 1], phases[i]
        return {f"{label}_reads": reads1 - reads0,
                f"{label}_{name}_stale_reads": stale1.get(name, 0) - stale0.get(name, 0),
                f"{label}_{name}_max_staleness_ms": round(peaks.get(name, 0))}

    def grew(metric):
        return int(after.get(metric, 0) - before.get(metric, 0))

    return {
        **phase("degraded", 1),
        **phase("partitioned", 2),  # until caught up after the heal
        f"{name}_caught_up_ms_after_heal":
            "never" if caught_up_ms is None else f"{caught_up_ms:.0f}",
        "invalidator_retries": grew("mcinval_retries_total"),
        "invalidator_reconnects": grew("mcinval_replication_reconnects_total"),
        "relay_connections": sum(v["accepted"] for k, v in links.items() if k != "metrics"),
        "relay_resets": sum(v["resets"] for v in links.values()),
        "relay_stalls": sum(v["stalls"] for v in links.values()),
    }


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
    "partition": (fault_partition, {}),
}
# Scenarios whose cluster runs these regions' invalidators behind fault relays.
RELAYED = {"partition": ["dc2"]}


def run(name, duration, ids=200):
    cluster = Cluster(relay_invalidator=RELAYED.get(name, ()))
    try:
        fault, shape = SCENARIOS[name]
        work = Workload(cluster, ids=ids, **shape)
        if not cluster.quiesce():
            log("setup did not quiesce")
            return False
        work.start()
        time.sleep(1)
        figures = fault(cluster, duration, work) or {}
        work.stop()
        quiet = cluster.quiesce()
        stale = check_consistency(cluster, ids)
        s = work.stats
        log(f"{name}: writes={s.writes} reads={s.reads} fills={s.fills} "
            f"fills_per_write={s.fills / max(s.writes, 1):.2f} errors={s.errors} "
            f"stale_reads={s.stale_reads} max_staleness_ms={s.max_staleness_ms:.0f} "
            f"quiesced={quiet} stale_keys_after_heal={len(stale)} error_kinds={s.error_kinds}")
        if figures:
            log(f"{name}: " + " ".join(f"{k}={v}" for k, v in figures.items()))
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
