"""Guardrails: checks on what a request sends and what the model answers (docs/guardrails.md).

    base.py      Guardrail: one check, its action (block or mask) and direction
    regex.py     `regex`: a pattern of the config
    pii.py       `pii`: email, phone, credit card (Luhn), IBAN (mod 97)
    size.py      `max_input_tokens`: the estimated prompt size
    texts.py     where the texts of a body sit (per front door), so they can be read and replaced
    window.py    the sliding window that scans a stream's text across chunk boundaries
    registry.py  config → guardrails, and the plan each model runs (built-ins + user hooks)

Nothing here does I/O or knows the proxy; `proxy/guard.py` calls it at the request's edges.
"""
