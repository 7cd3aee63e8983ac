"""scripts/_browser.sh: the test command installs chromium and its driver when they are missing
(a fresh CI machine has neither), and leaves an equipped machine alone."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
_FAKE_APT = """#!/bin/bash
echo "$*" >> "{log}"
"""
_FAKE_SUDO = """#!/bin/bash
shift  # -n
exec "$@"
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH holding a recording apt-get and the few tools the script calls, nothing else."""
    directory = tmp_path / "bin"
    directory.mkdir()
    _executable(directory / "apt-get", _FAKE_APT.format(log=tmp_path / "apt.log"))
    _executable(directory / "sudo", _FAKE_SUDO)  # used when the tests do not run as root
    for tool in ("id",):
        found = shutil.which(tool)
        assert found is not None
        (directory / tool).symlink_to(found)
    return directory


def _ensure(bin_dir: Path) -> str:
    done = subprocess.run(  # noqa: S603 - our own script, under bash
        [
            "/bin/bash",
            "-c",
            f'source "{REPO_ROOT / "scripts" / "_browser.sh"}" && ensure_browser',
        ],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr


def _apt_calls(bin_dir: Path) -> list[str]:
    log = bin_dir.parent / "apt.log"
    return log.read_text().splitlines() if log.exists() else []


def test_missing_chromium_is_installed_with_apt_get(bin_dir: Path) -> None:
    said = _ensure(bin_dir)

    assert _apt_calls(bin_dir) == ["install -y -q chromium chromium-driver"]
    assert "installing chromium and chromium-driver" in said


def test_an_equipped_machine_installs_nothing(bin_dir: Path) -> None:
    for tool in ("chromium", "chromedriver"):
        _executable(bin_dir / tool, "#!/bin/bash\n")

    assert _ensure(bin_dir) == ""
    assert _apt_calls(bin_dir) == []
