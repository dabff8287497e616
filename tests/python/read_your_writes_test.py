#!/usr/bin/python3
"""Read-your-writes in the Python client against real servers: memcached behind mcproxy, where
the test writes the region watermark the way the invalidator does (a plain `set` of
mccache:applied_lsn:<source>), and a PostgreSQL primary + streaming replica for the fallback."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import PgCluster, ProxyFixture, free_port, start_mcproxy  # noqa: E402
import psycopg2  # noqa: E402
from mccache import (Client, CrossRegionRead, RegionBehind, ReplicaBehind,  # noqa: E402
                     ReplicaFallback, format_lsn, parse_lsn, watermark_key)
from mccache.postgres import insert_lsn, wait_for_replay  # noqa: E402


class TokenReads(ProxyFixture):
    def setUp(self):
        self.source = self.key("src").replace(":", "-")
        self.client = Client(self.proxy)
        self.writer = Client(self.proxy)  # plays the invalidator

    def publish(self, lsn):
        self.assertTrue(self.writer.set(watermark_key(self.source), format_lsn(lsn)))

    def cache(self, key, value):
        lease = self.writer.lease_get(key)
        self.assertTrue(lease.granted)
        self.assertEqual(self.writer.lease_set(key, lease.token, value, 60), "STORED")

    def read(self, key, lsn, fill=lambda: b"filled", **kw):
        kw.setdefault("watermark_wait", 0.05)
        return self.client.get_or_fill(key, fill, 60, min_lsn=lsn, source=self.source, **kw)

    def test_caught_up_region_serves_the_cached_value(self):
        k = self.key("k")
        self.cache(k, b"cached")
        self.publish(0x2000)
        self.assertEqual(self.read(k, "0/2000", fill=lambda: self.fail("filled")), b"cached")
        s = self.client.ryw_stats.as_dict()
        self.assertEqual((s["token_reads"], s["at_once"], s["waits"], s["timeouts"]), (1, 1, 0, 0))

    def test_lagging_region_is_waited_for_then_the_invalidated_key_is_read_again(self):
        k = self.key("k")
        self.cache(k, b"old")
        self.publish(0x1000)

        def invalidator():
            time.sleep(0.03)
            self.writer.delete(k)   # the write's key, acknowledged ...
            self.publish(0x2000)    # ... before the watermark passes it

        t = threading.Thread(target=invalidator)
        t.start()
        try:
            self.assertEqual(self.read(k, 0x1800, fill=lambda: b"new", watermark_wait=5.0), b"new")
        finally:
            t.join()
        self.assertEqual(self.client.get(k), b"new")  # filled under a lease as usual
        s = self.client.ryw_stats.as_dict()
        self.assertEqual((s["waits"], s["timeouts"]), (1, 0))
        self.assertGreaterEqual(s["wait_seconds"], 0.03)

    def test_absent_watermark_times_out_to_the_fallback_which_caches_nothing(self):
        k = self.key("k")
        started = time.monotonic()
        value = self.read(k, "0/10", fallback=lambda: b"from the replica")
        self.assertGreaterEqual(time.monotonic() - started, 0.05)
        self.assertEqual(value, b"from the replica")
        self.assertIsNone(self.client.get(k))
        self.assertTrue(self.writer.lease_get(k).granted)  # no lease was taken either
        s = self.client.ryw_stats.as_dict()
        self.assertEqual((s["timeouts"], s["fallbacks"]["caller"]), (1, 1))

    def test_unparsable_watermark_is_unknown_not_caught_up(self):
        k = self.key("k")
        self.cache(k, b"old")
        for garbage in ["FFFFFFFF", "0x10/0", "-"]:
            self.writer.set(watermark_key(self.source), garbage)
            self.assertEqual(self.read(k, 1, fallback=lambda: b"fallback"), b"fallback")

    def test_without_a_fallback_a_lagging_region_raises(self):
        self.publish(0x1000)
        with self.assertRaises(RegionBehind) as caught:
            self.read(self.key("k"), 0x1001, watermark_wait=0.02)
        self.assertEqual(caught.exception.watermark, 0x1000)
        self.assertEqual(self.client.ryw_stats.fallbacks["raise"], 1)

    def test_stale_copy_is_never_served_to_a_token_read(self):
        k = self.key("k")
        self.cache(k, b"old")
        self.writer.delete(k)                       # invalidated: a stale copy stays
        holder = Client(self.proxy).lease_get(k)    # someone else is refilling
        self.assertTrue(holder.granted)
        self.publish(0x3000)
        self.assertEqual(Client(self.proxy).get_or_fill(k, lambda: b"x", accept_stale=True),
                         b"old")                     # a reader without a token may take it
        self.assertEqual(self.read(k, 0x3000, fill=lambda: b"fresh", accept_stale=True,
                                   max_wait=0.1), b"fresh")

    def test_an_lsn_once_seen_applied_costs_no_watermark_read(self):
        k = self.key("k")
        self.cache(k, b"cached")
        self.publish(0x5000)
        self.read(k, 0x4000)
        self.writer.delete(watermark_key(self.source))  # e.g. memcached restarted
        self.assertEqual(self.read(k, 0x5000, fallback=lambda: self.fail("fell back")), b"cached")
        self.assertEqual(self.client.ryw_stats.known_caught_up, 1)
        self.assertEqual(self.read(k, 0x5001, fallback=lambda: b"later write"), b"later write")

    def test_reads_without_a_token_never_read_the_watermark(self):
        k = self.key("k")
        self.cache(k, b"cached")
        self.assertEqual(self.client.get_or_fill(k, lambda: b"x"), b"cached")
        self.assertEqual(self.client.ryw_stats.as_dict()["token_reads"], 0)


class WatermarkOnADownServer(unittest.TestCase):
    def test_a_watermark_whose_server_is_down_is_unknown(self):
        procs, configs = [], []
        try:
            proxy = start_mcproxy(procs, [f"127.0.0.1:{free_port()}"], configs)  # nobody there
            client = Client(proxy)
            self.assertIsNone(client.watermark("default"))
            with self.assertRaises(RegionBehind):
                client.get_or_fill("k", lambda: b"x", min_lsn=1, watermark_wait=0.01)
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=10)
            for path in configs:
                os.unlink(path)

    def test_an_unreachable_proxy_leaves_the_token_read_to_its_fallback(self):
        client = Client(f"127.0.0.1:{free_port()}", timeout=0.5)  # nobody listens
        self.assertIsNone(client.watermark())
        self.assertEqual(client.get_or_fill("k", lambda: self.fail("cache used"), min_lsn=1,
                                            watermark_wait=0.01, fallback=lambda: b"database"),
                         b"database")


class ReplicaFallbacks(ProxyFixture):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:  # unittest skips tearDownClass when setUpClass fails: stop what started here
            cls.pg = PgCluster()
            cls.primary = cls.connect(cls.pg.primary)
            with cls.primary.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS profiles (id int PRIMARY KEY, name text)")
                cur.execute("INSERT INTO profiles VALUES (1, 'v0') ON CONFLICT DO NOTHING")
            cls.replica = cls.connect(cls.pg.replica)
            if not wait_for_replay(cls.replica, parse_lsn(insert_lsn(cls.primary)), 30):
                raise RuntimeError("the replica did not replay the schema")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for conn in ("primary", "replica"):
            if hasattr(cls, conn):
                getattr(cls, conn).close()
        if hasattr(cls, "pg"):
            cls.pg.stop()
        super().tearDownClass()

    @staticmethod
    def connect(dsn):
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        return conn

    def write(self, name):
        """Commits on the primary; returns the session token L."""
        with self.primary.cursor() as cur:
            cur.execute("UPDATE profiles SET name = %s WHERE id = 1", (name,))
        return insert_lsn(self.primary)

    def name_on(self, conn):
        def read():
            with conn.cursor() as cur:
                cur.execute("SELECT name FROM profiles WHERE id = 1")
                return cur.fetchone()[0].encode()
        return read

    def test_fallback_reads_the_replica_once_it_has_replayed_the_write(self):
        k = self.key("profile")
        lsn = self.write("after-" + k)
        client = Client(self.proxy)
        value = client.get_or_fill(k, lambda: self.fail("filled the cache"), 60, min_lsn=lsn,
                                   fallback=ReplicaFallback(self.replica,
                                                            self.name_on(self.replica)))
        self.assertEqual(value, ("after-" + k).encode())
        self.assertIsNone(client.get(k))
        self.assertEqual(client.ryw_stats.fallbacks["replica"], 1)

    def test_paused_replica_raises_or_takes_the_configured_cross_region_read(self):
        k = self.key("profile")
        with self.replica.cursor() as cur:
            cur.execute("SELECT pg_wal_replay_pause()")
        try:
            lsn = self.write("paused-" + k)
            client = Client(self.proxy)
            replica_only = ReplicaFallback(self.replica, self.name_on(self.replica), max_wait=0.1)
            with self.assertRaises(ReplicaBehind):
                client.get_or_fill(k, lambda: b"x", min_lsn=lsn, watermark_wait=0.01,
                                   fallback=replica_only)
            self.assertEqual(client.ryw_stats.replica_timeouts, 1)
            then_primary = ReplicaFallback(self.replica, self.name_on(self.replica), max_wait=0.1,
                                           otherwise=CrossRegionRead(self.name_on(self.primary)))
            value = client.get_or_fill(k, lambda: b"x", min_lsn=lsn, watermark_wait=0.01,
                                       fallback=then_primary)
            self.assertEqual(value, ("paused-" + k).encode())
            self.assertEqual(client.ryw_stats.fallbacks["cross_region"], 1)
        finally:
            with self.replica.cursor() as cur:
                cur.execute("SELECT pg_wal_replay_resume()")

    def test_insert_lsn_covers_the_commit_even_with_asynchronous_commit(self):
        # Replayed up to L must mean the row is visible on the replica. pg_current_wal_lsn()
        # (the write position) can trail an asynchronous commit; the insert position cannot.
        # (Each round waits for the WAL writer's flush, up to wal_writer_delay = 200 ms.)
        with self.primary.cursor() as cur:
            cur.execute("SET synchronous_commit = off")
        try:
            for i in range(10):
                lsn = parse_lsn(self.write(f"async-{i}"))
                self.assertTrue(wait_for_replay(self.replica, lsn, 10))
                self.assertEqual(self.name_on(self.replica)(), f"async-{i}".encode())
        finally:
            with self.primary.cursor() as cur:
                cur.execute("SET synchronous_commit = on")

    def test_primary_counts_as_replayed(self):
        self.assertTrue(wait_for_replay(self.primary, (1 << 64) - 1, 0))


if __name__ == "__main__":
    unittest.main(verbosity=2)
