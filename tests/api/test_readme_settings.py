"""README's settings table names every setting the service reads from ``LEDGER_*``."""

from __future__ import annotations

import re
from pathlib import Path

from api.logs import LogSettings
from api.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    table = "\n".join(line for line in README.read_text().splitlines() if line.startswith("| `"))
    documented = set(re.findall(r"`(LEDGER_[A-Z_]+)`", table))
    fields = [*Settings.model_fields, *LogSettings.model_fields]

    assert {f"LEDGER_{name.upper()}" for name in fields} - documented == set()
