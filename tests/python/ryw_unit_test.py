#!/usr/bin/python3
"""Pure read-your-writes logic, no sockets and no real time: LSN text, the watermark wait (fake
clock), the session token, the fallback choice and the counters."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "python"))
from mccache import session_token  # noqa: E402
from mccache.fallback import CrossRegionRead, RegionBehind, take_fallback  # noqa: E402
from mccache.lsn import as_lsn, format_lsn, parse_lsn, reached, watermark_from_reply  # noqa: E402
from mccache.postgres import has_replayed  # noqa: E402
from mccache.ryw_stats import ReadYourWritesStats  # noqa: E402
from mccache.watermark import WaitSchedule, wait_for_watermark, watermark_key  # noqa: E402


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 9))
        self.now += seconds


class Lsn(unittest.TestCase):
    def test_parse_reads_both_hex_halves(self):
        self.assertEqual(parse_lsn("0/16B3748"), 0x16B3748)
        self.assertEqual(parse_lsn("16/B374D848"), (0x16 << 32) | 0xB374D848)
        self.assertEqual(parse_lsn(b"0/16b3748"), 0x16B3748)
        self.assertEqual(parse_lsn("FFFFFFFF/FFFFFFFF"), (1 << 64) - 1)

    def test_parse_refuses_what_postgres_would_not_print(self):
        for bad in ["", "0", "0/", "/1", "0x1/2", "+1/2", "1_0/2", "1/2/3", " 0/1", "0/1 ",
                    "0/1\n", "123456789/0", "g/1", "-1/0"]:
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                parse_lsn(bad)
        with self.assertRaises(ValueError):
            parse_lsn(None)

    def test_format_is_upper_case_and_round_trips(self):
        for text in ["0/0", "0/16B3748", "16/B374D848", "FFFFFFFF/FFFFFFFF"]:
            self.assertEqual(format_lsn(parse_lsn(text)), text)
        with self.assertRaises(ValueError):
            format_lsn(-1)
        with self.assertRaises(ValueError):
            format_lsn(1 << 64)

    def test_comparison_is_numeric_not_textual(self):
        self.assertLess(parse_lsn("0/9"), parse_lsn("0/10"))  # "0/9" > "0/10" as text
        self.assertLess(parse_lsn("0/FFFFFFFF"), parse_lsn("1/0"))

    def test_as_lsn_takes_ints_and_text_but_not_bools(self):
        self.assertEqual(as_lsn(5), 5)
        self.assertEqual(as_lsn("0/5"), 5)
        with self.assertRaises(ValueError):
            as_lsn(True)
        with self.assertRaises(ValueError):
            as_lsn(-3)

    def test_absent_or_garbled_watermark_is_unknown_and_never_reached(self):
        for raw in [None, b"", b"garbage", b"12345", b"0/1 ", b"0/1\r\n"]:
            with self.subTest(raw=raw):
                self.assertIsNone(watermark_from_reply(raw))
                self.assertFalse(reached(watermark_from_reply(raw), 0))
        self.assertEqual(watermark_from_reply(b"0/1F"), 0x1F)

    def test_reached_means_at_or_past(self):
        self.assertTrue(reached(5, 5))
        self.assertTrue(reached(6, 5))
        self.assertFalse(reached(4, 5))


class WatermarkWait(unittest.TestCase):
    def wait(self, values, max_wait, min_lsn=10):
        t = FakeTime()
        seq = iter(values)
        outcome = wait_for_watermark(lambda: next(seq), min_lsn, max_wait, clock=t.clock,
                                     sleep=t.sleep)
        return outcome, t

    def test_caught_up_region_answers_at_the_first_read_without_sleeping(self):
        outcome, t = self.wait([10], 0.05)
        self.assertTrue(outcome.reached)
        self.assertEqual((outcome.reads, outcome.waited, t.sleeps), (1, 0.0, []))

    def test_sleeps_grow_from_1_ms_to_a_5_ms_cap(self):
        outcome, t = self.wait([None, 3, 5, 7, 9, 9, 9, 12], 1.0)
        self.assertTrue(outcome.reached)
        self.assertEqual(outcome.reads, 8)
        self.assertEqual(t.sleeps, [0.001, 0.0015, 0.00225, 0.003375, 0.005, 0.005, 0.005])
        self.assertAlmostEqual(outcome.waited, sum(t.sleeps))
        self.assertEqual(outcome.watermark, 12)

    def test_wait_ends_at_the_deadline_after_one_last_read(self):
        outcome, t = self.wait([9] * 100, 0.01)
        self.assertFalse(outcome.reached)
        self.assertAlmostEqual(sum(t.sleeps), 0.01)   # the last sleep is cut to the deadline
        self.assertEqual(outcome.reads, len(t.sleeps) + 1)
        self.assertAlmostEqual(outcome.waited, 0.01)
        self.assertEqual(outcome.watermark, 9)

    def test_region_catching_up_at_the_deadline_read_counts(self):
        outcome, t = self.wait([9, 9, 9, 10], 0.00475)  # reads at 0, 1, 2.5 and 4.75 ms
        self.assertTrue(outcome.reached)
        self.assertEqual(outcome.reads, 4)
        self.assertAlmostEqual(outcome.waited, 0.00475)

    def test_unknown_watermark_waits_out_the_deadline(self):
        outcome, _ = self.wait([None] * 100, 0.02, min_lsn=0)
        self.assertFalse(outcome.reached)
        self.assertIsNone(outcome.watermark)

    def test_zero_wait_reads_once(self):
        outcome, t = self.wait([9], 0.0)
        self.assertFalse(outcome.reached)
        self.assertEqual((outcome.reads, t.sleeps), (1, []))

    def test_schedule_is_configurable(self):
        self.assertEqual([WaitSchedule(0.002, 2, 0.004).delay(n) for n in range(3)],
                         [0.002, 0.004, 0.004])

    def test_watermark_key_names_the_source(self):
        self.assertEqual(watermark_key(), "mccache:applied_lsn:default")
        self.assertEqual(watermark_key("shard2"), "mccache:applied_lsn:shard2")
        self.assertEqual(watermark_key("s", prefix="app:w:"), "app:w:s")
        for bad in ["", "a b", "a\nb"]:
            with self.assertRaises(ValueError):
                watermark_key(bad)


class SessionToken(unittest.TestCase):
    def test_a_write_is_kept_for_the_ttl_then_dropped(self):
        stored = session_token.record(None, {"default": 0x10}, now=1000.0, ttl=5.0)
        self.assertEqual(stored, {"default": ["0/10", 1005.0]})
        self.assertEqual(session_token.live(stored, 1004.999), {"default": 0x10})
        self.assertEqual(session_token.live(stored, 1005.0), {})

    def test_a_later_write_raises_the_lsn_and_extends_only_its_own_source(self):
        stored = session_token.record(None, {"default": 0x20, "shard2": 0x5}, 1000.0, 5.0)
        stored = session_token.record(stored, {"default": 0x30}, 1002.0, 5.0)
        self.assertEqual(stored, {"default": ["0/30", 1007.0], "shard2": ["0/5", 1005.0]})
        # A lower LSN (another process's older write recorded late) never lowers the token.
        stored = session_token.record(stored, {"default": 0x25}, 1003.0, 5.0)
        self.assertEqual(stored["default"], ["0/30", 1008.0])

    def test_recording_nothing_prunes_expired_entries(self):
        stored = {"default": ["0/30", 1007.0], "shard2": ["0/5", 1001.0]}
        self.assertEqual(session_token.record(stored, {}, 1002.0), {"default": ["0/30", 1007.0]})

    def test_malformed_entries_are_dropped_not_trusted(self):
        for stored in ["junk", ["0/1", 1e12], {"default": "0/1"}, {"default": ["zz", 1e12]},
                       {"default": ["0/1"]}, {"default": ["0/1", "soon"]}]:
            with self.subTest(stored=stored):
                self.assertEqual(session_token.live(stored, 1000.0), {})
        self.assertEqual(session_token.live({"a": ["zz", 1e12], "b": ["0/2", 1e12]}, 0),
                         {"b": 2})


class Fallbacks(unittest.TestCase):
    def behind(self):
        return RegionBehind("default", 0x20, 0x10, 0.05)

    def test_no_fallback_raises_region_behind_and_counts_it(self):
        stats = ReadYourWritesStats()
        with self.assertRaises(RegionBehind) as caught:
            take_fallback(None, self.behind(), stats)
        self.assertIn("0/20", str(caught.exception))
        self.assertIn("watermark 0/10", str(caught.exception))
        self.assertEqual(stats.fallbacks["raise"], 1)

    def test_cross_region_read_is_counted_as_such(self):
        stats = ReadYourWritesStats()
        self.assertEqual(take_fallback(CrossRegionRead(lambda: b"p"), self.behind(), stats), b"p")
        self.assertEqual(stats.fallbacks["cross_region"], 1)
        self.assertEqual(take_fallback(lambda: b"c", self.behind(), stats), b"c")
        self.assertEqual(stats.fallbacks["caller"], 1)

    def test_primary_has_everything_and_a_replica_what_it_replayed(self):
        self.assertTrue(has_replayed((False, None), 1 << 40))
        self.assertTrue(has_replayed((True, 5), 5))
        self.assertFalse(has_replayed((True, 4), 5))
        self.assertFalse(has_replayed((True, None), 0))  # a standby that replayed nothing yet


class Stats(unittest.TestCase):
    def test_waits_are_counted_by_outcome_and_bucketed(self):
        s = ReadYourWritesStats()
        s.record_wait(True, 0.0002, 1)
        s.record_wait(True, 0.004, 3)
        s.record_wait(False, 0.05, 12)
        d = s.as_dict()
        self.assertEqual((d["token_reads"], d["at_once"], d["waits"], d["timeouts"]), (3, 1, 1, 1))
        self.assertAlmostEqual(d["wait_seconds"], 0.0542)
        self.assertEqual((d["wait_buckets"]["0.001"], d["wait_buckets"]["0.005"],
                          d["wait_buckets"]["0.05"]), (1, 1, 1))

    def test_prometheus_text_has_cumulative_buckets_and_labelled_fallbacks(self):
        s = ReadYourWritesStats()
        s.record_wait(True, 0.0002, 1)
        s.record_wait(False, 2.0, 30)
        s.record_fallback("replica")
        text = s.prometheus_text()
        self.assertIn('mccache_ryw_wait_seconds_bucket{le="0.001"} 1\n', text)
        self.assertIn('mccache_ryw_wait_seconds_bucket{le="+Inf"} 2\n', text)
        self.assertIn("mccache_ryw_wait_seconds_count 2\n", text)
        self.assertIn('mccache_ryw_fallbacks_total{kind="replica"} 1\n', text)
        self.assertEqual(text.count("# TYPE mccache_ryw_fallbacks_total counter"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
