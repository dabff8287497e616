"""The two LSN questions read-your-writes asks PostgreSQL, over any DB-API connection (psycopg2,
or Django's `connections[alias]`):

* after a commit on the primary, where is the WAL now (the session token L);
* has the region's local database replayed L (before a read bypasses the cache).

Connections should be in autocommit mode: a poll must not leave a transaction open.
"""
import time
from typing import Callable, Optional, Tuple

from .lsn import parse_lsn
from .watermark import WaitSchedule


def insert_lsn(connection) -> str:
    """`pg_current_wal_insert_lsn()` as text, to run on the primary connection right after a
    commit: it is at or past the commit record's end even under synchronous_commit = off, where
    `pg_current_wal_lsn()` (the write position) can still be behind it."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_current_wal_insert_lsn()::text")
        return cur.fetchone()[0]


def replay_position(connection) -> Tuple[bool, Optional[int]]:
    """(in_recovery, replayed LSN). A primary answers (False, None): it has everything that
    committed, and a commit is visible to other sessions before it returns to its client."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
        in_recovery, replayed = cur.fetchone()
    return bool(in_recovery), (parse_lsn(replayed) if replayed else None)


def has_replayed(position: Tuple[bool, Optional[int]], min_lsn: int) -> bool:
    in_recovery, replayed = position
    return not in_recovery or (replayed is not None and replayed >= min_lsn)


def wait_for_replay(connection, min_lsn: int, max_wait: float, *,
                    clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep,
                    schedule: WaitSchedule = WaitSchedule()) -> bool:
    """Polls the local database until it has replayed `min_lsn` (True) or `max_wait` passes."""
    deadline = clock() + max_wait
    polls = 0
    while True:
        if has_replayed(replay_position(connection), min_lsn):
            return True
        now = clock()
        if now >= deadline:
            return False
        sleep(min(schedule.delay(polls), deadline - now))
        polls += 1
