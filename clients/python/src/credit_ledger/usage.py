"""What a request is for (:class:`Subject`) and what a model call used (:class:`Usage`)."""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec

__all__ = ["Subject", "Usage"]


class Subject(TypedDict, total=False):
    """Who or what a request is for; budgets match on these keys, and only these."""

    user_id: str
    team_id: str
    agent_id: str
    project_id: str
    feature: str
    model: str


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Tokens one model call used, as the contract counts them.

    ``input_tokens`` is uncached input only and ``cached_input_tokens`` the cached input:
    the two never overlap. The ledger rates them against the wallet's price book. Build one
    from a provider's usage object with :func:`credit_ledger.usage_from_openai` or
    :func:`credit_ledger.usage_from_anthropic`, which do the subtraction each provider needs.
    """

    model: str
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "cached_input_tokens", "output_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
        if not self.model:
            raise ValueError("model must not be empty")

    def to_json(self) -> dict[str, Any]:
        """The ``usage`` member of a request body."""
        return {
            "model": self.model,
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens,
        }

    def __add__(self, other: Usage) -> Usage:
        """Two calls' usage together (same model only): e.g. the turns of one agent step."""
        if not isinstance(other, Usage):
            return NotImplemented
        if other.model != self.model:
            raise ValueError(f"cannot add usage of {other.model!r} to usage of {self.model!r}")
        return Usage(
            model=self.model,
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )
