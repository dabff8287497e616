"""What a token read does when the region has not applied the reader's write within the wait.

A fallback never fills the cache: the region may still hold (or be about to delete) the old value,
and a fill now could race that deletion. The choices, in the order an app should prefer them:

* `ReplicaFallback(connection, read)`: wait (bounded) until the region's own database has
  replayed L, then `read()` from it, bypassing the cache;
* `None`: raise `RegionBehind`, and let the app answer "try again";
* `CrossRegionRead(read)`: read another region (the primary); only when the app configures it,
  and counted, since it is the cross-region traffic this design exists to avoid.

A plain callable is also accepted (kind "caller"): it is called with no arguments.
"""
from typing import Callable, Optional

from .lsn import format_lsn
from .postgres import wait_for_replay
from .ryw_stats import ReadYourWritesStats


class RegionBehind(Exception):
    """The region had not applied the reader's own write (W < L or unknown) within the wait."""

    def __init__(self, source: str, min_lsn: int, watermark: Optional[int], waited: float):
        seen = "unknown" if watermark is None else format_lsn(watermark)
        super().__init__(f"region has not applied {format_lsn(min_lsn)} of source {source!r} "
                         f"after {waited * 1000:.0f} ms (watermark {seen})")
        self.source, self.min_lsn, self.watermark = source, min_lsn, watermark


class ReplicaBehind(Exception):
    """The local database had not replayed the reader's own write within its wait."""

    def __init__(self, min_lsn: int, waited: float):
        super().__init__(f"local database has not replayed {format_lsn(min_lsn)} after "
                         f"{waited * 1000:.0f} ms")
        self.min_lsn = min_lsn


class ReplicaFallback:
    """Reads the region's own database once it has replayed L. `connection` is a DB-API
    connection (autocommit) to that database, or a function returning one. If it has not replayed
    L within `max_wait`, `otherwise` answers (e.g. a CrossRegionRead), or ReplicaBehind is raised."""
    kind = "replica"

    def __init__(self, connection, read: Callable, max_wait: float = 1.0, otherwise=None):
        self._connection, self._read, self.max_wait, self.otherwise = (
            connection, read, max_wait, otherwise)

    def __call__(self, behind: RegionBehind, stats: ReadYourWritesStats):
        conn = self._connection() if callable(self._connection) else self._connection
        replayed = wait_for_replay(conn, behind.min_lsn, self.max_wait)
        stats.record_replica_wait(replayed)
        if replayed:
            return self._read()
        if self.otherwise is not None:
            return take_fallback(self.otherwise, behind, stats)
        raise ReplicaBehind(behind.min_lsn, self.max_wait)


class CrossRegionRead:
    """An explicit read from another region (the primary), counted as kind "cross_region"."""
    kind = "cross_region"

    def __init__(self, read: Callable):
        self._read = read

    def __call__(self, behind: RegionBehind, stats: ReadYourWritesStats):
        return self._read()


def take_fallback(fallback, behind: RegionBehind, stats: ReadYourWritesStats):
    """Runs the caller's choice and counts it; without one, raises `behind`."""
    if fallback is None:
        stats.record_fallback("raise")
        raise behind
    kind = getattr(fallback, "kind", "caller")
    stats.record_fallback(kind)
    if kind == "caller":
        return fallback()
    return fallback(behind, stats)
