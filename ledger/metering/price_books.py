"""Price books: versioned rate lists, one event-sourced aggregate per ``price_book_id``.

Every event of a price book is one version of it and carries that version's full rate list,
so the aggregate's version *is* the price book's version (1, 2, ...): two writers of the same
next version collide on the store's unique ``(id, version)`` like wallet writers do. Versions
are never edited; the aggregate keeps all of them (price books are small) so an earlier one
still answers. Rates are stored sorted by model, which makes "the same rates" mean the same
list whatever order a client sent them in.

Topics are explicit and never change: ``ledger:PriceBook``, ``ledger:PriceBook.Created``,
``ledger:PriceBook.Revised``.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from ledger.domain.errors import FieldError, PriceBookNotFound, UnknownModel, ValidationFailed
from ledger.domain.ids import price_book_uuid
from ledger.domain.rating import Rate

__all__ = [
    "PRICE_BOOK_TOPICS",
    "PriceBook",
    "PriceBookCreated",
    "PriceBookEvent",
    "PriceBookRevised",
    "rate_for_model",
    "version_of",
]


class PriceBookEvent(Aggregate.Event):
    """Base of price book events: each is one complete version of the book."""

    TOPIC: ClassVar[str]

    occurred_at: datetime
    unit: str
    rates: list[dict[str, Any]]
    idempotency_key: str | None

    def apply(self, aggregate: Any) -> None:
        book: PriceBook = aggregate
        book.versions.append(version_of(self))


class PriceBookCreated(PriceBookEvent, Aggregate.Created):
    TOPIC = "ledger:PriceBook.Created"
    price_book_id: str

    def apply(self, aggregate: Any) -> None:
        book: PriceBook = aggregate
        book.price_book_id = self.price_book_id
        super().apply(book)


class PriceBookRevised(PriceBookEvent):
    TOPIC = "ledger:PriceBook.Revised"


def rate_for_model(
    latest: PriceBookEvent | None, price_book_id: str, unit: str, model: str, *, field: str
) -> tuple[int, Rate]:
    """The rate of ``model`` in the current version of a price book (``latest``: the event
    that made it), and that version's number: the one rating rule of debits, holds and
    billed usage events (the amount is then ``rate_usage``).

    Raises:
        PriceBookNotFound: The book has no version.
        ValidationFailed: The book rates in another unit than ``unit`` (naming ``field``).
        UnknownModel: The version has no rate for ``model``.
    """
    if latest is None:
        raise PriceBookNotFound(price_book_id)
    version = version_of(latest)
    if version["unit"] != unit:
        message = (
            f"price book {price_book_id!r} rates in {version['unit']!r} but the wallet "
            f"counts {unit!r}"
        )
        raise ValidationFailed(FieldError(field, message), depends_on_state=True)
    rate = next((Rate(**r) for r in version["rates"] if r["model"] == model), None)
    if rate is None:
        raise UnknownModel(model, price_book_id)
    return version["version"], rate


def version_of(event: PriceBookEvent) -> dict[str, Any]:
    """One version of a price book, from the event that made it."""
    return {
        "version": event.originator_version,
        "unit": event.unit,
        "rates": [dict(rate) for rate in event.rates],
        "created_at": event.occurred_at,
    }


class PriceBook(Aggregate):
    TOPIC = "ledger:PriceBook"
    Event = PriceBookEvent
    Created = PriceBookCreated

    price_book_id: str
    # eventsourcing makes an annotated aggregate a dataclass and fills its __init__ from the
    # created event's fields; the versions are not one, so they start empty here.
    versions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        *,
        price_book_id: str,
        unit: str,
        rates: list[Rate],
        idempotency_key: str | None,
        at: datetime,
    ) -> PriceBook:
        """Version 1 of a new price book (``rates`` already checked and sorted)."""
        return cls._create(
            PriceBookCreated,
            id=price_book_uuid(price_book_id),
            price_book_id=price_book_id,
            occurred_at=at,
            unit=unit,
            rates=[rate.as_dict() for rate in rates],
            idempotency_key=idempotency_key,
        )

    @property
    def latest_version(self) -> int:
        return len(self.versions)

    def is_current(self, unit: str, rates: list[Rate]) -> bool:
        """Would these be the very unit and rates of the current version?"""
        current = self.versions[-1]
        return bool(current["unit"] == unit and current["rates"] == [r.as_dict() for r in rates])

    def revise(
        self, *, unit: str, rates: list[Rate], idempotency_key: str | None, at: datetime
    ) -> bool:
        """Record the next version; False (and nothing recorded) when nothing would change."""
        if self.is_current(unit, rates):
            return False
        self.trigger_event(
            PriceBookRevised,
            occurred_at=max(at, self.versions[-1]["created_at"]),
            unit=unit,
            rates=[rate.as_dict() for rate in rates],
            idempotency_key=idempotency_key,
        )
        return True

    def view(self, version: int | None = None) -> dict[str, Any]:
        """A version (the latest by default) as the API shows it; ``version`` must exist."""
        chosen = self.versions[(version or self.latest_version) - 1]
        return {
            "price_book_id": self.price_book_id,
            "unit": chosen["unit"],
            "version": chosen["version"],
            "rates": [dict(rate) for rate in chosen["rates"]],
            "created_at": chosen["created_at"],
            "latest_version": self.latest_version,
        }


PRICE_BOOK_TOPICS: list[str] = [PriceBookCreated.TOPIC, PriceBookRevised.TOPIC]

for _event_class in (PriceBookCreated, PriceBookRevised):
    register_topic(_event_class.TOPIC, _event_class)
