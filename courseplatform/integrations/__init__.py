"""Adapters to the outside world: the only modules that import an SDK."""
