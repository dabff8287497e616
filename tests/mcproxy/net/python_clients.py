"""Drives mcproxy with pylibmc and pymemcache (run by proxy_integration_test with /usr/bin/python3).

Usage: python_clients.py PROXY_PORT MEMCACHED_PORT_1 MEMCACHED_PORT_2
Exits 0 when every check passes; prints what failed otherwise.
"""
import sys

import pylibmc
from pymemcache.client.base import Client

proxy, m1, m2 = (int(p) for p in sys.argv[1:4])
failures = []


def check(what, got, want):
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


# pylibmc through the proxy: the proxy routes, the client sees one server.
via = pylibmc.Client([f"127.0.0.1:{proxy}"], binary=False)
via.set("py:a", "1")
check("pylibmc get", via.get("py:a"), "1")
via.set_multi({f"py:m{i}": str(i) for i in range(50)})
got = via.get_multi([f"py:m{i}" for i in range(50)])
check("pylibmc get_multi", got, {f"py:m{i}": str(i) for i in range(50)})
check("pylibmc add existing", via.add("py:a", "2"), False)
via.set("py:n", 10)
check("pylibmc incr", via.incr("py:n", 5), 15)
check("pylibmc delete", via.delete("py:a"), True)
check("pylibmc get after delete", via.get("py:a"), None)
check("pylibmc delete never set", via.delete("py:never-set"), False)
via.set("py:big", "x" * 200000)
check("pylibmc big value", via.get("py:big"), "x" * 200000)

# pylibmc straight to memcached with ketama, read back through the proxy, and the reverse.
direct = pylibmc.Client([f"127.0.0.1:{m1}", f"127.0.0.1:{m2}"], binary=False,
                        behaviors={"ketama": True})
for i in range(200):
    direct.set(f"ket:{i}", f"d{i}")
check("direct→proxy", via.get_multi([f"ket:{i}" for i in range(200)]),
      {f"ket:{i}": f"d{i}" for i in range(200)})
for i in range(200):
    via.set(f"ket2:{i}", f"p{i}")
check("proxy→direct", direct.get_multi([f"ket2:{i}" for i in range(200)]),
      {f"ket2:{i}": f"p{i}" for i in range(200)})

# pymemcache: text protocol, gets/cas, noreply.
pc = Client(("127.0.0.1", proxy))
pc.set("pm:a", b"v1", noreply=False)
check("pymemcache get", pc.get("pm:a"), b"v1")
value, cas = pc.gets("pm:a")
check("pymemcache gets", value, b"v1")
check("pymemcache cas ok", pc.cas("pm:a", b"v2", cas, noreply=False), True)
check("pymemcache cas stale", pc.cas("pm:a", b"v3", cas, noreply=False), False)
check("pymemcache after cas", pc.get("pm:a"), b"v2")
pc.set("pm:quiet", b"q", noreply=True)
check("pymemcache noreply then get", pc.get("pm:quiet"), b"q")
check("pymemcache get_many", pc.get_many(["pm:a", "pm:quiet", "pm:none"]),
      {"pm:a": b"v2", "pm:quiet": b"q"})
check("pymemcache touch", pc.touch("pm:a", 100, noreply=False), True)
check("pymemcache version", pc.version().startswith(b"mcproxy"), True)

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("ok")
