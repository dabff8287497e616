"""The session token: per source, the LSN L of the session's latest write and the time after which
it no longer matters (by then the region has long applied it, or the read falls back anyway).

Pure functions over the JSON-serialisable form a session stores, `{source: ["X/Y", expires_at]}`
(`expires_at` in seconds since the epoch: sessions outlive processes, so no monotonic clock).
Malformed entries (an older format, a hand-edited session) are dropped, never trusted.
"""
from typing import Dict, Optional

from .lsn import format_lsn, parse_lsn

DEFAULT_TOKEN_TTL = 5.0


def live(stored: Optional[dict], now: float) -> Dict[str, int]:
    """The unexpired tokens as {source: LSN}."""
    out = {}
    for source, entry in (stored or {}).items() if isinstance(stored, dict) else ():
        try:
            lsn_text, expires_at = entry
            if float(expires_at) > now:
                out[source] = parse_lsn(lsn_text)
        except (TypeError, ValueError):
            continue
    return out


def record(stored: Optional[dict], writes: Dict[str, int], now: float,
           ttl: float = DEFAULT_TOKEN_TTL) -> dict:
    """The stored form after this request: unexpired tokens kept, each source written now set to
    the higher of its old and new LSN and kept `ttl` more seconds."""
    tokens = live(stored, now)
    expiry = {s: float(stored[s][1]) for s in tokens}
    for source, lsn in writes.items():
        tokens[source] = max(lsn, tokens.get(source, 0))
        expiry[source] = now + ttl
    return {s: [format_lsn(lsn), expiry[s]] for s, lsn in sorted(tokens.items())}
