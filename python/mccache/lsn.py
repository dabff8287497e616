"""PostgreSQL log sequence numbers (LSNs) as the read-your-writes token and the region watermark
carry them: the text form `X/Y` (two 32-bit hex halves, as `pg_lsn` prints), compared as numbers.

Pure functions, no I/O. A watermark that is absent or unparsable is *unknown* (None), and unknown is
never "caught up": the region may have lost it (a memcached restart) or withdrawn it (slot loss).
"""
import re
from typing import Optional, Union

_LSN_TEXT = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


def parse_lsn(text: Union[str, bytes]) -> int:
    """`0/16B3748` -> 23803720. Raises ValueError on anything that is not PostgreSQL's text form
    (int(x, 16) alone would accept signs, `0x` and underscores)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    if not isinstance(text, str):
        raise ValueError(f"LSN must be text like '0/16B3748', got {type(text).__name__}")
    m = _LSN_TEXT.fullmatch(text)
    if m is None:
        raise ValueError(f"invalid LSN {text!r}: expected two hex numbers of up to 8 digits, "
                         "'X/Y', as pg_current_wal_insert_lsn() prints")
    return (int(m.group(1), 16) << 32) | int(m.group(2), 16)


def format_lsn(lsn: int) -> str:
    """23803720 -> `0/16B3748` (upper-case hex, as PostgreSQL and the invalidator write it)."""
    if not 0 <= lsn < 1 << 64:
        raise ValueError(f"LSN {lsn} is outside 0 .. 2^64-1")
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def as_lsn(value: Union[int, str, bytes]) -> int:
    """A token as callers hand it over: an int, or the text form."""
    if isinstance(value, bool):
        raise ValueError("LSN must be an int or 'X/Y' text, not a bool")
    if isinstance(value, int):
        format_lsn(value)  # range check
        return value
    return parse_lsn(value)


def watermark_from_reply(raw: Optional[bytes]) -> Optional[int]:
    """The watermark key's value as memcached returned it: its LSN, or None (unknown) when the key
    is absent or holds anything but an LSN."""
    if raw is None:
        return None
    try:
        return parse_lsn(raw)
    except ValueError:
        return None


def reached(watermark: Optional[int], min_lsn: int) -> bool:
    """True when the region has applied everything up to `min_lsn`; unknown never has."""
    return watermark is not None and watermark >= min_lsn
