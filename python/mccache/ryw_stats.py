"""Counters of reads that carry a session token, for the app to export: how often they waited for
the region, how long, how often the wait ran out and which fallback answered instead."""
import threading
from typing import Dict

# Upper bounds (seconds) of the wait-time histogram: the goal is a p99 under 10 ms while healthy.
WAIT_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
FALLBACK_KINDS = ("replica", "cross_region", "caller", "raise", "miss")


class ReadYourWritesStats:
    """Thread-safe; one instance may be shared by every client of a process."""

    def __init__(self):
        self._lock = threading.Lock()
        self.token_reads = 0       # reads with a token that had to consult the watermark
        self.known_caught_up = 0   # reads with a token already known applied (no watermark read)
        self.at_once = 0           # W >= L on the first read
        self.waits = 0             # W < L at first, then reached within the wait
        self.timeouts = 0          # the wait ran out (W < L or unknown)
        self.wait_seconds = 0.0
        self.wait_buckets = [0] * (len(WAIT_BUCKETS) + 1)  # the last one is +Inf
        self.fallbacks: Dict[str, int] = {kind: 0 for kind in FALLBACK_KINDS}
        self.replica_waits = 0     # fallbacks and router checks that waited for replay
        self.replica_timeouts = 0  # ... and whose replica had not replayed L in time

    def record_known(self):
        with self._lock:
            self.known_caught_up += 1

    def record_wait(self, reached: bool, waited: float, reads: int):
        with self._lock:
            self.token_reads += 1
            if reached and reads == 1:
                self.at_once += 1
            elif reached:
                self.waits += 1
            else:
                self.timeouts += 1
            self.wait_seconds += waited
            self.wait_buckets[_bucket(waited)] += 1

    def record_fallback(self, kind: str):
        with self._lock:
            self.fallbacks[kind] = self.fallbacks.get(kind, 0) + 1

    def record_replica_wait(self, replayed: bool):
        with self._lock:
            self.replica_waits += 1
            self.replica_timeouts += not replayed

    def as_dict(self) -> dict:
        with self._lock:
            return {"token_reads": self.token_reads, "known_caught_up": self.known_caught_up,
                    "at_once": self.at_once, "waits": self.waits, "timeouts": self.timeouts,
                    "wait_seconds": self.wait_seconds, "fallbacks": dict(self.fallbacks),
                    "replica_waits": self.replica_waits,
                    "replica_timeouts": self.replica_timeouts,
                    "wait_buckets": dict(zip([*map(str, WAIT_BUCKETS), "+Inf"],
                                             self.wait_buckets))}

    def prometheus_text(self, prefix: str = "mccache_ryw") -> str:
        """The counters in Prometheus' text format, to append to an app's /metrics."""
        d = self.as_dict()
        counters = [
            ("token_reads_total", "Token reads that read the watermark", [("", d["token_reads"])]),
            ("known_caught_up_total", "Token reads of an LSN this client had already seen applied",
             [("", d["known_caught_up"])]),
            ("waits_total", "Token reads that waited and saw W >= L", [("", d["waits"])]),
            ("timeouts_total", "Token reads whose wait ran out", [("", d["timeouts"])]),
            ("fallbacks_total", "Fallbacks taken after a timeout",
             [(f'{{kind="{kind}"}}', n) for kind, n in d["fallbacks"].items()]),
            ("replica_waits_total", "Waits for the replica's replay", [("", d["replica_waits"])]),
            ("replica_timeouts_total", "Waits for the replica's replay that ran out",
             [("", d["replica_timeouts"])]),
        ]
        lines = []
        for name, help_text, samples in counters:
            lines += [f"# HELP {prefix}_{name} {help_text}", f"# TYPE {prefix}_{name} counter"]
            lines += [f"{prefix}_{name}{labels} {value}" for labels, value in samples]
        lines.append(f"# HELP {prefix}_wait_seconds Time token reads waited for the watermark")
        lines.append(f"# TYPE {prefix}_wait_seconds histogram")
        total = 0
        for le, n in d["wait_buckets"].items():
            total += n
            lines.append(f'{prefix}_wait_seconds_bucket{{le="{le}"}} {total}')
        lines.append(f"{prefix}_wait_seconds_sum {d['wait_seconds']}")
        lines.append(f"{prefix}_wait_seconds_count {total}")
        return "\n".join(lines) + "\n"


def _bucket(seconds: float) -> int:
    for i, bound in enumerate(WAIT_BUCKETS):
        if seconds <= bound:
            return i
    return len(WAIT_BUCKETS)
