"""Anthropic Messages API ↔ OpenAI chat completions, both directions, as pure functions.

common.py    stop reasons, usage, the `max_tokens` default, error types
request.py   chat request → Messages request, and Messages request → chat request
response.py  Message → chat.completion, and chat.completion → Message
stream.py    Messages stream events → chat chunks, and chat chunks → Messages events
"""
