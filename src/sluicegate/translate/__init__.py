"""Pure wire-format mappings between the OpenAI chat shape and other APIs, no I/O.

Each mapping is used both ways: `providers/` call them to speak a provider's API behind the
OpenAI contract, `proxy/` calls them to serve that API's front door from any backend.

    anthropic/   Anthropic Messages ↔ OpenAI chat: requests, whole answers, stream events
    gemini.py    OpenAI chat → Gemini generateContent, and its answers and stream back
"""
