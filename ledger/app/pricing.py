"""Price book commands and reads, and rating usage against a wallet's price book.

* :meth:`Pricing.put_price_book` makes the given rates the next version of a price
  book (idempotent like every command; keys are server-wide, scope ``PRICE_BOOKS_SCOPE``).
  A PUT whose unit and rates equal the current version records no new version: it answers
  the current one with ``created`` False (and still records the client's key).
* :meth:`Pricing.price_book` reads the current version or an earlier one.
* :meth:`Pricing.rating_for` rates usage for a wallet at decision time, against the
  *current* version of the wallet's price book, read from the store as the command is
  decided; the version used is recorded on the event, so a later price change never
  alters what was charged. The rule itself is :func:`ledger.metering.price_books.rate_for_model`,
  the same for billed usage events (``ledger.app.service_usage``). A wallet whose price book
  has no version yet is refused ``unknown_model`` here (no model has a rate; the contract's
  answer, 422) where usage ingest names the cause, ``price_book_not_found``, in the event's
  rejection.

Price books are server-wide: they live in the home shard.
"""

from __future__ import annotations

from typing import Any

from ledger.app.application import LedgerApplication
from ledger.app.commands import PutPriceBook, key_of
from ledger.app.executor import Decision, Outcome
from ledger.domain.errors import FieldError, PriceBookNotFound, UnknownModel, ValidationFailed
from ledger.domain.ids import PRICE_BOOKS_SCOPE, price_book_uuid
from ledger.domain.rating import Rating, Usage, check_rates, rate_usage
from ledger.domain.validation import MAX_AMOUNT, check_amount, check_id
from ledger.domain.wallet import Wallet
from ledger.metering.price_books import PriceBook, PriceBookEvent, rate_for_model

__all__ = ["Pricing"]


def _usage_refused(message: str) -> ValidationFailed:
    """A ``validation_error`` naming ``usage`` that only the price book could tell."""
    return ValidationFailed(FieldError("usage", message), depends_on_state=True)


class Pricing:
    """Price book commands and reads, and rating, on the home shard ``home``."""

    def __init__(self, home: LedgerApplication) -> None:
        self.home = home

    def put_price_book(self, cmd: PutPriceBook) -> Outcome:
        """Create a price book (version 1) or record its next version.

        Body: ``price_book_id``, ``unit``, ``version``, ``rates`` (sorted by model, every rate
        with all three prices), ``created_at`` (of that version), ``latest_version`` and
        ``created`` (True only when this call made version 1: HTTP 201, else 200).
        """
        home = self.home
        check_id("price_book_id", cmd.price_book_id)
        check_id("unit", cmd.unit)
        rates = check_rates(cmd.rates)
        key, given = key_of(cmd)

        def decide(_: bool) -> Decision:
            at = home.now()
            book: PriceBook | None = home.find(price_book_uuid(cmd.price_book_id))
            if book is None:
                book = PriceBook.create(
                    price_book_id=cmd.price_book_id,
                    unit=cmd.unit,
                    rates=rates,
                    idempotency_key=key if given else None,
                    at=at,
                )
                return Decision({**book.view(), "created": True}, [book])
            changed = book.revise(
                unit=cmd.unit, rates=rates, idempotency_key=key if given else None, at=at
            )
            return Decision({**book.view(), "created": False}, [book] if changed else [])

        return home.writer.run(
            scope=PRICE_BOOKS_SCOPE,
            key=key,
            key_given=given,
            command=cmd,
            decide=decide,
            receipt_when_unchanged=True,
        )

    def price_book(self, price_book_id: str, version: int | None = None) -> dict[str, Any]:
        """The current version of a price book, or ``version`` (1, 2, ...) of it.

        Same shape as :meth:`put_price_book`'s body without ``created``.
        """
        check_id("price_book_id", price_book_id)
        if version is not None:
            check_amount("version", version)
        book: PriceBook | None = self.home.find(price_book_uuid(price_book_id))
        if book is None:
            raise PriceBookNotFound(price_book_id)
        if version is not None and version > book.latest_version:
            raise PriceBookNotFound(price_book_id, version)
        return book.view(version)

    def rating_for(self, wallet: Wallet, usage: Usage) -> Rating:
        """Rate ``usage`` for ``wallet`` against its price book's current version, now.

        Refusals: ``unknown_model`` (no rate for the model, or no version of the book yet);
        ``validation_error`` naming ``usage`` when the book's unit is not the wallet's or the
        usage rates to 0 (nothing to charge) or to more than the largest amount.
        """
        book_id = wallet.price_book_id
        latest = self.current_version(book_id)
        try:
            version, rate = rate_for_model(latest, book_id, wallet.unit, usage.model, field="usage")
        except PriceBookNotFound:
            raise UnknownModel(usage.model, book_id) from None
        rating = Rating(book_id, version, rate_usage({rate.model: rate}, usage), usage)
        if rating.amount == 0:
            raise _usage_refused(f"rates to 0 at version {rating.version}: nothing to charge")
        if rating.amount > MAX_AMOUNT:
            raise _usage_refused(f"rates to {rating.amount}, more than {MAX_AMOUNT}")
        return rating

    def current_version(self, price_book_id: str) -> PriceBookEvent | None:
        """The event of the book's current version: one indexed read, no replay or copy.

        Every version's event carries its complete rate list, so rating (on the write path)
        never needs the whole aggregate.
        """
        newest = self.home.events.get(price_book_uuid(price_book_id), desc=True, limit=1)
        event = next(iter(newest), None)
        return event if isinstance(event, PriceBookEvent) else None
