"""The service's version, read from the installed package's metadata (``pyproject.toml``).

One source: ``ledger --version`` and the OpenAPI document's ``info.version`` both show it, so
neither can drift from the version the package was built with.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["DISTRIBUTION", "VERSION", "package_version"]

DISTRIBUTION = "credit-ledger"
"""The distribution name in ``pyproject.toml`` (``[project] name``)."""


def package_version() -> str:
    """The installed distribution's version; ``0+unknown`` when run from an uninstalled tree."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"


VERSION = package_version()
