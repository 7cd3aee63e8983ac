"""The API documentation pages (``/schema``, ``/schema/swagger``, ``/schema/redoc``,
``/schema/elements``, ``/schema/rapidoc``) with their JavaScript and CSS served by the service.

litestar's render plugins load those from public CDNs by default, so on a machine without
internet access every page stayed blank. The files are vendored under ``api/static/openapi``
(one folder per npm package and version, with the package's licence files) and served at
``/schema/assets/...`` (no API key, like the pages; cached for a year since a new version is a
new folder). The pages also name no external favicon or web font, and the one address a
bundle itself loads from a CDN (Redoc's "API docs by Redocly" logo) is replaced when fetched
(:attr:`AssetPackage.patches`; the image is then left out).

:data:`ASSETS` is the one list of what is vendored; ``scripts/fetch_openapi_assets.py``
refetches exactly that with ``npm pack``, and a test checks the folders match it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RapidocRenderPlugin,
    RedocRenderPlugin,
    StoplightRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.static_files import create_static_files_router

__all__ = [
    "ASSETS",
    "ASSETS_DIR",
    "ASSETS_PATH",
    "ELEMENTS",
    "RAPIDOC",
    "REDOC",
    "SWAGGER_UI",
    "AssetPackage",
    "assets_router",
    "render_plugins",
]

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "openapi"
ASSETS_PATH = "/schema/assets"
_NO_FAVICON = "<link rel='icon' href='data:,'>"  # no request at all (the default is a CDN's)
_YEAR_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class AssetPackage:
    """Files of one npm package that a documentation page loads, and its licence files."""

    npm: str
    version: str
    files: tuple[str, ...]
    licences: tuple[str, ...]
    patches: tuple[tuple[str, str, str], ...] = ()
    """``(file, text, replacement)``: a public address a file loads, replaced when fetched."""

    @property
    def folder(self) -> str:
        """``<name>-<version>``, the folder under :data:`ASSETS_DIR` (and in the URL)."""
        return f"{self.npm.removeprefix('@').replace('/', '-')}-{self.version}"

    def url(self, file: str) -> str:
        """Where the service serves ``file`` (one of :attr:`files`)."""
        if file not in self.files:
            raise ValueError(f"{file} is not vendored from {self.npm}")
        return f"{ASSETS_PATH}/{self.folder}/{file}"


SWAGGER_UI = AssetPackage(
    "swagger-ui-dist",
    "5.36.0",
    files=("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"),
    licences=(
        "LICENSE",
        "NOTICE",
        "swagger-ui-bundle.js.LICENSE.txt",
        "swagger-ui-standalone-preset.js.LICENSE.txt",
    ),
)
REDOC = AssetPackage(
    "redoc",
    "2.5.4",
    files=("bundles/redoc.standalone.js",),
    licences=("LICENSE", "bundles/redoc.standalone.js.LICENSE.txt"),
    patches=(
        ("bundles/redoc.standalone.js", "https://cdn.redoc.ly/redoc/logo-mini.svg", "data:,"),
    ),
)
ELEMENTS = AssetPackage(  # the major version litestar's page is written for
    "@stoplight/elements",
    "7.7.18",
    files=("web-components.min.js", "styles.min.css"),
    licences=("LICENSE", "web-components.min.js.LICENSE.txt"),
)
RAPIDOC = AssetPackage(
    "rapidoc",
    "9.3.8",
    files=("dist/rapidoc-min.js",),
    licences=("LICENSE.txt", "dist/rapidoc-min.js.LICENSE.txt"),
)
ASSETS = (SWAGGER_UI, REDOC, ELEMENTS, RAPIDOC)
"""Every vendored package (``scripts/fetch_openapi_assets.py`` fetches these)."""


class _RapidocWithoutWebFonts(RapidocRenderPlugin):
    """RapiDoc's page without its web fonts, which it would load from a public CDN."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        page = super().render(request, openapi_schema)
        return page.replace(b"<rapi-doc ", b'<rapi-doc load-fonts="false" ', 1)


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """The documentation pages, each loading its assets from this service.

    Redoc is also the page at ``/schema`` itself, as it was with litestar's defaults.
    """
    return [
        RedocRenderPlugin(
            js_url=REDOC.url("bundles/redoc.standalone.js"),
            google_fonts=False,
            path="/redoc",
            favicon=_NO_FAVICON,
        ),
        SwaggerRenderPlugin(
            js_url=SWAGGER_UI.url("swagger-ui-bundle.js"),
            css_url=SWAGGER_UI.url("swagger-ui.css"),
            standalone_preset_js_url=SWAGGER_UI.url("swagger-ui-standalone-preset.js"),
            path="/swagger",
            favicon=_NO_FAVICON,
        ),
        StoplightRenderPlugin(
            js_url=ELEMENTS.url("web-components.min.js"),
            css_url=ELEMENTS.url("styles.min.css"),
            path="/elements",
            favicon=_NO_FAVICON,
        ),
        _RapidocWithoutWebFonts(
            js_url=RAPIDOC.url("dist/rapidoc-min.js"), path="/rapidoc", favicon=_NO_FAVICON
        ),
        JsonRenderPlugin(),
        YamlRenderPlugin(),
    ]


def assets_router() -> Router:
    """``GET /schema/assets/<folder>/<file>``: the vendored files (no key, long cache)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS_DIR],
        name="openapi_assets",
        cache_control=CacheControlHeader(max_age=_YEAR_SECONDS, public=True, immutable=True),
        include_in_schema=False,
    )
