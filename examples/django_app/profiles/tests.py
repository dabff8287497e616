"""Runs against a live devcluster (see run_tests.py): region dc2 reads through its own mcproxy and
replica; writes go to the primary in dc1."""
import time
import unittest

from django.core.cache import caches
from django.db import connections
from django.test.utils import CaptureQueriesContext

from .cache import get_profile, profile_key, rename


class CrossRegionInvalidation(unittest.TestCase):
    def test_write_in_dc1_is_seen_in_dc2_without_a_cross_region_read(self):
        before = get_profile(7)
        self.assertEqual(caches["default"].get(profile_key(7)), before)  # cached in dc2 now

        new_name = f"renamed-{time.time_ns()}"
        rename(7, new_name)

        with CaptureQueriesContext(connections["primary"]) as primary_queries:
            deadline = time.monotonic() + 10
            seen = get_profile(7)
            while seen["name"] != new_name and time.monotonic() < deadline:
                time.sleep(0.01)
                seen = get_profile(7)
        self.assertEqual(seen["name"], new_name)
        self.assertEqual(len(primary_queries), 0, "reads must stay in the region")

    def test_get_or_fill_serves_a_hit_without_touching_the_database(self):
        get_profile(8)
        with CaptureQueriesContext(connections["default"]) as local_queries:
            get_profile(8)
        self.assertEqual(len(local_queries), 0)


class StockBackendsThroughMcproxy(unittest.TestCase):
    def check(self, alias):
        c = caches[alias]
        key = f"stock-{alias}-{time.time_ns()}"
        self.assertTrue(c.add(key, {"a": 1}, 60))
        self.assertFalse(c.add(key, {"a": 2}, 60))
        self.assertEqual(c.get(key), {"a": 1})
        c.set(key, "text", 60)
        self.assertEqual(c.get(key), "text")
        c.set_many({key + "x": 1, key + "y": 2}, 60)
        self.assertEqual(c.get_many([key + "x", key + "y", key + "z"]), {key + "x": 1, key + "y": 2})
        c.set(key + "n", 10, 60)
        self.assertEqual(c.incr(key + "n", 5), 15)
        self.assertEqual(c.decr(key + "n", 3), 12)
        self.assertTrue(c.touch(key, 120))
        self.assertTrue(c.delete(key))
        self.assertIsNone(c.get(key))
        self.assertEqual(c.get(key, "default"), "default")

    def test_pymemcache_cache(self):
        self.check("pymemcache")

    def test_pylibmc_cache(self):
        self.check("pylibmc")

    def test_lease_cache_keeps_plain_calls(self):
        self.check("default")
