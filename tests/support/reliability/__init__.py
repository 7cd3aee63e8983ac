"""Helpers of the reliability tier: server processes, a cluster to crash, load, checks."""

__all__: list[str] = []
