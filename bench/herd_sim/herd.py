#!/usr/bin/env python3
"""bench/herd: a thundering herd on one hot key, with plain get/set vs lease-get/lease-set.

Starts memcached (-t 2) and, per mode, an mcproxy on free loopback ports, and runs
bench/herd_driver (C++, one thread and one connection per reader): N readers read one hot key in
a loop while a writer "updates the database" (bumps a row version) and deletes the key through
mcproxy every T ms. A miss is filled from a simulated database with a fixed latency per query.

  plain        get; on a miss: query the DB, set.                    (leases.delete_mode = delete)
  lease        lease-get; token > 1: query the DB, lease-set; hot miss (token 1): sleep
               --retry-ms, lease-get again (after 1 s: read the DB).  (delete_mode = delete)
  lease-stale  as lease, but a hot miss that carries the stale value is served at once.
                                                                  (delete_mode = invalidate)

Printed per mode: reads, DB fills, invalidations, fills per invalidation (the cold key's first
fill not counted), the most fills in one invalidation window, read latency p50/p99 (first request
of a read to having a value, ms), stale values served, and stale sets: checks just before each
invalidation that found the cache holding an older row than the database (only a racing plain
set can cause one).

  bench/herd [--build DIR] [--readers 200] [--interval-ms 100] [--seconds 4] [--db-ms 2]
             [--retry-ms 2] [--modes plain,lease,lease-stale] [--threads 2]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def start_proxy(bin_dir, mc_port, delete_mode, tmp, threads):
    port = free_port()
    cfg = os.path.join(tmp, f"mcproxy_{delete_mode}.json")
    with open(cfg, "w") as f:
        json.dump({"datacenter": "bench", "log": {"level": "warn"},
                   "pool": {"servers": [f"127.0.0.1:{mc_port}"]},
                   "mcproxy": {"listen": f"127.0.0.1:{port}",
                               "metrics_listen": f"127.0.0.1:{free_port()}",
                               "threads": threads,
                               "leases": {"lease_ttl_s": 2, "stale_ttl_s": 10,
                                          "delete_mode": delete_mode}}}, f)
    p = subprocess.Popen([os.path.join(bin_dir, "mcproxy"), "--config", cfg])
    wait_port(port)
    time.sleep(0.3)  # every backend connection reads the server's lease epoch first
    return p, port


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--readers", type=int, default=200)
    ap.add_argument("--interval-ms", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--db-ms", type=float, default=2)
    ap.add_argument("--retry-ms", type=float, default=2)
    ap.add_argument("--threads", type=int, default=2, help="mcproxy threads")
    ap.add_argument("--modes", default="plain,lease,lease-stale")
    args = ap.parse_args()

    subprocess.run(["cmake", "--build", args.build, "--target", "mcproxy", "herd_driver"],
                   check=True, stdout=subprocess.DEVNULL)
    bin_dir = os.path.join(args.build, "bin")
    tmp = tempfile.mkdtemp(prefix="bench_herd_")
    procs = []
    results = []
    try:
        mc_port = free_port()
        user = ["-u", "root"] if os.geteuid() == 0 else []
        procs.append(subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(mc_port), "-U",
                                       "0", "-t", "2", "-m", "64", "-c", "4096"] + user))
        wait_port(mc_port)
        for mode in args.modes.split(","):
            proxy, port = start_proxy(bin_dir, mc_port,
                                      "invalidate" if mode == "lease-stale" else "delete", tmp,
                                      args.threads)
            procs.append(proxy)
            out = subprocess.run(
                [os.path.join(bin_dir, "herd_driver"), "--port", str(port), "--mode", mode,
                 "--readers", str(args.readers), "--interval-ms", str(args.interval_ms),
                 "--seconds", str(args.seconds), "--db-ms", str(args.db_ms),
                 "--retry-ms", str(args.retry_ms), "--key", f"herd:{mode}"],
                check=True, capture_output=True, text=True, timeout=args.seconds + 60)
            results.append(json.loads(out.stdout))
            proxy.terminate()
            proxy.wait(timeout=10)
            procs.remove(proxy)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()

    print(f"herd: {args.readers} readers, 1 hot key deleted every {args.interval_ms:g} ms for "
          f"{args.seconds:g} s, DB query {args.db_ms:g} ms, hot-miss retry {args.retry_ms:g} ms")
    cols = ["mode", "reads", "fills", "invalidations", "fills_per_invalidation",
            "peak_fills_in_window", "p50_ms", "p99_ms", "stale_served", "stale_sets", "errors"]
    print(" | ".join(cols))
    for r in results:
        print(" | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols))
    base = next((r for r in results if r["mode"] == "plain"), None)
    for r in results:
        if base is None or r is base:
            continue
        ratio = base["fills_per_invalidation"] / max(1e-9, r["fills_per_invalidation"])
        print(f"{r['mode']}: {ratio:.1f}x fewer DB fills per invalidation than plain "
              f"({r['fills_per_invalidation']:.2f} vs {base['fills_per_invalidation']:.2f}); "
              f"read p50 {r['p50_ms']:.2f} vs {base['p50_ms']:.2f} ms, "
              f"p99 {r['p99_ms']:.2f} vs {base['p99_ms']:.2f} ms")
    ok = all(r["fills_per_invalidation"] <= 1.0 + 1e-9 for r in results if r["mode"] != "plain")
    print("goal (<= 1 DB fill per invalidation with leases):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
