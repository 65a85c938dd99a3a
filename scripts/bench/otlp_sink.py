"""An OTLP/HTTP sink for the bench's `otel` phase: accepts POST /v1/traces, answers 200 at once
and keeps the bodies; on SIGTERM decodes them (spans received, batches, bytes), prints
`BENCH_JSON {...}` and exits. Prints `ready` once listening.

Raw asyncio streams, no HTTP framework: this runs pinned to the load core beside wrk and the
mock, so it must cost little while the load runs; decoding waits until the load is over.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"


class Sink:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                self.bodies.append(await reader.readexactly(length))
                writer.write(ANSWER)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def summary(self) -> dict[str, int]:
        spans = -1  # the protos are not importable here: spans not counted
        try:
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceRequest,
            )
        except ImportError:
            pass
        else:
            spans = 0
            for body in self.bodies:
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    spans += sum(len(scope.spans) for scope in resource.scope_spans)
        return {"batches": len(self.bodies), "bytes": sum(map(len, self.bodies)), "spans": spans}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sink = Sink()
    server = await asyncio.start_server(sink.serve, "127.0.0.1", args.port)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    print("BENCH_JSON " + json.dumps(sink.summary()), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
