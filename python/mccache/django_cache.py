"""Django cache backend for mcproxy: Django's PyMemcacheCache (so cache.get/set/delete and
everything else work unchanged through mcproxy) plus lease-aware `get_or_fill`.

    CACHES = {"default": {
        "BACKEND": "mccache.django_cache.LeaseCache",
        "LOCATION": "127.0.0.1:11311",          # this region's mcproxy
    }}

    profile = cache.get_or_fill(f"user:{pk}", lambda: load_profile(pk), timeout=300)

Values are serialised with pymemcache's pickle serde, the same bytes and flags PyMemcacheCache
writes, so `cache.get` reads what `get_or_fill` stored and the other way round.

Read-your-writes: in a request of a session that wrote (django_ryw.ReadYourWritesMiddleware), or
with an explicit `min_lsn`, `get_or_fill`, `get` and `get_many` first wait (WATERMARK_WAIT) until
the region has applied the session's own writes. If it has not: `get_or_fill` reads the local
database once it has replayed them, without caching (or raises, CACHE_FALLBACK = "raise"), and
`get`/`get_many` answer a miss, so the app reads the database through the router, which holds
the read for the replica in the same way.
"""
import threading

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.memcached import PyMemcacheCache

from . import django_ryw as ryw
from .client import Client
from .django_router import read_bypassing_cache
from .fallback import RegionBehind
from .lsn import as_lsn
from .watermark import DEFAULT_SOURCE


class LeaseCache(PyMemcacheCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        import pymemcache.serde
        self._serde = pymemcache.serde.pickle_serde
        self._local = threading.local()
        options = params.get("OPTIONS") or {}
        # Ours, not pymemcache's: keep it out of the options Django hands to its client.
        self._options = {k: v for k, v in self._options.items() if k != "lease_socket_timeout"}
        self._lease_timeout = float(options.get("lease_socket_timeout", 2.0))
        # The same ssl.SSLContext pymemcache gets (OPTIONS["tls_context"]), for the lease commands.
        self._tls_context = options.get("tls_context")
        if len(self._servers) != 1:
            # mcproxy routes keys itself; several LOCATIONs would split leases between proxies
            # that hash differently from each other.
            raise ValueError("LeaseCache wants exactly one LOCATION: the region's mcproxy")

    def _lease_client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = Client(self._servers[0], timeout=self._lease_timeout,
                                                 tls_context=self._tls_context,
                                                 ryw_stats=ryw.stats)
        return client

    def _behind(self, tokens):
        """None once the region has applied every token, else why not (the first one missing)."""
        wait = ryw.config().watermark_wait
        for source, lsn in tokens.items():
            outcome = self._lease_client().await_watermark(source, lsn, wait)
            if not outcome.reached:
                return RegionBehind(source, lsn, outcome.watermark, outcome.waited)
        return None

    def _session_behind(self) -> bool:
        """True (a miss, counted) for a plain read of a session whose own write the region has
        not applied in time: the app then reads the database, which the router holds for it."""
        tokens = ryw.live_tokens()
        if tokens and self._behind(tokens) is not None:
            ryw.stats.record_fallback("miss")
            return True
        return False

    def get(self, key, default=None, version=None):
        return default if self._session_behind() else super().get(key, default, version)

    def get_many(self, keys, version=None):
        return {} if self._session_behind() else super().get_many(keys, version)

    def get_or_fill(self, key, fill, timeout=DEFAULT_TIMEOUT, version=None, *,
                    accept_stale=False, max_wait=2.0, min_lsn=None, source=DEFAULT_SOURCE):
        """Returns the cached value, or fill()'s result stored under a lease so that only one
        caller per key fills at a time and a fill that raced with an invalidation is not stored.

        With the session's tokens (or `min_lsn` of `source`), only once the region has applied
        them; else fill() from the local database once it has replayed them, uncached."""
        tokens = {source: as_lsn(min_lsn)} if min_lsn is not None else ryw.live_tokens()
        if min_lsn is not None and source not in ryw.config().sources:
            raise ValueError(f"source {source!r} is not in settings.{ryw.SETTING}['SOURCES'] "
                             f"({sorted(ryw.config().sources)})")
        if tokens:
            behind = self._behind(tokens)
            if behind is not None:
                if ryw.config().cache_fallback == "raise":
                    ryw.stats.record_fallback("raise")
                    raise behind
                return read_bypassing_cache(tokens, fill)
            accept_stale = False  # a stale copy predates the session's own write
        key = self.make_key(key, version=version)
        self.validate_key(key)
        ttl = self.get_backend_timeout(timeout)
        filled = []

        def fill_serialised():
            value = fill()
            filled.append(value)
            data, flags = self._serde.serialize(key, value)
            return (data if isinstance(data, bytes) else data.encode()), flags

        data, flags, _ = self._lease_client().lease_dance(
            key, fill_serialised, ttl, accept_stale=accept_stale, max_wait=max_wait)
        # Return the caller's own object when it filled, rather than a pickled round trip.
        return filled[0] if filled else self._serde.deserialize(key, data, flags)


def plain_key(key, key_prefix, version):
    """A KEY_FUNCTION that keeps keys as written, so the invalidator's templates ("user:{id}")
    name exactly the keys the app caches. Django's default would store ":1:user:1"."""
    return f"{key_prefix}{key}" if key_prefix else key
