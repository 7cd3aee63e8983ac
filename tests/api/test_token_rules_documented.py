"""The token rules are written where clients read them: the API document and the quickstart.

Whether ``input_tokens`` includes cached tokens decides whether a cached token is charged
once or twice, and OpenAI and Anthropic report it the opposite ways.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.api import running_api

QUICKSTART = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    with running_api() as api:
        found: dict[str, Any] = api.get("/schema/openapi.json").json()["components"]["schemas"]
    return found


def test_the_api_document_says_input_tokens_excludes_cached_ones(schemas: dict[str, Any]) -> None:
    usage = schemas["UsageIn"]
    input_tokens = usage["properties"]["input_tokens"]["description"]
    cached = usage["properties"]["cached_input_tokens"]["description"]

    assert "Uncached input tokens only" in input_tokens
    assert "prompt_tokens - cached_tokens" in input_tokens  # OpenAI: subtract
    assert "Anthropic's input_tokens already exclude cache reads" in input_tokens
    assert "cache_read_input_tokens" in cached


def test_usage_event_quantities_follow_the_same_rules(schemas: dict[str, Any]) -> None:
    events = schemas["UsageEventsIn"]["properties"]["events"]["items"]

    assert "uncached input only" in events["properties"]["quantities"]["description"]


def test_the_quickstart_maps_openai_and_anthropic_usage() -> None:
    text = QUICKSTART.read_text()

    assert "`input_tokens` counts uncached input only" in text
    assert "| `prompt_tokens - cached_tokens` | `cached_tokens` | `completion_tokens` |" in text
    assert "`input_tokens + cache_creation_input_tokens` | `cache_read_input_tokens`" in text
