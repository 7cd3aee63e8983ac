"""What handlers, guards and middleware get from the app: the ledger and the settings.

Both live on ``app.state``: the lifespan puts the ledger there when the app starts, and
``create_app`` puts the settings there when it is built.
"""

from __future__ import annotations

from typing import cast

from litestar.datastructures import State

from api.settings import Settings
from ledger.service import CreditLedger

__all__ = ["LEDGER_KEY", "SETTINGS_KEY", "provide_ledger", "settings_of"]

LEDGER_KEY = "ledger"
SETTINGS_KEY = "settings"


def provide_ledger(state: State) -> CreditLedger:
    """The app's ledger (the ``ledger`` dependency of every handler)."""
    return cast("CreditLedger", state[LEDGER_KEY])


def settings_of(state: State) -> Settings:
    """The settings the app was built with."""
    return cast("Settings", state[SETTINGS_KEY])
