"""Operation builders as client methods, so that one definition serves both clients.

``debit = spend(ops_spending.debit)`` in a client class makes ``ledger.debit(...)`` take
exactly the builder's parameters (checked by mypy through ``ParamSpec``), build the Call
and carry it out: :func:`op` returns the answer, :func:`spend` the answer or, for a client
with ``on_unavailable="open"``, a :class:`~credit_ledger.Deferred`. The async variants
return coroutines. The builder's name and docstring become the method's.

``iter_wallets = every(ops_wallets.list_wallets)`` makes an iterator over every item of a
paged list: it takes the list builder's parameters (``after`` is where to start, ``limit``
the page size) and fetches each next page, passing the last ``next_after`` back as
``after`` (``cursor=`` names another parameter), only when the items of the one before
are used up. A list ends with a ``next_after`` of null (a page of it may be empty: items
removed since); a ``log=True`` list (the journal, a wallet's events: logs one may tail,
whose cursor is never null) ends with its first empty page. ``async_every`` is the
``async for`` variant.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Self, TypeVar, overload

from credit_ledger.calls import Call
from credit_ledger.reports import Page

if TYPE_CHECKING:
    from credit_ledger.aio import AsyncLedger
    from credit_ledger.client import Ledger

__all__ = ["async_every", "async_op", "async_spend", "every", "op", "spend"]

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


def _next_cursor(page: Page[Any, Any], kwargs: dict[str, Any], pages: _Pages[Any, Any]) -> bool:
    """Set the cursor for the page after ``page``; False when ``page`` was the last one."""
    if page.next_after is None or (pages.log and not page.items):
        return False
    cursor = {pages.cursor: page.next_after, **page.cursor_extras()}
    if all(kwargs.get(name) == value for name, value in cursor.items()):
        # A cursor that does not move: never loop.
        raise RuntimeError(f"the server answered the same cursor again: {cursor}")
    kwargs.update(cursor)
    return True


def _named(items: Callable[..., Any], pages: _Pages[Any, Any], instance: Any) -> Any:
    functools.update_wrapper(items, pages.build)  # the builder's signature
    items.__name__, items.__qualname__, items.__doc__ = pages.name, pages.name, pages.__doc__
    instance.__dict__[pages.name] = items  # later lookups skip the descriptor
    return items


class _Pages(Generic[P, T]):
    def __init__(
        self, build: Callable[P, Call[Page[T, Any]]], *, cursor: str = "after", log: bool = False
    ) -> None:
        self.build = build
        self.cursor = cursor
        self.log = log
        self.name = f"iter_{build.__name__.removeprefix('list_')}"
        self.__doc__ = f"Every item of ``{build.__name__}``, page after page, as an iterator."

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name


class every(_Pages[P, T]):  # noqa: N801 - used like a decorator function
    """An iterator over every item of a paged list, one page request at a time."""

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: Ledger[Any], owner: type[Any]) -> Callable[P, Iterator[T]]: ...
    def __get__(self, instance: Ledger[Any] | None, owner: type[Any]) -> Any:
        if instance is None:
            return self
        build, perform = self.build, instance._perform

        def items(*args: Any, **kwargs: Any) -> Iterator[Any]:
            while True:
                page = perform(build(*args, **kwargs))
                yield from page.items
                if not _next_cursor(page, kwargs, self):
                    return

        return _named(items, self, instance)


class async_every(_Pages[P, T]):  # noqa: N801 - used like a decorator function
    """``async for`` over every item of a paged list, one page request at a time."""

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(
        self, instance: AsyncLedger[Any], owner: type[Any]
    ) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, instance: AsyncLedger[Any] | None, owner: type[Any]) -> Any:
        if instance is None:
            return self
        build, perform = self.build, instance._perform

        async def items(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            while True:
                page = await perform(build(*args, **kwargs))
                for item in page.items:
                    yield item
                if not _next_cursor(page, kwargs, self):
                    return

        return _named(items, self, instance)
