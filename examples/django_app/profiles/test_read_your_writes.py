"""Read your own writes from region dc2 (run_tests.py: a live devcluster, this app as a dc2 app
server): a session that renamed a user sees the new name on its next request, although the write
went to the primary in dc1; the middleware, the cache backend and the router at work."""
import time
import unittest

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.test import Client as TestClient
from django.test.utils import CaptureQueriesContext, override_settings

from mccache import Client, django_ryw, format_lsn, parse_lsn, watermark_key
from mccache.django_ryw import SESSION_KEY, ReadYourWritesMiddleware, ryw_scope
from mccache.postgres import insert_lsn

from .models import User

RYW = settings.MCCACHE_READ_YOUR_WRITES
# A source only these tests publish a watermark for, so that what the region's invalidator
# publishes (or not yet) for "default" does not decide the path a test takes.
PROBE = {**RYW, "SOURCES": {**RYW["SOURCES"],
                            "probe": {"PRIMARY": "primary", "LOCAL": "default"}}}


def primary_lsn():
    return parse_lsn(insert_lsn(connections["primary"]))


def new_lsn():
    """An LSN past every one used before: a write, then the position after it."""
    User.objects.filter(pk=29).update(name=f"tick-{time.time_ns()}")
    return primary_lsn()


def replay(action):
    with connections["default"].cursor() as cur:
        cur.execute(f"SELECT pg_wal_replay_{action}()")


class OwnWritesAcrossRequests(unittest.TestCase):
    def test_own_rename_is_seen_by_the_next_request_every_time(self):
        browser = TestClient()
        stale = []
        for i in range(30):
            name = f"ryw-{i}-{time.time_ns()}"
            self.assertEqual(browser.post("/users/21", {"name": name}).status_code, 200)
            seen = browser.get("/users/21").json()["name"]
            if seen != name:
                stale.append((name, seen))
        self.assertEqual(stale, [])

    def test_request_that_wrote_keeps_the_commit_lsn_in_its_session(self):
        browser = TestClient()
        before = primary_lsn()
        browser.post("/users/22", {"name": f"lsn-{time.time_ns()}"})
        after = primary_lsn()
        lsn_text, expires_at = browser.session[SESSION_KEY]["default"]
        self.assertTrue(before < parse_lsn(lsn_text) <= after, (before, lsn_text, after))
        self.assertAlmostEqual(expires_at, time.time() + RYW["TOKEN_TTL"], delta=2.0)

    def test_a_session_that_only_read_carries_no_token(self):
        browser = TestClient()
        browser.get("/users/23")
        self.assertNotIn(SESSION_KEY, browser.session)

    def test_paused_replica_answers_503_and_keeps_the_token_until_it_catches_up(self):
        browser = TestClient()
        name = f"paused-{time.time_ns()}"
        with override_settings(MCCACHE_READ_YOUR_WRITES={**RYW, "REPLICA_WAIT": 0.2}):
            replay("pause")
            try:
                response = browser.post("/users/24", {"name": name})
                self.assertEqual(response.status_code, 503)
                self.assertEqual(response["Retry-After"], "1")
                self.assertEqual(browser.get("/users/24").status_code, 503)
                self.assertIn(SESSION_KEY, browser.session)
            finally:
                replay("resume")
            self.assertEqual(browser.get("/users/24").json()["name"], name)

    def test_configured_cross_region_fallback_reads_the_primary_and_is_counted(self):
        browser = TestClient()
        name = f"cross-{time.time_ns()}"
        before = django_ryw.stats.fallbacks["cross_region"]
        with override_settings(MCCACHE_READ_YOUR_WRITES={**RYW, "REPLICA_WAIT": 0.2,
                                                         "REPLICA_FALLBACK": "primary"}):
            replay("pause")
            try:
                self.assertEqual(browser.post("/users/25", {"name": name}).json()["name"], name)
            finally:
                replay("resume")
        self.assertGreater(django_ryw.stats.fallbacks["cross_region"], before)


class CacheBackendWithAToken(unittest.TestCase):
    def setUp(self):
        probe = override_settings(MCCACHE_READ_YOUR_WRITES=PROBE)
        probe.enable()
        self.addCleanup(probe.disable)
        self.cache = caches["default"]
        self.proxy = Client(settings.CACHES["default"]["LOCATION"])
        self.key = f"probe:{time.time_ns()}"
        self.cache.get_or_fill(self.key, lambda: "cached", timeout=60)

    def publish(self, lsn):
        self.proxy.set(watermark_key("probe"), format_lsn(lsn))

    def test_caught_up_region_serves_the_cache(self):
        lsn = new_lsn()
        self.publish(lsn)
        value = self.cache.get_or_fill(self.key, lambda: self.fail("filled"), min_lsn=lsn,
                                       source="probe")
        self.assertEqual(value, "cached")

    def test_region_behind_reads_the_replayed_database_and_leaves_the_cache_alone(self):
        lsn = new_lsn()
        self.publish(lsn - 1)
        before = django_ryw.stats.fallbacks["replica"]
        value = self.cache.get_or_fill(self.key, lambda: "from the database", min_lsn=lsn,
                                       source="probe")
        self.assertEqual(value, "from the database")
        self.assertEqual(django_ryw.stats.fallbacks["replica"], before + 1)
        self.assertEqual(self.cache.get(self.key), "cached")  # not overwritten by the fallback

    def test_plain_get_answers_a_miss_while_the_region_is_behind(self):
        lsn = new_lsn()
        self.publish(lsn - 1)
        with ryw_scope({"probe": lsn}):
            self.assertIsNone(self.cache.get(self.key))
            self.assertEqual(self.cache.get_many([self.key]), {})
            self.publish(lsn)
            self.assertEqual(self.cache.get(self.key), "cached")


class WritesAreTracked(unittest.TestCase):
    def lsn_reads(self, queries):
        return sum("pg_current_wal_insert_lsn" in q["sql"] for q in queries.captured_queries)

    def test_a_transaction_is_recorded_once_after_its_commit(self):
        before = primary_lsn()
        with ryw_scope() as state, CaptureQueriesContext(connections["primary"]) as queries:
            with transaction.atomic(using="primary"):
                User.objects.filter(pk=26).update(name=f"a-{time.time_ns()}")
                User.objects.filter(pk=27).update(name=f"b-{time.time_ns()}")
                self.assertEqual(state.written, {})  # not before the commit
        self.assertEqual(self.lsn_reads(queries), 1)
        self.assertTrue(before < state.written["default"] <= primary_lsn())

    def test_a_rolled_back_transaction_records_nothing(self):
        with ryw_scope() as state:
            try:
                with transaction.atomic(using="primary"):
                    User.objects.filter(pk=26).update(name="never")
                    raise RuntimeError("rolled back")
            except RuntimeError:
                pass
        self.assertEqual(state.written, {})

    def test_reads_inside_a_scope_honour_its_own_writes(self):
        with ryw_scope() as state:
            User.objects.filter(pk=28).update(name=f"c-{time.time_ns()}")
            self.assertEqual(django_ryw.live_tokens(), state.written)


class Configuration(unittest.TestCase):
    def test_middleware_without_sessions_names_the_fix(self):
        middleware = ReadYourWritesMiddleware(lambda request: None)
        with self.assertRaisesRegex(ImproperlyConfigured, "SessionMiddleware"):
            middleware(type("Request", (), {})())

    def test_unknown_alias_is_refused_naming_the_field(self):
        bad = {"SOURCES": {"default": {"PRIMARY": "nope", "LOCAL": "default"}}}
        with override_settings(MCCACHE_READ_YOUR_WRITES=bad):
            with self.assertRaisesRegex(ImproperlyConfigured,
                                        r"\['SOURCES'\]\['default'\]\['PRIMARY'\]: 'nope'"):
                django_ryw.config()

    def test_fallback_choices_are_checked(self):
        with override_settings(MCCACHE_READ_YOUR_WRITES={**RYW, "REPLICA_FALLBACK": "dc1"}):
            with self.assertRaisesRegex(ImproperlyConfigured, "REPLICA_FALLBACK"):
                django_ryw.config()
