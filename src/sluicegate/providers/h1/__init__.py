"""A small HTTP/1.1 client for upstream calls, on httptools (decision 38)."""

from .connection import Response, UpstreamClosed, UpstreamProtocolError
from .pool import ConnectFailed, Pool

__all__ = ["ConnectFailed", "Pool", "Response", "UpstreamClosed", "UpstreamProtocolError"]
