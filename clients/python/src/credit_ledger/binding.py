"""Operation builders as client methods, so that one definition serves both clients.

``debit = spend(ops_spending.debit)`` in a client class makes ``ledger.debit(...)`` take
exactly the builder's parameters (checked by mypy through ``ParamSpec``), build the Call
and carry it out: :func:`op` returns the answer, :func:`spend` the answer or, for a client
with ``on_unavailable="open"``, a :class:`~credit_ledger.Deferred`. The async variants
return coroutines. The builder's name and docstring become the method's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Self, TypeVar, overload

from credit_ledger.calls import Call

if TYPE_CHECKING:
    from credit_ledger.aio import AsyncLedger
    from credit_ledger.client import Ledger

__all__ = ["async_op", "async_spend", "op", "spend"]

P = ParamSpec("P")
T = TypeVar("T")
D = TypeVar("D")


class _Bound(Generic[P, T]):
    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    def _method(self, run: Callable[[Call[T]], Any], instance: Any) -> Any:
        build = self.build

        @functools.wraps(build)
        def method(*args: Any, **kwargs: Any) -> Any:
            return run(build(*args, **kwargs))

        instance.__dict__[self.name] = method  # later lookups skip the descriptor
        return method


class op(_Bound[P, T]):  # noqa: N801 - used like a decorator function
    """A method that carries the Call out and returns its decoded answer."""

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: Ledger[Any], owner: type[Any]) -> Callable[P, T]: ...
    def __get__(self, instance: Ledger[Any] | None, owner: type[Any]) -> Any:
        return self if instance is None else self._method(instance._perform, instance)


class spend(_Bound[P, T]):  # noqa: N801 - used like a decorator function
    """A spending method: the answer, or a Deferred under ``on_unavailable="open"``."""

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: Ledger[D], owner: type[Any]) -> Callable[P, T | D]: ...
    def __get__(self, instance: Ledger[Any] | None, owner: type[Any]) -> Any:
        return self if instance is None else self._method(instance._spend, instance)


class async_op(_Bound[P, T]):  # noqa: N801 - used like a decorator function
    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(
        self, instance: AsyncLedger[Any], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, instance: AsyncLedger[Any] | None, owner: type[Any]) -> Any:
        return self if instance is None else self._method(instance._perform, instance)


class async_spend(_Bound[P, T]):  # noqa: N801 - used like a decorator function
    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(
        self, instance: AsyncLedger[D], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T | D]]: ...
    def __get__(self, instance: AsyncLedger[Any] | None, owner: type[Any]) -> Any:
        return self if instance is None else self._method(instance._spend, instance)
