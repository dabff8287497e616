"""Django cache backend for mcproxy: Django's PyMemcacheCache (so cache.get/set/delete and
everything else work unchanged through mcproxy) plus lease-aware `get_or_fill`.

    CACHES = {"default": {
        "BACKEND": "mccache.django_cache.LeaseCache",
        "LOCATION": "127.0.0.1:11311",          # this region's mcproxy
    }}

    profile = cache.get_or_fill(f"user:{pk}", lambda: load_profile(pk), timeout=300)

Values are serialised with pymemcache's pickle serde, the same bytes and flags PyMemcacheCache
writes, so `cache.get` reads what `get_or_fill` stored and the other way round.
"""
import threading

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.memcached import PyMemcacheCache

from .client import Client


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
                                                 tls_context=self._tls_context)
        return client

    def get_or_fill(self, key, fill, timeout=DEFAULT_TIMEOUT, version=None, *,
                    accept_stale=False, max_wait=2.0):
        """Returns the cached value, or fill()'s result stored under a lease so that only one
        caller per key fills at a time and a fill that raced with an invalidation is not stored."""
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
