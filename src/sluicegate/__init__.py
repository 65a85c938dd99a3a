"""sluicegate: an OpenAI-compatible LLM gateway that stays correct when streams break.

Package map (each line: what the package owns):
  config     the YAML file as typed models; `${VAR}` substitution; embedded defaults
  auth       API keys → principals; which models a principal may use
  routing    public model names → ordered upstream targets (strategies, fallbacks, health)
  providers  one module per upstream API family, no knowledge of the gateway
  proxy      the hot path: raw ASGI handlers, the attempt loop and the SSE relay
  hooks      what reacts to a finished request (log, limits, metrics, live events)
  mock       the fault-injecting mock upstream used by tests and benchmarks
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
