"""msgspec Structs of the HTTP contract: request bodies (strict) and response bodies.

Request Structs forbid unknown fields and carry the contract's constraints, and each builds
its ledger command (``to_command``). Response Structs are filled from the ledger's result
dicts with ``api.rendering.render`` and ignore keys they do not name, so the ledger may add
facts without changing the wire format.
"""

__all__: list[str] = []
