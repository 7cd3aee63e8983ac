"""Rating: token usage to an amount in the wallet's unit, in integers only.

A :class:`Rate` is integer credits (in the price book's unit) per 1,000,000 tokens, for
input, cached input and output tokens. The amount of one :class:`Usage` is

    ceil((input_tokens * input + cached_input_tokens * cached + output_tokens * output)
         / 1_000_000)

computed exactly with Python integers: the three products are summed first and the sum is
rounded once, upward, so a request is never charged less than it used and rounding never
compounds across token kinds. No float is involved at any step.

This module is pure: it checks input, rates and records; the application finds the price
book version to rate against (``ledger.app.pricing``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ledger.domain.errors import FieldError, UnknownModel, ValidationFailed
from ledger.domain.validation import check_amount, fail

__all__ = [
    "MAX_RATES",
    "TOKENS_PER_RATE",
    "Rate",
    "Rating",
    "Usage",
    "check_amount_or_usage",
    "check_capture_model",
    "check_rates",
    "check_usage",
    "rate_usage",
    "rates_by_model",
    "rating_summary",
]

TOKENS_PER_RATE = 1_000_000
"""Rates are per this many tokens."""
MAX_RATES = 1_000
"""Put a limit on everything: rates in one price book version."""
_MODEL_MAX_LENGTH = 256  # the same bound as a subject value, so a model fits ``subject.model``
_RATE_KEYS = ("input_per_million", "cached_input_per_million", "output_per_million")
_TOKEN_KEYS = ("input_tokens", "cached_input_tokens", "output_tokens")


def _check_model(field: str, model: object) -> None:
    if not isinstance(model, str) or not 1 <= len(model) <= _MODEL_MAX_LENGTH:
        raise fail(field, f"must be a string of 1-{_MODEL_MAX_LENGTH} characters")


def _prefixed(prefix: str, error: ValidationFailed) -> ValidationFailed:
    """``error`` with its fields named inside ``prefix`` (``rates[2].model``)."""
    return ValidationFailed(
        *(FieldError(f"{prefix}.{e.field}" if e.field else prefix, e.message) for e in error.errors)
    )


@dataclass(frozen=True)
class Rate:
    """The price of one model: integer credits per 1,000,000 tokens of each kind."""

    model: str
    input_per_million: int
    cached_input_per_million: int
    output_per_million: int

    def __post_init__(self) -> None:
        _check_model("model", self.model)
        for name in _RATE_KEYS:
            check_amount(name, getattr(self, name), minimum=0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Usage:
    """Tokens one model call used (or, for a hold, is expected to use at most)."""

    model: str
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0

    def __post_init__(self) -> None:
        _check_model("model", self.model)
        for name in _TOKEN_KEYS:
            check_amount(name, getattr(self, name), minimum=0)
        if not any(getattr(self, name) for name in _TOKEN_KEYS):
            raise fail("", "needs at least one token count above 0")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rating:
    """What rating decided: the amount, and the price book version it was rated against."""

    price_book_id: str
    version: int
    amount: int
    usage: Usage

    def record(self) -> dict[str, Any]:
        """The rating as recorded on the event (``rating``): the facts and the usage itself."""
        return {
            "price_book_id": self.price_book_id,
            "version": self.version,
            "amount": self.amount,
            "usage": self.usage.as_dict(),
        }


def rating_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``rating`` member of a command's result, from the recorded rating."""
    return {key: record[key] for key in ("price_book_id", "version", "amount")}


def check_capture_model(hold_subject: Mapping[str, str], rating: Mapping[str, Any] | None) -> None:
    """A capture rated from ``usage`` spends the hold's model, or is refused (contract 1.1).

    The hold's ``subject.model`` is what its budgets matched and what the usage report
    groups the capture under; another model's tokens would be charged at that model's price
    and reported under the hold's. (A debit's subject may still name a model other than its
    usage's, as an alias: it is charged and reported as one request.) The hold is stored
    state, so the refusal yields to what an idempotency key recorded before.
    """
    rated = None if rating is None else rating["usage"]["model"]
    held = hold_subject.get("model")
    if rated is not None and held is not None and rated != held:
        raise ValidationFailed(
            FieldError("usage.model", f"{rated!r} is not the hold's subject.model {held!r}"),
            depends_on_state=True,
        )


def rates_by_model(rates: Iterable[Rate]) -> dict[str, Rate]:
    return {rate.model: rate for rate in rates}


def rate_usage(rates: Mapping[str, Rate], usage: Usage) -> int:
    """The amount ``usage`` costs at ``rates`` (by model): one exact, upward rounding.

    Raises :class:`UnknownModel` when no rate names the usage's model.
    """
    rate = rates.get(usage.model)
    if rate is None:
        raise UnknownModel(usage.model)
    total = (
        usage.input_tokens * rate.input_per_million
        + usage.cached_input_tokens * rate.cached_input_per_million
        + usage.output_tokens * rate.output_per_million
    )
    return -(-total // TOKENS_PER_RATE)  # ceiling division, in integers


def check_usage(usage: object) -> Usage:
    """``usage`` as the client sent it (``model`` and token counts; absent counts are 0)."""
    if not isinstance(usage, Mapping):
        raise fail("usage", "must be an object")
    for key in usage:
        if key != "model" and key not in _TOKEN_KEYS:
            allowed = ", ".join(("model", *_TOKEN_KEYS))
            raise fail(f"usage.{key}", f"unknown key; allowed: {allowed}")
    if "model" not in usage:
        raise fail("usage.model", "is required")
    try:
        return Usage(**usage)
    except ValidationFailed as error:
        raise _prefixed("usage", error) from None


def check_amount_or_usage(
    amount: int | None, usage: object | None, *, required: bool = True
) -> Usage | None:
    """Exactly one of ``amount`` and ``usage`` (or neither, unless ``required``).

    Returns the checked usage, or None when the request gave an amount (checked too).
    """
    if amount is not None and usage is not None:
        message = "give amount or usage, not both"
        raise ValidationFailed(FieldError("amount", message), FieldError("usage", message))
    if usage is not None:
        return check_usage(usage)
    if amount is not None:
        check_amount("amount", amount)
    elif required:
        raise fail("amount", "is required unless usage is given")
    return None


def check_rates(rates: object) -> list[Rate]:
    """A price book version's rates: 1 to MAX_RATES, one per model; returned by model.

    Each rate gives ``model``, ``input_per_million`` and ``output_per_million``;
    ``cached_input_per_million`` defaults to the input rate (cached tokens are never
    cheaper than the book says, so leaving it out can never under-charge).
    """
    if not isinstance(rates, Sequence) or isinstance(rates, str):
        raise fail("rates", "must be a list")
    if not 1 <= len(rates) <= MAX_RATES:
        raise fail("rates", f"must have between 1 and {MAX_RATES} rates")
    checked: dict[str, Rate] = {}
    for index, item in enumerate(rates):
        rate = _check_rate(f"rates[{index}]", item)
        if rate.model in checked:
            raise fail(f"rates[{index}].model", f"{rate.model!r} is rated twice")
        checked[rate.model] = rate
    return [checked[model] for model in sorted(checked)]


def _check_rate(prefix: str, item: object) -> Rate:
    if not isinstance(item, Mapping):
        raise fail(prefix, "must be an object")
    for key in item:
        if key != "model" and key not in _RATE_KEYS:
            raise fail(f"{prefix}.{key}", f"unknown key; allowed: model, {', '.join(_RATE_KEYS)}")
    for key in ("model", "input_per_million", "output_per_million"):
        if key not in item:
            raise fail(f"{prefix}.{key}", "is required")
    values = dict(item)
    values.setdefault("cached_input_per_million", values["input_per_million"])
    try:
        return Rate(**values)
    except ValidationFailed as error:
        raise _prefixed(prefix, error) from None
