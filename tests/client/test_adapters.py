"""Provider usage -> the contract's usage, on usage objects as the providers return them
(recorded shapes, as plain dicts and as attribute objects like the SDKs' models)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from credit_ledger import Usage, usage_from_anthropic, usage_from_openai

OPENAI_CHAT_CACHED: dict[str, Any] = {
    "prompt_tokens": 2006,
    "completion_tokens": 300,
    "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 128,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
OPENAI_CHAT_PLAIN: dict[str, Any] = {
    "prompt_tokens": 9,
    "completion_tokens": 12,
    "total_tokens": 21,
}
OPENAI_RESPONSES: dict[str, Any] = {
    "input_tokens": 5328,
    "input_tokens_details": {"cached_tokens": 4096},
    "output_tokens": 952,
    "output_tokens_details": {"reasoning_tokens": 704},
    "total_tokens": 6280,
}
OPENAI_EMBEDDINGS: dict[str, Any] = {"prompt_tokens": 8, "total_tokens": 8}
ANTHROPIC_CACHE_WRITE: dict[str, Any] = {
    "input_tokens": 21,
    "cache_creation_input_tokens": 188086,
    "cache_read_input_tokens": 0,
    "output_tokens": 393,
    "cache_creation": {"ephemeral_5m_input_tokens": 188086, "ephemeral_1h_input_tokens": 0},
    "server_tool_use": None,
    "service_tier": "standard",
}
ANTHROPIC_CACHE_READ: dict[str, Any] = {
    "input_tokens": 21,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 188086,
    "output_tokens": 393,
}
ANTHROPIC_PLAIN: dict[str, Any] = {"input_tokens": 12, "output_tokens": 6}


def as_object(value: Any) -> Any:
    """The dict as an SDK-like object: attributes, nested objects."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: as_object(v) for k, v in value.items()})
    return value


def test_openai_chat_prompt_tokens_include_the_cached_ones() -> None:
    usage = usage_from_openai(OPENAI_CHAT_CACHED, model="gpt-4.1")

    assert usage == Usage(
        model="gpt-4.1", input_tokens=86, cached_input_tokens=1920, output_tokens=300
    )


def test_openai_reasoning_tokens_are_already_in_the_output() -> None:
    assert usage_from_openai(OPENAI_RESPONSES, model="o4-mini").output_tokens == 952


def test_openai_responses_api_input_tokens_include_the_cached_ones() -> None:
    usage = usage_from_openai(OPENAI_RESPONSES, model="o4-mini")

    assert (usage.input_tokens, usage.cached_input_tokens) == (1232, 4096)


def test_openai_usage_without_details_has_no_cached_input() -> None:
    assert usage_from_openai(OPENAI_CHAT_PLAIN, model="gpt-4.1") == Usage(
        model="gpt-4.1", input_tokens=9, output_tokens=12
    )
    assert usage_from_openai(
        {**OPENAI_CHAT_PLAIN, "prompt_tokens_details": None}, model="gpt-4.1"
    ) == Usage(model="gpt-4.1", input_tokens=9, output_tokens=12)


def test_openai_embeddings_usage_is_input_only() -> None:
    assert usage_from_openai(OPENAI_EMBEDDINGS, model="text-embedding-3-small") == Usage(
        model="text-embedding-3-small", input_tokens=8
    )


def test_openai_sdk_objects_are_read_by_attribute() -> None:
    for shape in (OPENAI_CHAT_CACHED, OPENAI_RESPONSES):
        assert usage_from_openai(as_object(shape), model="m") == usage_from_openai(shape, model="m")


def test_anthropic_cache_writes_are_uncached_input_and_reads_are_cached_input() -> None:
    written = usage_from_anthropic(ANTHROPIC_CACHE_WRITE, model="claude-sonnet-4")
    read = usage_from_anthropic(ANTHROPIC_CACHE_READ, model="claude-sonnet-4")

    assert written == Usage(
        model="claude-sonnet-4", input_tokens=188107, cached_input_tokens=0, output_tokens=393
    )
    assert read == Usage(
        model="claude-sonnet-4", input_tokens=21, cached_input_tokens=188086, output_tokens=393
    )


def test_anthropic_input_tokens_are_never_reduced_by_the_cache_reads() -> None:
    # input_tokens already exclude cache reads: subtracting them again (the OpenAI rule)
    # would go negative here.
    usage = usage_from_anthropic(ANTHROPIC_CACHE_READ, model="claude-sonnet-4")

    total_input = usage.input_tokens + usage.cached_input_tokens
    assert total_input == 21 + 188086


def test_anthropic_usage_without_cache_fields() -> None:
    assert usage_from_anthropic(ANTHROPIC_PLAIN, model="claude-haiku") == Usage(
        model="claude-haiku", input_tokens=12, output_tokens=6
    )
    assert usage_from_anthropic(as_object(ANTHROPIC_CACHE_WRITE), model="c") == (
        usage_from_anthropic(ANTHROPIC_CACHE_WRITE, model="c")
    )


@pytest.mark.parametrize(
    ("adapter", "shape"),
    [
        (usage_from_openai, {"completion_tokens": 3}),
        (usage_from_openai, {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 11}}),
        (usage_from_openai, {"prompt_tokens": -1}),
        (usage_from_openai, {"prompt_tokens": 1.5}),
        (usage_from_anthropic, {"output_tokens": 3}),
        (usage_from_anthropic, {"input_tokens": True}),
        (usage_from_anthropic, {"input_tokens": 3, "cache_read_input_tokens": "7"}),
    ],
)
def test_a_usage_object_that_does_not_add_up_is_refused(adapter: Any, shape: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each message names its own field
        adapter(shape, model="m")


def test_usage_of_one_model_adds_up_and_of_two_models_does_not() -> None:
    one = Usage(model="m", input_tokens=1, cached_input_tokens=2, output_tokens=3)

    assert one + one == Usage(model="m", input_tokens=2, cached_input_tokens=4, output_tokens=6)
    with pytest.raises(ValueError, match="cannot add"):
        one + Usage(model="other")
    with pytest.raises(ValueError, match="input_tokens"):
        Usage(model="m", input_tokens=-5)
