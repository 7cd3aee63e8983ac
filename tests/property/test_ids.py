"""The ledger's derived ids are exactly uuid5's: stored receipts, wallets and hold records are
found by them, so a faster derivation must never give a different id."""

from __future__ import annotations

import pickle
import uuid

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.ids import (
    LEDGER_NAMESPACE,
    hold_record_id,
    ledger_uuid5,
    receipt_id,
    wallet_uuid,
)


@given(st.text(max_size=300))
def test_ledger_uuid5_equals_the_standard_uuid5(name: str) -> None:
    fast, standard = ledger_uuid5(name), uuid.uuid5(LEDGER_NAMESPACE, name)
    assert fast == standard
    assert fast.version == 5
    assert fast.variant == uuid.RFC_4122
    assert str(fast) == str(standard)
    assert hash(fast) == hash(standard)
    assert pickle.loads(pickle.dumps(fast)) == standard  # noqa: S301 - our own bytes


def test_derived_ids_are_the_ones_already_stored() -> None:
    # Fixed values: any change of derivation would orphan every stored receipt and wallet.
    assert wallet_uuid("acme") == uuid.uuid5(LEDGER_NAMESPACE, "wallet/acme")
    assert str(receipt_id("acme", "k1")) == str(uuid.uuid5(LEDGER_NAMESPACE, "receipt/acme/k1"))
    assert hold_record_id("acme", "h1") == uuid.uuid5(LEDGER_NAMESPACE, "hold/acme/h1")
    assert str(wallet_uuid("acme")) == "444216da-18fd-5135-b754-4522639ac553"
