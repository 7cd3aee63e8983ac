"""Pure rating: integer credits per 1M tokens, summed, then rounded once, upward."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain.errors import UnknownModel, ValidationFailed
from ledger.domain.rating import (
    MAX_RATES,
    Rate,
    Usage,
    check_amount_or_usage,
    check_rates,
    check_usage,
    rate_usage,
    rates_by_model,
)

MAX = 2**53 - 1

# The contract's example: 2 credits per input token, 0.5 per cached one, 8 per output one.
GPT = Rate("gpt-4.1", 2_000_000, 500_000, 8_000_000)
ONE = Rate("one", 1, 1, 1)  # one credit per million tokens of any kind
MIX = Rate("mix", 3, 1, 7)
CHEAP = Rate("cheap", 150_000, 75_000, 600_000)  # 0.15 / 0.075 / 0.6 credits per token
FREE = Rate("free", 0, 0, 0)
PER_TOKEN = Rate("per-token", 1_000_000, 1_000_000, 1_000_000)
TOP = Rate("top", MAX, MAX, MAX)
ODD = Rate("odd", 1_000_001, 0, 0)
RATES = rates_by_model([GPT, ONE, MIX, CHEAP, FREE, PER_TOKEN, TOP, ODD])


@pytest.mark.parametrize(
    ("model", "input_tokens", "cached", "output", "credits"),
    [
        # contract example: 1200·2 + 350·8 = 2400 + 2800
        ("gpt-4.1", 1200, 0, 350, 5200),
        # with cached tokens: 1200·2 + 800·0.5 + 350·8 = 2400 + 400 + 2800
        ("gpt-4.1", 1200, 800, 350, 5600),
        # 1 cached token at 0.5 credits rounds up to 1
        ("gpt-4.1", 0, 1, 0, 1),
        # exactly 1,000,000 at rate 1 is exactly 1 credit: no rounding up
        ("one", 1_000_000, 0, 0, 1),
        ("one", 0, 0, 1_000_000, 1),
        # one token more is a started second credit
        ("one", 1_000_001, 0, 0, 2),
        # 1 token at rate 1 is 1/1,000,000 of a credit: charged 1
        ("one", 1, 0, 0, 1),
        ("one", 999_999, 0, 0, 1),
        # the kinds are summed before the one rounding: 999,999 + 1 = 1,000,000 → 1, not 2
        ("one", 999_999, 0, 1, 1),
        ("one", 500_000, 500_000, 0, 1),
        ("one", 2_000_000, 0, 1, 3),
        # 333,333·3 + 1·1 + 95,238·7 = 999,999 + 1 + 666,666 = 1,666,666 → 2
        ("mix", 333_333, 1, 95_238, 2),
        # 10·0.15 = 1.5 → 2; 7·0.15 + 3·0.6 = 1.05 + 1.8 = 2.85 → 3
        ("cheap", 10, 0, 0, 2),
        ("cheap", 7, 0, 3, 3),
        # 20·0.15 + 40·0.075 = 3 + 3 = 6 exactly
        ("cheap", 20, 40, 0, 6),
        # a free model rates to 0 (the application refuses to charge 0)
        ("free", 1000, 1000, 1000, 0),
        # near 2**53: exact, where a float would already round
        ("per-token", MAX, 0, 0, MAX),
        ("one", MAX, 0, 0, 9_007_199_255),  # 9,007,199,254.740991 → up
        ("odd", MAX, 0, 0, 9_007_208_261_940_246),  # 9007208261940245.740991 → up
        # the largest rate on the largest counts: 3·(2**53-1)**2 / 1e6, exactly, rounded up
        ("top", MAX, MAX, MAX, 243_388_915_243_819_991_044_171_487),
    ],
)
def test_rates_usage_to_hand_computed_credits(
    model: str, input_tokens: int, cached: int, output: int, credits: int
) -> None:
    # Given usage of one model / When it is rated
    usage = Usage(model, input_tokens, cached, output)

    # Then the amount is the hand-computed one
    assert rate_usage(RATES, usage) == credits


def test_big_results_are_exact_integers_not_floats() -> None:
    # Given a count where float division would lose the remainder
    usage = Usage("odd", input_tokens=MAX)

    # When rated / Then the result is an int, one above the exact floor
    amount = rate_usage(RATES, usage)
    assert type(amount) is int
    assert amount == MAX * 1_000_001 // 1_000_000 + 1


def test_a_model_without_a_rate_is_unknown() -> None:
    with pytest.raises(UnknownModel) as refused:
        rate_usage(RATES, Usage("gpt-9", input_tokens=1))

    assert refused.value.code == "unknown_model"
    assert refused.value.details() == {"model": "gpt-9", "price_book_id": None}


def _field_of(error: ValidationFailed) -> list[str]:
    return [e.field for e in error.errors]


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ({"model": "m", "input_tokens": -1}, "usage.input_tokens"),
        ({"model": "m", "output_tokens": 1.0}, "usage.output_tokens"),
        ({"model": "m", "cached_input_tokens": True}, "usage.cached_input_tokens"),
        ({"model": "m", "input_tokens": "5"}, "usage.input_tokens"),
        ({"model": "m", "input_tokens": MAX + 1}, "usage.input_tokens"),
        ({"model": "m"}, "usage"),
        ({"model": "m", "input_tokens": 0, "output_tokens": 0}, "usage"),
        ({"model": "", "input_tokens": 1}, "usage.model"),
        ({"model": 7, "input_tokens": 1}, "usage.model"),
        ({"model": "m" * 257, "input_tokens": 1}, "usage.model"),
        ({"input_tokens": 1}, "usage.model"),
        ({"model": "m", "input_tokens": 1, "reasoning_tokens": 1}, "usage.reasoning_tokens"),
        (["m", 1], "usage"),
    ],
)
def test_bad_usage_is_a_validation_error_naming_the_field(usage: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_usage(usage)

    assert _field_of(refused.value) == [field]
    assert refused.value.depends_on_state is False


def test_absent_token_counts_are_zero() -> None:
    assert check_usage({"model": "m", "output_tokens": 5}) == Usage("m", 0, 0, 5)


def test_amount_and_usage_are_exclusive() -> None:
    # Both → both fields named; neither → amount named (unless not required)
    with pytest.raises(ValidationFailed) as both:
        check_amount_or_usage(5, {"model": "m", "input_tokens": 1})
    with pytest.raises(ValidationFailed) as neither:
        check_amount_or_usage(None, None)

    assert _field_of(both.value) == ["amount", "usage"]
    assert _field_of(neither.value) == ["amount"]
    assert check_amount_or_usage(None, None, required=False) is None
    assert check_amount_or_usage(5, None) is None
    assert check_amount_or_usage(None, {"model": "m", "input_tokens": 1}) == Usage("m", 1)


def test_rates_are_checked_sorted_by_model_and_cached_defaults_to_input() -> None:
    # Given rates out of order, one without a cached price
    given = [
        {"model": "b", "input_per_million": 3, "output_per_million": 4},
        {
            "model": "a",
            "input_per_million": 1,
            "cached_input_per_million": 0,
            "output_per_million": 2,
        },
    ]

    # When checked / Then sorted by model, the missing cached price is the input price
    assert check_rates(given) == [Rate("a", 1, 0, 2), Rate("b", 3, 3, 4)]


@pytest.mark.parametrize(
    ("rates", "field"),
    [
        ([], "rates"),
        ("gpt", "rates"),
        ({"model": "m"}, "rates"),
        (["m"], "rates[0]"),
        ([{"input_per_million": 1, "output_per_million": 1}], "rates[0].model"),
        ([{"model": "m", "output_per_million": 1}], "rates[0].input_per_million"),
        ([{"model": "m", "input_per_million": 1}], "rates[0].output_per_million"),
        (
            [{"model": "m", "input_per_million": -1, "output_per_million": 1}],
            "rates[0].input_per_million",
        ),
        (
            [{"model": "m", "input_per_million": 1.5, "output_per_million": 1}],
            "rates[0].input_per_million",
        ),
        (
            [{"model": "m", "input_per_million": 1, "output_per_million": MAX + 1}],
            "rates[0].output_per_million",
        ),
        (
            [{"model": "m", "input_per_million": 1, "output_per_million": 1, "currency": "USD"}],
            "rates[0].currency",
        ),
        (
            [
                {"model": "m", "input_per_million": 1, "output_per_million": 1},
                {"model": "m", "input_per_million": 2, "output_per_million": 2},
            ],
            "rates[1].model",
        ),
        (
            [
                {"model": f"m{i}", "input_per_million": 1, "output_per_million": 1}
                for i in range(MAX_RATES + 1)
            ],
            "rates",
        ),
    ],
)
def test_bad_rates_are_a_validation_error_naming_the_field(rates: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_rates(rates)

    assert _field_of(refused.value) == [field]


def test_a_rate_at_the_limits_is_accepted() -> None:
    assert check_rates([{"model": "m", "input_per_million": 0, "output_per_million": MAX}]) == [
        Rate("m", 0, 0, MAX)
    ]
