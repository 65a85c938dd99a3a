"""Live logs (SPEC 7): finished requests as SSE events, resumable by cursor, across instances."""
