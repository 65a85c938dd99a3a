"""Endpoint: what differs between the inference endpoints, as data the shared handler runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..providers.base import Chunk, Operation, Reply
from ..routing.table import Target
from .context import RequestContext


@dataclass(frozen=True, slots=True)
class Endpoint:
    op: Operation
    # The request's model name and stream flag; raises InvalidRequest.
    validate: Callable[[dict[str, Any]], tuple[str, bool]]
    # The body for one target (model swapped in, usage asked for).
    prepare: Callable[[dict[str, Any], Target], dict[str, Any]]
    # A whole reply to the bytes sent to the client, noting usage on the context.
    finish_reply: Callable[[RequestContext, Reply], bytes]
    # A batch of stream chunks to the bytes sent to the client, noting usage.
    encode_chunks: Callable[[RequestContext, list[Chunk]], bytes]
