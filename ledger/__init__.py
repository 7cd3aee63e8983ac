"""The credit ledger: an event-sourced, double-entry wallet domain and the application on it.

Packages, lowest layer first (import-linter enforces the order, see pyproject.toml):

* :mod:`ledger.domain`   the wallet aggregate, its events and rules; pure
* :mod:`ledger.metering` usage, ingest checks, meters, price books
* :mod:`ledger.alerts`   webhooks and alert settings
* :mod:`ledger.access`   API keys
* :mod:`ledger.store`    persistence (SQL, recorders, store URLs); reached only from the app
* :mod:`ledger.app`      the application services, the write paths, shards and reads

Import names from the package that owns them; this package itself exports nothing, so that
importing a pure module never loads the application or a database driver.
"""

__all__: list[str] = []
