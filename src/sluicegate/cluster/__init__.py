"""State several gateway processes keep in step through Redis (today: circuit breakers)."""
