"""The credit ledger's domain: wallets, grants, holds, budgets and their double-entry events.

Pure: imports only the standard library, python-dateutil and eventsourcing.
"""
