"""A small memcached text-protocol client with mcrouter-style leases, for mcproxy.

Stdlib only (sockets), so it installs nowhere and runs wherever the app runs. One Client holds one
connection and is safe to share between threads (requests are serialised by a lock).

Leases (docs/protocol.md): `lease-get` answers a hit (token 0), a granted lease (token > 1: you
fill the value and `lease-set` it with the token), or a hot miss (token 1: someone else is filling;
wait and retry, or use the stale value it may carry). `get_or_fill` does that dance.

Read-your-writes (docs/consistency.md): `get_or_fill(..., min_lsn=L)` first makes sure the region
has applied the caller's own write L (its watermark W >= L), waiting briefly, else takes the
caller's fallback instead of the cache.
"""
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from .fallback import RegionBehind, take_fallback
from .lsn import as_lsn, watermark_from_reply
from .ryw_stats import ReadYourWritesStats
from .watermark import (DEFAULT_SOURCE, DEFAULT_WATERMARK_WAIT, WATERMARK_PREFIX, WaitOutcome,
                        wait_for_watermark, watermark_key)

HIT_TOKEN = 0
HOT_MISS_TOKEN = 1


class ProtocolError(Exception):
    """The server answered something this client cannot parse."""


class ServerError(Exception):
    """SERVER_ERROR / CLIENT_ERROR / ERROR from mcproxy or memcached."""


@dataclass
class LeaseResult:
    value: Optional[bytes]  # the value on a hit; the stale value (if any) otherwise
    token: int              # 0 hit, 1 hot miss, >1 lease granted to this caller
    flags: int = 0

    @property
    def hit(self) -> bool:
        return self.token == HIT_TOKEN and self.value is not None

    @property
    def granted(self) -> bool:
        return self.token > HOT_MISS_TOKEN

    @property
    def hot_miss(self) -> bool:
        return self.token == HOT_MISS_TOKEN

    @property
    def stale(self) -> bool:
        """A value came with a miss: an invalidated copy, usable if the caller accepts stale data."""
        return self.token != HIT_TOKEN and bool(self.value)


def _check_key(key: str) -> bytes:
    raw = key.encode() if isinstance(key, str) else bytes(key)
    if not raw or len(raw) > 250 or any(c <= 32 or c == 127 for c in raw):
        raise ValueError(f"invalid memcached key {key!r}: 1..250 bytes, no spaces or controls")
    return raw


class Client:
    def __init__(self, server: str = "127.0.0.1:11311", timeout: float = 2.0,
                 tls_context=None, ryw_stats: Optional[ReadYourWritesStats] = None,
                 watermark_prefix: str = WATERMARK_PREFIX):
        """`tls_context`: an ssl.SSLContext for an mcproxy whose listener speaks TLS.
        `ryw_stats`: where token reads are counted (share one per process to export it)."""
        host, _, port = server.rpartition(":")
        self._address = (host.strip("[]") or "127.0.0.1", int(port))
        self._timeout = timeout
        self._tls_context = tls_context
        self._sock: Optional[socket.socket] = None
        self._buffer = b""
        self._lock = threading.Lock()
        self.ryw_stats = ryw_stats if ryw_stats is not None else ReadYourWritesStats()
        self._watermark_prefix = watermark_prefix
        self._applied = {}  # source -> the highest watermark a completed reply showed

    # -- connection ------------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self._drop()

    def close(self):
        with self._lock:
            self._drop()

    def _drop(self):
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._buffer = b""

    def _connect(self):
        if self._sock is None:
            sock = socket.create_connection(self._address, timeout=self._timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls_context is not None:
                sock = self._tls_context.wrap_socket(sock, server_hostname=self._address[0])
            self._sock = sock
            self._buffer = b""

    def _readline(self) -> bytes:
        while b"\r\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _readexact(self, n: int) -> bytes:
        while len(self._buffer) < n + 2:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n + 2:]
        return data

    def _call(self, request: bytes, read):
        """Sends one request and parses its reply; a broken connection is dropped (not reused)."""
        with self._lock:
            try:
                self._connect()
                self._sock.sendall(request)
                return read()
            except (OSError, ConnectionError, ProtocolError):
                self._drop()
                raise

    @staticmethod
    def _raise_if_error(line: bytes):
        if line.startswith((b"SERVER_ERROR", b"CLIENT_ERROR")) or line == b"ERROR":
            raise ServerError(line.decode(errors="replace"))

    # -- plain commands --------------------------------------------------------------------------
    def get(self, key: str) -> Optional[bytes]:
        return self.get_multi([key]).get(key)

    def get_multi(self, keys) -> dict:
        keys = list(keys)
        raw = [_check_key(k) for k in keys]
        by_raw = dict(zip(raw, keys))

        def read():
            out = {}
            while True:
                line = self._readline()
                if line == b"END":
                    return out
                self._raise_if_error(line)
                parts = line.split()
                if len(parts) < 4 or parts[0] != b"VALUE":
                    raise ProtocolError(f"unexpected reply {line!r}")
                out[by_raw.get(parts[1], parts[1].decode())] = self._readexact(int(parts[3]))

        return self._call(b"get " + b" ".join(raw) + b"\r\n", read)

    def _store(self, verb: bytes, key: str, value: bytes, ttl: int, flags: int,
               extra: bytes = b"") -> bytes:
        value = value.encode() if isinstance(value, str) else bytes(value)
        head = b"%s %s %d %d %d%s\r\n" % (verb, _check_key(key), flags, ttl, len(value), extra)

        def read():
            line = self._readline()
            self._raise_if_error(line)
            return line

        return self._call(head + value + b"\r\n", read)

    def set(self, key: str, value, ttl: int = 0, flags: int = 0) -> bool:
        return self._store(b"set", key, value, ttl, flags) == b"STORED"

    def add(self, key: str, value, ttl: int = 0, flags: int = 0) -> bool:
        return self._store(b"add", key, value, ttl, flags) == b"STORED"

    def delete(self, key: str) -> bool:
        def read():
            line = self._readline()
            self._raise_if_error(line)
            return line == b"DELETED"

        return self._call(b"delete " + _check_key(key) + b"\r\n", read)

    # -- leases (mcrouter's ASCII form) ----------------------------------------------------------
    def lease_get(self, key: str) -> LeaseResult:
        def read():
            line = self._readline()
            self._raise_if_error(line)
            parts = line.split()
            if parts and parts[0] == b"VALUE" and len(parts) >= 4:
                # VALUE <key> <flags> <bytes>: a hit.
                value = self._readexact(int(parts[3]))
                self._expect_end()
                return LeaseResult(value, HIT_TOKEN, int(parts[2]))
            if parts and parts[0] == b"LVALUE" and len(parts) >= 5:
                # LVALUE <key> <token> <flags> <bytes>: a miss with a token, maybe a stale value.
                value = self._readexact(int(parts[4]))
                self._expect_end()
                return LeaseResult(value or None, int(parts[2]), int(parts[3]))
            raise ProtocolError(f"unexpected lease-get reply {line!r}")

        return self._call(b"lease-get " + _check_key(key) + b"\r\n", read)

    def _expect_end(self):
        line = self._readline()
        if line != b"END":
            raise ProtocolError(f"expected END, got {line!r}")

    def lease_set(self, key: str, token: int, value, ttl: int = 0, flags: int = 0) -> str:
        """Returns "STORED", "STALE_STORED" or "NOT_STORED" (the token was voided: do not retry)."""
        value = value.encode() if isinstance(value, str) else bytes(value)
        head = b"lease-set %s %d %d %d %d\r\n" % (_check_key(key), token, flags, ttl, len(value))

        def read():
            line = self._readline()
            self._raise_if_error(line)
            return line.decode()

        return self._call(head + value + b"\r\n", read)

    # -- read-your-writes ------------------------------------------------------------------------
    def watermark(self, source: str = DEFAULT_SOURCE) -> Optional[int]:
        """The region's watermark W of `source`, or None (unknown: absent, unparsable, or
        unreadable because its memcached server or the proxy is down; a token read then ends in
        its fallback, which does not need the cache)."""
        try:
            raw = self.get(watermark_key(source, self._watermark_prefix))
        except (ServerError, ProtocolError, OSError):
            return None
        w = watermark_from_reply(raw)
        if w is not None and w > self._applied.get(source, -1):
            self._applied[source] = w
        return w

    def await_watermark(self, source: str, min_lsn, max_wait: float = DEFAULT_WATERMARK_WAIT
                        ) -> WaitOutcome:
        """Waits until the region has applied `min_lsn` (an int or "X/Y") of `source`, re-reading
        only the watermark, for at most `max_wait` seconds.

        The watermark is read on its own, before the data key: a multi-get of both would let
        mcproxy read them from two servers in parallel, so a reply showing W >= L could carry a
        value read just before the invalidator deleted it. Once a reply has shown W >= L, every
        later read of this client is after the deletion, so an L already seen applied costs
        nothing."""
        lsn = as_lsn(min_lsn)
        if self._applied.get(source, -1) >= lsn:
            self.ryw_stats.record_known()
            return WaitOutcome(True, self._applied[source], 0.0, 0)
        outcome = wait_for_watermark(lambda: self.watermark(source), lsn, max_wait)
        self.ryw_stats.record_wait(outcome.reached, outcome.waited, outcome.reads)
        return outcome

    def get_or_fill(self, key: str, fill: Callable[[], bytes], ttl: int = 0, *,
                    accept_stale: bool = False, max_wait: float = 2.0,
                    backoff: float = 0.005, min_lsn=None, source: str = DEFAULT_SOURCE,
                    watermark_wait: float = DEFAULT_WATERMARK_WAIT, fallback=None) -> bytes:
        """The full lease dance: hit → value; lease granted → fill(), lease-set, return the fill;
        hot miss → the stale value if accepted, else back off and retry (bounded by max_wait, after
        which fill() is called without caching, so a reader is never stuck).

        With `min_lsn` (the session token L of `source`): the dance runs only once the region has
        applied L (see await_watermark; never with a stale value, which predates the write). If
        it has not within `watermark_wait` seconds, `fallback` answers instead of the cache (a
        ReplicaFallback, a CrossRegionRead or a callable, see fallback.py) and nothing is cached;
        without a fallback, RegionBehind is raised."""
        if min_lsn is not None:
            outcome = self.await_watermark(source, min_lsn, watermark_wait)
            if not outcome.reached:
                behind = RegionBehind(source, as_lsn(min_lsn), outcome.watermark, outcome.waited)
                value = take_fallback(fallback, behind, self.ryw_stats)
                return value.encode() if isinstance(value, str) else value
            accept_stale = False

        def fill_with_flags():
            value = fill()
            return (value.encode() if isinstance(value, str) else value), 0

        value, _flags, _filled = self.lease_dance(key, fill_with_flags, ttl, accept_stale=accept_stale,
                                                  max_wait=max_wait, backoff=backoff)
        return value

    def lease_dance(self, key: str, fill: Callable[[], Tuple[bytes, int]], ttl: int = 0, *,
                    accept_stale: bool = False, max_wait: float = 2.0,
                    backoff: float = 0.005) -> Tuple[bytes, int, bool]:
        """get_or_fill for callers with their own serialisation: fill() returns (bytes, flags);
        returns (bytes, flags, filled) where filled says fill() produced the value."""
        deadline = time.monotonic() + max_wait
        delay = backoff
        while True:
            r = self.lease_get(key)
            if r.hit:
                return r.value, r.flags, False
            if r.granted:
                value, flags = fill()
                # NOT_STORED means an invalidation voided the lease meanwhile: our value may be
                # older than the database, so it is returned to this caller but never cached.
                self.lease_set(key, r.token, value, ttl, flags)
                return value, flags, True
            if accept_stale and r.stale:
                return r.value, r.flags, False
            if time.monotonic() + delay > deadline:
                value, flags = fill()
                return value, flags, True
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)
