"""The read models, one module per view (balances, budgets, journal, meters, usage) with their
queries.
"""

from __future__ import annotations

from projections.models.balances import BalancesProjection
from projections.models.budgets import BudgetStatusProjection, definition_of
from projections.models.journal import JournalProjection, decode_row
from projections.models.meters import MetersProjection, flatten, safe_text
from projections.models.usage import ABSENT, SUBJECT_COLUMNS, UsageProjection, usage_of

__all__ = [
    "ABSENT",
    "SUBJECT_COLUMNS",
    "BalancesProjection",
    "BudgetStatusProjection",
    "JournalProjection",
    "MetersProjection",
    "UsageProjection",
    "decode_row",
    "definition_of",
    "flatten",
    "safe_text",
    "usage_of",
]
