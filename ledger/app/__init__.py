"""The application: the ledger services over the domain (commands, the write loop and group commit,
shard routing, reads, pricing, usage ingest, meters, alerting, keys), and the only layer that
reaches :mod:`ledger.store`.
"""

from __future__ import annotations

from ledger.app.alerting import Alerting, DeleteWebhook, PutAlertSettings, PutWebhook
from ledger.app.application import CreditLedgerBase, utc_now
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
from ledger.app.bootstrap import ShardCountMismatch, store_env
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
)
from ledger.app.committer import WAIT_SECONDS, Act, Committer, Fence, Job, settle, timed_out
from ledger.app.executor import Decision, Outcome, StripedLocks, backoff_seconds
from ledger.app.keys import find_key, issue_api_key, issue_key, revoke_key, verify_key
from ledger.app.meters import METERS_SCOPE, PutMeter, find_meter, meter_definition, put_meter
from ledger.app.pricing import PricingLedger
from ledger.app.reads import LedgerReads, event_type
from ledger.app.reshard import PAGE, ReshardReport, SourceChanged, TargetNotEmpty
from ledger.app.service import DEFAULT_HOLD_DURATION, MAX_FUTURE_SKEW, CreditLedger
from ledger.app.service_base import ExpireDue, WalletService
from ledger.app.service_usage import UsageIngest
from ledger.app.shard_ingest import ShardedUsageIngest, merge_outcomes, split_by_shard
from ledger.app.shards import (
    MAX_SHARDS,
    SHARD_BITS,
    Sharded,
    ShardEnvironment,
    decode_position,
    encode_position,
    on_wallet_shard,
    shard_name,
    shard_of,
    sqlite_shard_path,
)
from ledger.app.snapshots import Snapshotter

__all__ = [
    "ADDED_LATER",
    "DEFAULT_HOLD_DURATION",
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
    "CreditLedgerBase",
    "Debit",
    "Decision",
    "DeleteWebhook",
    "ExpireDue",
    "Fence",
    "GrantCredits",
    "IngestUsage",
    "Job",
    "LedgerReads",
    "OpenWallet",
    "Outcome",
    "PlaceHold",
    "PricingLedger",
    "PutAlertSettings",
    "PutMeter",
    "PutPriceBook",
    "PutWebhook",
    "Refund",
    "ReleaseHold",
    "RemoveBudget",
    "ReshardReport",
    "SetBudget",
    "ShardCountMismatch",
    "ShardEnvironment",
    "Sharded",
    "ShardedUsageIngest",
    "Snapshotter",
    "SourceChanged",
    "StripedLocks",
    "TargetNotEmpty",
    "UsageIngest",
    "VoidGrant",
    "WalletService",
    "backoff_seconds",
    "check_page_limit",
    "check_usage_query",
    "decode_position",
    "encode_position",
    "event_type",
    "find_key",
    "find_meter",
    "issue_api_key",
    "issue_key",
    "journal",
    "journal_rows",
    "merge_outcomes",
    "meter_definition",
    "on_wallet_shard",
    "put_meter",
    "revoke_key",
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
]
