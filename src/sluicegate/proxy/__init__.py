"""The proxy hot path: raw ASGI handlers from request bytes to upstream and back."""
