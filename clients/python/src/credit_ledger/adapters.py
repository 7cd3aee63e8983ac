"""Provider usage objects -> the contract's :class:`~credit_ledger.Usage`.

Providers count cached input differently, and this is exactly where double counting creeps
in (cached tokens charged once as input and again as cached input):

* OpenAI, chat completions: ``prompt_tokens`` *include*
  ``prompt_tokens_details.cached_tokens``; the responses API: ``input_tokens`` *include*
  ``input_tokens_details.cached_tokens``. Uncached input is the difference. Output is
  ``completion_tokens`` / ``output_tokens``, which already include reasoning tokens.
* Anthropic: ``input_tokens`` *exclude* both ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``. Cache reads are cached input. Cache *creation* (writing
  the prompt into the cache) is uncached input: the model read those tokens in full, and
  Anthropic bills them at or above the base input rate, never at the cached rate. The
  contract has no fourth kind, so creation tokens are added to ``input_tokens`` at the
  input rate; a price book that wants to pass on the write premium (1.25x or 2x) folds it
  into ``input_per_million`` (docs/decisions, "Python client").

Each function takes the provider's ``usage`` as a plain dict (``response["usage"]``, or
``response.usage.model_dump()``) or as the SDK object itself (attributes are read); no
provider SDK is imported. The model is passed separately because it is not part of usage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from credit_ledger.usage import Usage

__all__ = ["usage_from_anthropic", "usage_from_openai"]


def usage_from_openai(usage: Any, *, model: str) -> Usage:
    """The contract usage of an OpenAI chat completion or responses-API call.

    Raises:
        ValueError: Neither shape (no ``prompt_tokens`` nor ``input_tokens``), a count that
            is not a non-negative integer, or more cached tokens than input tokens.
    """
    if _get(usage, "prompt_tokens") is not None:  # chat completions (and embeddings)
        total = _count(usage, "prompt_tokens")
        cached = _count(_get(usage, "prompt_tokens_details"), "cached_tokens")
        output = _count(usage, "completion_tokens")
        where = "prompt_tokens"
    elif _get(usage, "input_tokens") is not None:  # responses API
        total = _count(usage, "input_tokens")
        cached = _count(_get(usage, "input_tokens_details"), "cached_tokens")
        output = _count(usage, "output_tokens")
        where = "input_tokens"
    else:
        raise ValueError("not an OpenAI usage object: no prompt_tokens or input_tokens")
    if cached > total:
        raise ValueError(f"cached_tokens ({cached}) exceed {where} ({total}), which include them")
    return Usage(
        model=model, input_tokens=total - cached, cached_input_tokens=cached, output_tokens=output
    )


def usage_from_anthropic(usage: Any, *, model: str) -> Usage:
    """The contract usage of an Anthropic Messages API call.

    ``input_tokens`` + ``cache_creation_input_tokens`` become uncached input,
    ``cache_read_input_tokens`` cached input (see the module docstring for why).

    Raises:
        ValueError: No ``input_tokens``, or a count that is not a non-negative integer.
    """
    if _get(usage, "input_tokens") is None:
        raise ValueError("not an Anthropic usage object: no input_tokens")
    uncached = _count(usage, "input_tokens") + _count(usage, "cache_creation_input_tokens")
    return Usage(
        model=model,
        input_tokens=uncached,
        cached_input_tokens=_count(usage, "cache_read_input_tokens"),
        output_tokens=_count(usage, "output_tokens"),
    )


def _get(source: Any, name: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _count(source: Any, name: str) -> int:
    """A token count; absent or null counts are 0 (providers omit zero-valued details)."""
    value = _get(source, name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return value
