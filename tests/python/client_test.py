#!/usr/bin/python3
"""The Python lease client (python/mccache) against a real memcached behind the real mcproxy."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import ProxyFixture  # noqa: E402  (also puts python/ on the path)
from mccache import Client, ServerError  # noqa: E402


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
