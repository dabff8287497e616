"""Python side of mccache: a lease-aware memcached client (stdlib only) and a Django cache backend."""
from .client import Client, LeaseResult, ProtocolError, ServerError

__all__ = ["Client", "LeaseResult", "ProtocolError", "ServerError"]
