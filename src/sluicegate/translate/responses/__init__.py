"""OpenAI Responses API ↔ OpenAI chat completions, as pure functions (stateless: nothing is
stored between requests, so what needs stored state is refused).

request.py   Responses request → chat request (refuses previous_response_id, built-in tools)
response.py  chat.completion → Response object, usage, ids
stream.py    chat chunks → Responses stream events (with sequence numbers), and response.failed
"""
