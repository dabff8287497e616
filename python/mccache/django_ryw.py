"""Read-your-writes for Django: after a request that wrote, the session carries the commit's LSN L
(per source) for a few seconds, and the next requests of that session read through the cache and
the local replica only once the region has applied L (docs/django.md, "Read your own writes").

    MIDDLEWARE = [..., "django.contrib.sessions.middleware.SessionMiddleware",
                  "mccache.django_ryw.ReadYourWritesMiddleware", ...]

The middleware observes every statement a request runs on a source's primary alias and, through
`transaction.on_commit`, reads `pg_current_wal_insert_lsn()` on that connection right after the
commit. `LeaseCache` and `ReadYourWritesRouter` (django_router.py) read the tokens from here.
"""
import contextlib
import contextvars
import logging
import time
from dataclasses import dataclass, field
from typing import Dict, Optional

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import Error as DatabaseFailure, connections, transaction
from django.http import HttpResponse

from . import session_token
from .fallback import RegionBehind, ReplicaBehind
from .lsn import parse_lsn
from .postgres import insert_lsn
from .ryw_stats import ReadYourWritesStats
from .watermark import DEFAULT_WATERMARK_WAIT

SETTING = "MCCACHE_READ_YOUR_WRITES"
SESSION_KEY = "_mccache_lsn"
log = logging.getLogger("mccache.read_your_writes")

# One per process: every thread's cache client and the router count here; export with
# stats.prometheus_text() or stats.as_dict().
stats = ReadYourWritesStats()


@dataclass(frozen=True)
class Source:
    primary: str  # the alias writes of this source go to (where L is read)
    local: str    # the alias of this region's database of this source (gated on its replay)


@dataclass(frozen=True)
class Config:
    sources: Dict[str, Source]
    token_ttl: float = session_token.DEFAULT_TOKEN_TTL
    watermark_wait: float = DEFAULT_WATERMARK_WAIT
    cache_fallback: str = "replica"   # or "raise"
    replica_wait: float = 1.0
    replica_fallback: str = "raise"   # or "primary": a cross-region read, counted


_DEFAULTS = {"SOURCES": {"default": {"PRIMARY": "primary", "LOCAL": "default"}}}
_config: Optional[Config] = None


def config() -> Config:
    global _config
    if _config is None:
        _config = _load(getattr(settings, SETTING, _DEFAULTS), set(settings.DATABASES))
    return _config


def _reset_config(setting, **kwargs):
    global _config
    if setting in (SETTING, "DATABASES"):
        _config = None


setting_changed.connect(_reset_config)


def _load(raw, databases) -> Config:
    where = f"settings.{SETTING}"

    def fail(path, problem, fix):
        raise ImproperlyConfigured(f"{where}{path}: {problem}; {fix}")

    if not isinstance(raw, dict):
        fail("", "expected a dict", 'see docs/django.md, "Read your own writes"')
    unknown = set(raw) - {"SOURCES", "TOKEN_TTL", "WATERMARK_WAIT", "CACHE_FALLBACK",
                          "REPLICA_WAIT", "REPLICA_FALLBACK"}
    if unknown:
        fail("", f"unknown keys {sorted(unknown)}", "remove them (docs/django.md lists the keys)")
    raw_sources = raw.get("SOURCES", _DEFAULTS["SOURCES"])
    if not isinstance(raw_sources, dict) or not raw_sources:
        fail("['SOURCES']", "expected {source: {'PRIMARY': alias, 'LOCAL': alias}}",
             "name each Postgres primary as the invalidator's config does ('default' for one)")
    sources = {}
    for name, spec in raw_sources.items():
        path = f"['SOURCES'][{name!r}]"
        if not isinstance(spec, dict) or set(spec) != {"PRIMARY", "LOCAL"}:
            fail(path, "expected {'PRIMARY': alias, 'LOCAL': alias}",
                 "give the alias writes go to and the alias of this region's database")
        for role in ("PRIMARY", "LOCAL"):
            if spec[role] not in databases:
                fail(f"{path}[{role!r}]", f"{spec[role]!r} is not in DATABASES",
                     f"use one of {sorted(databases)}")
        sources[name] = Source(spec["PRIMARY"], spec["LOCAL"])
    numbers = {}
    for key, attr in (("TOKEN_TTL", "token_ttl"), ("WATERMARK_WAIT", "watermark_wait"),
                      ("REPLICA_WAIT", "replica_wait")):
        value = raw.get(key, getattr(Config, attr))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            fail(f"[{key!r}]", f"{value!r} is not a number of seconds >= 0", "e.g. 0.05")
        numbers[attr] = float(value)
    choices = {"CACHE_FALLBACK": ("replica", "raise"), "REPLICA_FALLBACK": ("raise", "primary")}
    picked = {}
    for key, allowed in choices.items():
        value = raw.get(key, getattr(Config, key.lower()))
        if value not in allowed:
            fail(f"[{key!r}]", f"{value!r} is not one of {list(allowed)}", f"use {allowed[0]!r}")
        picked[key.lower()] = value
    return Config(sources, **numbers, **picked)


@dataclass
class RequestState:
    """What one request (or a `ryw_scope`) knows: the session's tokens, the LSNs it wrote itself,
    and which local databases it has seen replay which LSN."""
    tokens: Dict[str, int] = field(default_factory=dict)
    written: Dict[str, int] = field(default_factory=dict)
    replayed: Dict[str, int] = field(default_factory=dict)  # alias -> LSN seen replayed
    behind: Dict[str, int] = field(default_factory=dict)    # alias -> LSN it timed out on
    cross_region: bool = False  # a configured cross-region fallback read is running

    def live(self) -> Dict[str, int]:
        """Every source's L to honour now: the session's, or this request's own later write."""
        out = dict(self.tokens)
        for source, lsn in self.written.items():
            out[source] = max(lsn, out.get(source, 0))
        return out


_state: contextvars.ContextVar[Optional[RequestState]] = contextvars.ContextVar(
    "mccache_read_your_writes", default=None)


def current() -> Optional[RequestState]:
    return _state.get()


def live_tokens() -> Dict[str, int]:
    state = _state.get()
    return state.live() if state is not None else {}


class _WriteObserver:
    """An execute wrapper on a source's primary connection: any statement there counts as a
    write (a read on the primary only costs a needless short wait later; a missed write would
    break the guarantee), and L is read once its transaction has committed."""

    def __init__(self, source: str, alias: str, state: RequestState):
        self.source, self.alias, self.state = source, alias, state
        self.reading = False
        self.callback = self._record  # one object, so a pending callback can be recognised

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not self.reading and not self.state.cross_region:
            connection = connections[self.alias]
            # One read of L per transaction: skip if this transaction already waits for it.
            pending = getattr(connection, "run_on_commit", None) or ()
            if not any(entry[1] is self.callback for entry in pending):
                try:
                    transaction.on_commit(self.callback, using=self.alias)
                except transaction.TransactionManagementError:
                    # set_autocommit(False): the commit is the app's own call, with no hook to
                    # read L after it. Untracked rather than a token older than the commit.
                    log.warning("read-your-writes: writes on %r under manual transaction "
                                "management are not tracked", self.alias)
        return result

    def _record(self):
        self.reading = True
        try:
            lsn = parse_lsn(insert_lsn(connections[self.alias]))
        except DatabaseFailure as e:  # also InterfaceError: the connection is gone
            # The write committed but its position is unknown: the next reads cannot be held
            # for it. Rare (the primary went away right after the commit); say so.
            log.warning("read-your-writes: cannot read the WAL position after a commit on %r: %s",
                        self.alias, e)
            return
        finally:
            self.reading = False
        self.state.written[self.source] = max(lsn, self.state.written.get(self.source, 0))


@contextlib.contextmanager
def ryw_scope(tokens: Optional[Dict[str, int]] = None):
    """Tracks writes on every source's primary and honours `tokens` for the reads inside; the
    middleware runs each request in one. Yields the RequestState (`.written` after the block)."""
    cfg = config()
    state = RequestState(tokens=dict(tokens or {}))
    reset = _state.set(state)
    try:
        with contextlib.ExitStack() as stack:
            for name, source in cfg.sources.items():
                stack.enter_context(connections[source.primary].execute_wrapper(
                    _WriteObserver(name, source.primary, state)))
            yield state
    finally:
        _state.reset(reset)


@contextlib.contextmanager
def cross_region_reads():
    """Inside, the router sends reads to each source's primary (a configured fallback)."""
    state = _state.get()
    if state is None:  # outside a request: a scope of its own for the duration
        reset = _state.set(RequestState(cross_region=True))
        try:
            yield
        finally:
            _state.reset(reset)
        return
    before, state.cross_region = state.cross_region, True
    try:
        yield
    finally:
        state.cross_region = before


class ReadYourWritesMiddleware:
    """Put it after SessionMiddleware: it reads the session's tokens before the view runs and
    stores the LSNs of the request's own writes after it. A read that could not be served fresh
    (RegionBehind, ReplicaBehind) answers 503 with Retry-After rather than 500, for which
    SessionMiddleware would not save the session and so would lose the token."""

    def __init__(self, get_response):
        self.get_response = get_response
        config()  # a bad setting fails at start-up, naming the field

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is None:
            raise ImproperlyConfigured(
                "mccache.django_ryw.ReadYourWritesMiddleware needs request.session: list "
                "django.contrib.sessions.middleware.SessionMiddleware before it in MIDDLEWARE")
        stored = session.get(SESSION_KEY)
        with ryw_scope(session_token.live(stored, time.time())) as state:
            response = self.get_response(request)
        updated = session_token.record(stored, state.written, time.time(), config().token_ttl)
        if updated != (stored or {}):
            if updated:
                session[SESSION_KEY] = updated
            else:
                del session[SESSION_KEY]
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, (RegionBehind, ReplicaBehind)):
            response = HttpResponse(f"{exception}; retry in a moment\n", status=503,
                                    content_type="text/plain")
            response["Retry-After"] = "1"
            return response
        return None
