"""Authentication and authorization: API keys to principals, principals to allowed models."""
