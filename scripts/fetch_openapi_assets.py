"""Refetch the vendored API documentation assets (api/static/openapi) with ``npm pack``.

    make openapi-assets        # or: .venv/bin/python scripts/fetch_openapi_assets.py

Each package of ``api.openapi_ui.ASSETS`` is fetched at its pinned version by the npm client
(from whatever registry npm is configured with), and only the files the pages load and the
package's licence files are kept, in ``<name>-<version>/`` folders; the few public addresses a
bundle would load by itself are replaced (``AssetPackage.patches``). To move to another version,
change it in api/openapi_ui.py, run this, and commit the folder it replaced. Needs ``npm``;
serving the pages needs nothing but the committed files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from api.openapi_ui import ASSETS, ASSETS_DIR, AssetPackage


def _unpack(package: AssetPackage, work: Path, into: Path) -> None:
    packed = subprocess.run(  # noqa: S603 - npm with a fixed package name and version
        ["npm", "pack", "--silent", f"{package.npm}@{package.version}"],  # noqa: S607
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    with tarfile.open(work / packed) as archive:
        for name in (*package.files, *package.licences):
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise FileNotFoundError(f"{package.npm}@{package.version} has no {name}")
            content = member.read()
            for file, text, replacement in package.patches:
                if file == name:
                    if content.count(text.encode()) != 1:
                        raise ValueError(f"{name} of {package.npm}: {text!r} is not there once")
                    content = content.replace(text.encode(), replacement.encode())
            target = into / package.folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fresh = work / "openapi"
        for package in ASSETS:
            _unpack(package, work, fresh)
            print(f"fetched {package.npm}@{package.version}", file=sys.stderr)  # noqa: T201
        shutil.rmtree(ASSETS_DIR, ignore_errors=True)
        shutil.copytree(fresh, ASSETS_DIR)
    print(f"wrote {ASSETS_DIR}", file=sys.stderr)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
