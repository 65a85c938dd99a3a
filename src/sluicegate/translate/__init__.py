"""Pure wire-format mappings between the OpenAI chat shape and other APIs, no I/O.

Each mapping is used both ways: `providers/` call them to speak a provider's API behind the
OpenAI contract, `proxy/` calls them to serve that API's front door from any backend.

    anthropic/   Anthropic Messages ↔ OpenAI chat: requests, whole answers, stream events
    responses/   OpenAI Responses → chat requests; chat answers and chunks → Responses
    gemini.py    OpenAI chat → Gemini generateContent, and its answers and stream back
    folds.py     a chat or Messages stream joined back into the answer it spells (detail
                 logging's compact documents, cache hits of the other kind)
"""
