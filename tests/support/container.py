"""Reading the Dockerfile and docker-compose.yml without Docker, for the container tests.

Docker cannot run where the tests run, so the tests read what it would: the Dockerfile's
instructions in order (:func:`dockerfile`) and each compose service with its environment
interpolated as ``docker compose`` would from a given shell environment (:func:`compose_service`).
:func:`local_argv` turns a container command line into one that runs here (the ``ledger`` and
``python`` of this virtualenv).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DOCKERFILE",
    "REPO_ROOT",
    "Instruction",
    "compose",
    "compose_service",
    "dockerfile",
    "interpolate",
    "local_argv",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?)([-?])([^}]*))?\}")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: ``RUN``, ``COPY``, ... and its text after the keyword."""

    keyword: str
    text: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form ``CMD``/``HEALTHCHECK CMD``/``ENTRYPOINT``."""
        start = self.text.index("[")
        argv: list[str] = json.loads(self.text[start:])
        return argv

    def env(self) -> dict[str, str]:
        """The variables an ``ENV`` instruction sets (``KEY=value`` pairs)."""
        return dict(pair.split("=", 1) for pair in self.text.split())


def dockerfile(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions of ``path`` in order, continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, text = whole.partition(" ")
        instructions.append(Instruction(keyword.upper(), text.strip()))
    return instructions


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` and ``${VAR:?error}`` as compose does."""

    def one(match: re.Match[str]) -> str:
        name, colon, kind, argument = match.groups()
        present = name in environ and (not colon or environ[name] != "")
        if kind == "-":
            return environ[name] if present else argument
        if kind == "?" and not present:
            raise ValueError(f"compose needs {name}: {argument}")
        return environ.get(name, "")

    return _VARIABLE.sub(one, value).replace("$$", "$")


def compose() -> dict[str, Any]:
    """docker-compose.yml as data (YAML anchors and ``<<`` merge keys resolved)."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def compose_service(name: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Service ``name`` with its ``environment`` interpolated from ``environ`` (empty: the
    defaults written in the file)."""
    service: dict[str, Any] = dict(compose()["services"][name])
    raw = service.get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    service["environment"] = {k: interpolate(str(v), environ or {}) for k, v in raw.items()}
    return service


def local_argv(argv: list[str]) -> list[str]:
    """A container command line run here: ``ledger`` and ``python`` of this interpreter."""
    programs = {
        "ledger": str(Path(sys.executable).with_name("ledger")),
        "python": sys.executable,
    }
    return [programs.get(argv[0], argv[0]), *argv[1:]]
