"""What handlers, guards and middleware get from the app: the ledger, its read models and the
settings.

All live on ``app.state``: the lifespan puts the ledger and the read models there when the
app starts, and ``create_app`` puts the settings there when it is built.
"""

from __future__ import annotations

from typing import cast

from litestar.datastructures import State

from api.read_models import ReadModels
from api.settings import Settings
from ledger.app.service import CreditLedger

__all__ = [
    "LEDGER_KEY",
    "READ_MODELS_KEY",
    "SETTINGS_KEY",
    "provide_ledger",
    "provide_read_models",
    "settings_of",
]

LEDGER_KEY = "ledger"
READ_MODELS_KEY = "read_models"
SETTINGS_KEY = "settings"


def provide_ledger(state: State) -> CreditLedger:
    """The app's ledger (the ``ledger`` dependency of every handler)."""
    return cast("CreditLedger", state[LEDGER_KEY])


def provide_read_models(state: State) -> ReadModels:
    """The app's read models (the ``read_models`` dependency of the audit and admin routes)."""
    return cast("ReadModels", state[READ_MODELS_KEY])


def settings_of(state: State) -> Settings:
    """The settings the app was built with."""
    return cast("Settings", state[SETTINGS_KEY])
