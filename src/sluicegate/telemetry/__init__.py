"""OpenTelemetry traces (SPEC 13): `traceparent` on the hot path, `otel` (the SDK) when on."""
