"""Upstream providers: one module per API family, each translating to and from the OpenAI shape."""
