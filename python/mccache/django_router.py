"""The ORM side of read-your-writes: a read of a session that wrote goes to the region's own
database only once that database has replayed the session's L (a bounded wait, once per request),
else REPLICA_FALLBACK answers: raise ReplicaBehind, or (only if configured, and counted) read the
source's primary, which is a cross-region read outside the primary's region.

    class Router(ReadYourWritesRouter, PrimaryForWrites):   # first, so it sees your choice
        pass
"""
from typing import Dict, Optional

from django.db import DEFAULT_DB_ALIAS, connections

from . import django_ryw as ryw
from .fallback import ReplicaBehind
from .postgres import wait_for_replay


def _replayed(alias: str, lsn: int, state: Optional[ryw.RequestState]) -> bool:
    """Whether `alias` has replayed `lsn`, asked at most once per request and LSN: a replica
    found behind is not waited for again by every read of the same request."""
    if state is not None:
        if state.replayed.get(alias, -1) >= lsn:
            return True
        if state.behind.get(alias, -1) >= lsn:
            return False
    ok = wait_for_replay(connections[alias], lsn, ryw.config().replica_wait)
    ryw.stats.record_replica_wait(ok)
    if state is not None:
        memo = state.replayed if ok else state.behind
        memo[alias] = max(lsn, memo.get(alias, -1))
    return ok


def route_read(alias: str) -> Optional[str]:
    """None: read `alias` as chosen. Else the alias to read instead (a source's primary)."""
    state = ryw.current()
    if state is None:
        return None
    cfg = ryw.config()
    tokens = state.live()
    for name, source in cfg.sources.items():
        if source.local != alias or source.primary == alias:
            continue
        if state.cross_region:
            return source.primary
        lsn = tokens.get(name)
        if lsn is None or _replayed(alias, lsn, state):
            continue
        if cfg.replica_fallback == "primary":
            ryw.stats.record_fallback("cross_region")
            return source.primary
        ryw.stats.record_fallback("raise")
        raise ReplicaBehind(lsn, cfg.replica_wait)
    return None


def read_bypassing_cache(tokens: Dict[str, int], fill):
    """The cache's fallback when the region had not applied the tokens in time: `fill()` from the
    local databases once they have replayed them, never cached; else REPLICA_FALLBACK."""
    cfg = ryw.config()
    state = ryw.current()
    for name, lsn in tokens.items():
        if _replayed(cfg.sources[name].local, lsn, state):
            continue
        if cfg.replica_fallback == "primary":
            ryw.stats.record_fallback("cross_region")
            with ryw.cross_region_reads():
                return fill()
        ryw.stats.record_fallback("raise")
        raise ReplicaBehind(lsn, cfg.replica_wait)
    ryw.stats.record_fallback("replica")
    return fill()


class ReadYourWritesRouter:
    """Mix in first. Writes and relations are left to the routers after it in the MRO."""

    def db_for_read(self, model, **hints):
        parent = getattr(super(), "db_for_read", None)
        chosen = parent(model, **hints) if parent is not None else None
        instance = hints.get("instance")
        target = chosen or getattr(getattr(instance, "_state", None), "db", None) or DEFAULT_DB_ALIAS
        return route_read(target) or chosen
