"""The region watermark W (docs/consistency.md, read-your-writes): the key it is read from, and the
bounded wait of a read that carries a session token L until the region has applied L (W >= L).

Pure: the wait takes the watermark reader, the clock and the sleep as arguments, so its schedule
and deadline are tested without sockets or real time.
"""
import time
from dataclasses import dataclass
from typing import Callable, Optional

from .lsn import reached

WATERMARK_PREFIX = "mccache:applied_lsn:"
DEFAULT_SOURCE = "default"  # the invalidator's name for a config with one unnamed source
DEFAULT_WATERMARK_WAIT = 0.05


def watermark_key(source: str = DEFAULT_SOURCE, prefix: str = WATERMARK_PREFIX) -> str:
    """`mccache:applied_lsn:<source>`: one key per Postgres primary (shard), as the invalidator
    names its sources."""
    if not source or any(c <= " " or c == "\x7f" for c in source):
        raise ValueError(f"invalid source name {source!r}: non-empty, no spaces or controls")
    return prefix + source


@dataclass(frozen=True)
class WaitSchedule:
    """Sleeps between watermark reads: 1 ms growing to 5 ms. A healthy region applies a commit
    a few ms after it, so the first sleeps are short; the cap keeps a lagging region from being
    polled harder than a few hundred times a second per waiting reader."""
    first: float = 0.001
    growth: float = 1.5
    cap: float = 0.005

    def delay(self, attempt: int) -> float:
        return min(self.first * self.growth ** attempt, self.cap)


@dataclass(frozen=True)
class WaitOutcome:
    reached: bool
    watermark: Optional[int]  # the last value read; None: unknown
    waited: float             # seconds from the first read to the verdict
    reads: int


def wait_for_watermark(read: Callable[[], Optional[int]], min_lsn: int, max_wait: float, *,
                       clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], None] = time.sleep,
                       schedule: WaitSchedule = WaitSchedule()) -> WaitOutcome:
    """Reads the watermark until it reaches `min_lsn` or `max_wait` seconds have passed; the last
    read happens at the deadline, so a region that catches up just in time still counts."""
    start = clock()
    deadline = start + max_wait
    reads = 0
    while True:
        watermark = read()
        reads += 1
        now = clock()
        if reached(watermark, min_lsn):
            return WaitOutcome(True, watermark, now - start, reads)
        if now >= deadline:
            return WaitOutcome(False, watermark, now - start, reads)
        sleep(min(schedule.delay(reads - 1), deadline - now))
