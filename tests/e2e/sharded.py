#!/usr/bin/python3
"""Sharded Postgres end to end: `scripts/devcluster up --shards 2`, then a row change on each
shard's primary must invalidate its key in every region, after that region's replica of that
shard has the change (a reader refilling right after the miss reads the new row).

  /usr/bin/python3 tests/e2e/sharded.py        exit 0 when every check holds
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVCLUSTER = os.path.join(ROOT, "scripts", "devcluster")


def call(addr, line):
    """One request; the reply up to END (get) or its first line (anything else)."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(line.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data.decode()
            data += chunk
            if data.endswith(b"END\r\n") or (data.endswith(b"\r\n") and
                                              not data.startswith(b"VALUE")):
                return data.decode()


def store(addr, key, value, timeout=10.0):
    """set through mcproxy, retried while it is still learning its backends (SERVER_ERROR)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = call(addr, f"set {key} 0 0 {len(value)}\r\n{value}\r\n")
        if reply == "STORED\r\n" or time.monotonic() > deadline:
            return reply
        time.sleep(0.05)


def main():
    d = tempfile.mkdtemp(prefix="mccache-sharded-")
    os.chmod(d, 0o755)  # the postgres user must reach the data directories
    failures = []
    try:
        subprocess.run([DEVCLUSTER, "up", "--dir", d, "--shards", "2"], check=True)
        with open(os.path.join(d, "endpoints.json")) as f:
            regions = json.load(f)["regions"]
        for shard in range(2):
            user_id = 10 + shard
            key = f"user:{user_id}"
            for r in regions:
                reply = store(r["proxy"], key, "old")
                assert reply == "STORED\r\n", f"{r['name']}: set {key}: {reply}"
            primary = regions[0]["shards"][shard]["primary_postgres"]
            t0 = time.monotonic()
            with psycopg2.connect(primary) as conn, conn.cursor() as cur:
                cur.execute("UPDATE users SET name = %s WHERE id = %s",
                            (f"shard{shard + 1} edit", user_id))
            for r in regions:
                deadline = time.monotonic() + 15
                while "VALUE" in call(r["proxy"], f"get {key}\r\n"):
                    if time.monotonic() > deadline:
                        failures.append(f"{r['name']}: {key} of shard{shard + 1} not invalidated")
                        break
                    time.sleep(0.01)
                else:
                    took = (time.monotonic() - t0) * 1000
                    local = r["shards"][shard]["postgres"]
                    with psycopg2.connect(local) as conn, conn.cursor() as cur:
                        cur.execute("SELECT name FROM users WHERE id = %s", (user_id,))
                        name = cur.fetchone()[0]
                    ok = name == f"shard{shard + 1} edit"
                    print(f"{r['name']}: shard{shard + 1} {key} invalidated after {took:.1f} ms; "
                          f"local database shows the change: {ok}")
                    if not ok:
                        failures.append(f"{r['name']}: invalidated before its replica of "
                                        f"shard{shard + 1} had the row")
        # The other shard's row is untouched by a change on this one: its key stays cached.
        for r in regions:
            store(r["proxy"], "user:500", "kep")
        with psycopg2.connect(regions[0]["shards"][0]["primary_postgres"]) as conn:
            with conn.cursor() as cur:
                cur.execute("UPDATE users SET name = 'only shard1' WHERE id = 501")
        time.sleep(1.0)
        for r in regions:
            if "VALUE" not in call(r["proxy"], "get user:500\r\n"):
                failures.append(f"{r['name']}: user:500 was invalidated by an unrelated change")
    finally:
        subprocess.run([DEVCLUSTER, "down", "--dir", d])
        shutil.rmtree(d, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print("sharded: " + ("OK" if not failures else f"{len(failures)} failure(s)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
