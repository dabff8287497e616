"""Python side of mccache: a lease-aware memcached client (stdlib only), read-your-writes on top of
the region watermark, and a Django cache backend, middleware and router."""
from .client import Client, LeaseResult, ProtocolError, ServerError
from .fallback import CrossRegionRead, RegionBehind, ReplicaBehind, ReplicaFallback
from .lsn import format_lsn, parse_lsn
from .ryw_stats import ReadYourWritesStats
from .watermark import DEFAULT_SOURCE, watermark_key

__all__ = ["Client", "LeaseResult", "ProtocolError", "ServerError", "CrossRegionRead",
           "RegionBehind", "ReplicaBehind", "ReplicaFallback", "format_lsn", "parse_lsn",
           "ReadYourWritesStats", "DEFAULT_SOURCE", "watermark_key"]
