#!/usr/bin/python3
"""Live demo on a running devcluster: cache a row in region 2, update it in region 1, watch region 2's
key disappear once (and only once) region 2's replica has the new row."""
import json
import socket
import sys
import time

import psycopg2


def mc(endpoint, request):
    host, port = endpoint.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2) as s:
        s.sendall(request.encode())
        data = b""
        while not (data.endswith(b"END\r\n") or data.endswith(b"STORED\r\n")
                   or b"ERROR" in data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode()


def cached(endpoint, key):
    reply = mc(endpoint, f"get {key}\r\n")
    lines = reply.split("\r\n")
    return lines[1] if lines[0].startswith("VALUE") else None


def main():
    endpoints = json.load(open(sys.argv[1]))["regions"]
    dc1, dc2 = endpoints[0], endpoints[1]
    key, user_id = "user:1", 1
    replica = psycopg2.connect(dc2["postgres"])
    replica.autocommit = True
    primary = psycopg2.connect(dc1["postgres"])
    primary.autocommit = True

    def replica_name():
        with replica.cursor() as cur:
            cur.execute("SELECT name FROM users WHERE id = %s", (user_id,))
            return cur.fetchone()[0]

    name = replica_name()
    mc(dc2["proxy"], f"set {key} 0 0 {len(name)}\r\n{name}\r\n")
    print(f"[dc2] cache filled from the dc2 replica: {key} = {cached(dc2['proxy'], key)!r}")

    new_name = f"Renamed at {time.strftime('%H:%M:%S')}"
    with primary.cursor() as cur:
        cur.execute("UPDATE users SET name = %s WHERE id = %s", (new_name, user_id))
    t0 = time.monotonic()
    print(f"[dc1] UPDATE users SET name = {new_name!r} committed on the primary")

    deadline = t0 + 10
    while time.monotonic() < deadline and cached(dc2["proxy"], key) is not None:
        time.sleep(0.001)
    elapsed_ms = (time.monotonic() - t0) * 1000
    if cached(dc2["proxy"], key) is not None:
        print(f"[dc2] FAILED: {key} is still cached after 10 s")
        sys.exit(1)
    seen = replica_name()
    print(f"[dc2] {key} invalidated {elapsed_ms:.1f} ms after the commit")
    print(f"[dc2] the dc2 replica already says name = {seen!r}, so a refill is fresh")
    if seen != new_name:
        print("[dc2] FAILED: the key was invalidated before the replica replayed the write")
        sys.exit(1)


if __name__ == "__main__":
    main()
