"""``/v1/api-keys``: issue and revoke API keys (admin only)."""

from __future__ import annotations

from litestar import Controller, Response, delete, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from api.errors import ApiKeyNotFound
from api.middleware.auth import ADMIN
from api.middleware.key_cache import key_cache_of
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import POSITION_HEADER
from api.routes import item_lists
from api.routes.params import PathId
from api.schemas.api_keys import ApiKeyIn, ApiKeyOut
from ledger.app.keys import issue_api_key_at, revoke_key
from ledger.app.service import CreditLedger

__all__ = ["API_KEY_ROUTES", "ApiKeyController"]


class ApiKeyController(Controller):
    """API keys, stored as events with only a digest of their secret."""

    path = "/v1/api-keys"
    tags = ["API keys"]
    guards = [ADMIN]
    security = BEARER

    list_api_keys = item_lists.list_api_keys  # GET /v1/api-keys (contract 1.1)

    @post(
        "/",
        operation_id="issueApiKey",
        summary="Issue an API key",
        status_code=HTTP_201_CREATED,
        response_headers=POSITION_HEADERS,
        sync_to_thread=True,
        responses=problems(401, 403, 422),
    )
    def issue(
        self, ledger: NamedDependency[CreditLedger], data: JSONBody[ApiKeyIn]
    ) -> Response[ApiKeyOut]:
        """Issue a key with the given scopes; the answer is the only time ``key`` is shown.

        Not replayable: the secret is never stored, so an ``Idempotency-Key`` cannot bring the
        first answer back. A key whose answer was lost should be revoked.
        """
        key, presented, position = issue_api_key_at(ledger, data.scopes, data.name)
        body = ApiKeyOut(
            key_id=key.key_id,
            key=presented,
            scopes=list(key.scopes),
            name=key.name,
            created_at=key.issued_at,
        )
        # The key list is a read model: this position is what its min_position waits for.
        headers = {} if position is None else {POSITION_HEADER: str(position)}
        return Response(body, status_code=HTTP_201_CREATED, headers=headers)

    @delete(
        "/{key_id:str}",
        operation_id="revokeApiKey",
        summary="Revoke an API key",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=problems(401, 403, 404),
    )
    def revoke(self, state: State, ledger: NamedDependency[CreditLedger], key_id: PathId) -> None:
        """Revoke a key at once, for every server process; revoking twice is harmless."""
        if not revoke_key(ledger, key_id):
            raise ApiKeyNotFound(f"API key {key_id!r} not found")
        # Other processes learn it when their ledger confirms the key (api.middleware.key_cache);
        # this one forgets it now, so it answers 401 before even reading the request's body.
        key_cache_of(state).forget(key_id)


API_KEY_ROUTES = [ApiKeyController]
