"""Routing: public model names to ordered upstream targets, with strategies and health."""
