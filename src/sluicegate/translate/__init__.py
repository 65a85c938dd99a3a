"""Pure wire-format mappings between the OpenAI chat shape and other APIs; no I/O."""
