#!/usr/bin/python3
"""The Python lease client (python/mccache) against a real memcached behind the real mcproxy."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from mccache import Client, ServerError  # noqa: E402

BIN = os.environ.get("MCCACHE_BIN", os.path.join(ROOT, "build", "bin"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


class ProxyFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.procs = []
        mc_port = free_port()
        argv = ["memcached", "-l", "127.0.0.1", "-p", str(mc_port), "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        cls.procs.append(subprocess.Popen(argv))
        wait_port(mc_port)
        cls.proxy = f"127.0.0.1:{free_port()}"
        cls.config = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"datacenter": "dc1", "pool": {"servers": [f"127.0.0.1:{mc_port}"]},
                   "mcproxy": {"listen": cls.proxy, "leases": {"lease_ttl_s": 2}}}, cls.config)
        cls.config.close()
        cls.procs.append(subprocess.Popen([os.path.join(BIN, "mcproxy"), "--config",
                                           cls.config.name], stderr=subprocess.DEVNULL))
        wait_port(int(cls.proxy.rsplit(":", 1)[1]))

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):  # the proxy first, then its memcached
            p.terminate()
            p.wait(timeout=10)
        os.unlink(cls.config.name)

    def key(self, name):
        return f"{self.id().rsplit('.', 1)[-1]}:{name}:{time.time_ns()}"


class ClientTest(ProxyFixture):
    def test_plain_set_get_delete_round_trip(self):
        c, k = Client(self.proxy), self.key("k")
        self.assertIsNone(c.get(k))
        self.assertTrue(c.set(k, b"v1", ttl=60))
        self.assertEqual(c.get(k), b"v1")
        self.assertEqual(c.get_multi([k, k + "x"]), {k: b"v1"})
        self.assertTrue(c.delete(k))
        self.assertIsNone(c.get(k))

    def test_lease_get_on_miss_grants_one_token_then_hot_misses(self):
        a, b, k = Client(self.proxy), Client(self.proxy), self.key("k")
        first = a.lease_get(k)
        self.assertTrue(first.granted)
        self.assertTrue(b.lease_get(k).hot_miss)
        self.assertEqual(a.lease_set(k, first.token, b"filled", 60), "STORED")
        hit = b.lease_get(k)
        self.assertTrue(hit.hit)
        self.assertEqual(hit.value, b"filled")

    def test_lease_set_after_delete_is_refused(self):
        a, b, k = Client(self.proxy), Client(self.proxy), self.key("k")
        lease = a.lease_get(k)
        self.assertTrue(lease.granted)
        b.delete(k)  # a writer changed the row and invalidated the key
        self.assertEqual(a.lease_set(k, lease.token, b"old", 60), "NOT_STORED")
        self.assertNotEqual(a.get(k), b"old")

    def test_get_or_fill_under_concurrency_fills_once(self):
        k = self.key("hot")
        fills = []
        results = []

        def reader():
            c = Client(self.proxy)

            def fill():
                fills.append(1)
                time.sleep(0.05)  # a slow database
                return b"value"

            results.append(c.get_or_fill(k, fill, ttl=60, max_wait=5))

        threads = [threading.Thread(target=reader) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [b"value"] * 20)
        self.assertEqual(len(fills), 1)

    def test_get_or_fill_accepts_stale_value_when_asked(self):
        c, k = Client(self.proxy), self.key("k")
        c.set(k, b"old", ttl=60)
        c.delete(k)  # invalidate mode keeps a stale copy
        holder = Client(self.proxy).lease_get(k)  # someone else refills
        self.assertTrue(holder.granted)
        value = c.get_or_fill(k, lambda: b"fresh", ttl=60, accept_stale=True)
        self.assertEqual(value, b"old")

    def test_invalid_key_is_refused_locally(self):
        with self.assertRaises(ValueError):
            Client(self.proxy).get("has space")
        with self.assertRaises(ValueError):
            Client(self.proxy).get("k" * 251)

    def test_server_error_is_raised_not_swallowed(self):
        c = Client(self.proxy)
        with self.assertRaises(ServerError):
            c._call(b"flush_all\r\n", lambda: c._raise_if_error(c._readline()))
        self.assertTrue(c.set(self.key("after"), b"x"))  # the connection is still usable


if __name__ == "__main__":
    unittest.main(verbosity=2)
