"""HTTP routes, one module per resource; each exports a ``*_ROUTES`` list for ``create_app``."""

__all__: list[str] = []
