"""Builders, fixtures and helpers shared by tests (test modules never import each other)."""

__all__: list[str] = []
