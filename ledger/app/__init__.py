"""The application: the ledger services over the domain (commands, the write loop and group commit,
shard routing, reads, pricing, usage ingest, meters, alerting, keys), and the only layer that
reaches :mod:`ledger.store`.
"""

from __future__ import annotations

from ledger.app.alerting import Alerting, DeleteWebhook, PutAlertSettings, PutWebhook
from ledger.app.application import MAX_ATTEMPTS, LedgerApplication, utc_now
from ledger.app.audit import (
    MAX_LIMIT,
    WINDOWS,
    check_page_limit,
    check_usage_query,
    journal,
    journal_rows,
    trial_balance,
    usage_series,
)
from ledger.app.batching import Decided, WalletCache
from ledger.app.bootstrap import Services, ShardCountMismatch, open_shards, store_env, wire
from ledger.app.commands import (
    ADDED_LATER,
    CaptureHold,
    Command,
    Debit,
    GrantCredits,
    IngestUsage,
    OpenWallet,
    PlaceHold,
    PutPriceBook,
    Refund,
    ReleaseHold,
    RemoveBudget,
    SetBudget,
    VoidGrant,
    key_of,
)
from ledger.app.committer import Committer
from ledger.app.direct import DirectWriter
from ledger.app.executor import Decision, Outcome, StripedLocks, backoff_seconds
from ledger.app.holds import HoldRecords
from ledger.app.keys import find_key, issue_api_key, issue_key, revoke_key, verify_key
from ledger.app.meters import METERS_SCOPE, PutMeter, find_meter, meter_definition, put_meter
from ledger.app.ports import WAIT_SECONDS, Act, Fence, Job, ShardStore, Writer, settle, timed_out
from ledger.app.pricing import Pricing
from ledger.app.reads import Reads
from ledger.app.reshard import PAGE, ReshardReport, SourceChanged, TargetNotEmpty
from ledger.app.service import CreditLedger
from ledger.app.service_usage import ShardIngest
from ledger.app.shard_ingest import UsageIngest, merge_outcomes, split_by_shard
from ledger.app.shards import (
    MAX_SHARDS,
    SHARD_BITS,
    Sharded,
    ShardEnvironment,
    decode_position,
    encode_position,
    on_wallet_shard,
    route,
    shard_name,
    shard_of,
    sqlite_shard_path,
)
from ledger.app.snapshots import Snapshotter
from ledger.app.spending import DEFAULT_HOLD_DURATION, MAX_FUTURE_SKEW, Spending
from ledger.app.wallets import ExpireDue, Wallets

__all__ = [
    "ADDED_LATER",
    "DEFAULT_HOLD_DURATION",
    "MAX_ATTEMPTS",
    "MAX_FUTURE_SKEW",
    "MAX_LIMIT",
    "MAX_SHARDS",
    "METERS_SCOPE",
    "PAGE",
    "SHARD_BITS",
    "WAIT_SECONDS",
    "WINDOWS",
    "Act",
    "Alerting",
    "CaptureHold",
    "Command",
    "Committer",
    "CreditLedger",
    "Debit",
    "Decided",
    "Decision",
    "DeleteWebhook",
    "DirectWriter",
    "ExpireDue",
    "Fence",
    "GrantCredits",
    "HoldRecords",
    "IngestUsage",
    "Job",
    "LedgerApplication",
    "OpenWallet",
    "Outcome",
    "PlaceHold",
    "Pricing",
    "PutAlertSettings",
    "PutMeter",
    "PutPriceBook",
    "PutWebhook",
    "Reads",
    "Refund",
    "ReleaseHold",
    "RemoveBudget",
    "ReshardReport",
    "Services",
    "SetBudget",
    "ShardCountMismatch",
    "ShardEnvironment",
    "ShardIngest",
    "ShardStore",
    "Sharded",
    "Snapshotter",
    "SourceChanged",
    "Spending",
    "StripedLocks",
    "TargetNotEmpty",
    "UsageIngest",
    "VoidGrant",
    "WalletCache",
    "Wallets",
    "Writer",
    "backoff_seconds",
    "check_page_limit",
    "check_usage_query",
    "decode_position",
    "encode_position",
    "find_key",
    "find_meter",
    "issue_api_key",
    "issue_key",
    "journal",
    "journal_rows",
    "key_of",
    "merge_outcomes",
    "meter_definition",
    "on_wallet_shard",
    "open_shards",
    "put_meter",
    "revoke_key",
    "route",
    "settle",
    "shard_name",
    "shard_of",
    "split_by_shard",
    "sqlite_shard_path",
    "store_env",
    "timed_out",
    "trial_balance",
    "usage_series",
    "utc_now",
    "verify_key",
    "wire",
]
