"""Key management for admins: list keys and revoke one without shell access to the server.

Creating keys stays with ``portrisk apikey create`` on the server: a new secret is then printed once on
a terminal and never travels over the network.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from api.auth import AdminKey
from api.errors import ApiError
from api.keys import KeyFileError, list_keys, revoke_key
from api.schemas import KeyInfo, error_responses
from portrisk.errors import ConfigError

router = APIRouter(prefix="/v1/admin", tags=["key management"])


@router.get("/keys", response_model=list[KeyInfo], summary="List API keys",
            description="Every key (revoked ones included) without its hash. Role: admin. Audited.",
            responses=error_responses(401, 403, 503))
def get_keys(request: Request, key: AdminKey) -> list[dict[str, Any]]:
    """All keys, public fields only."""
    request.state.audit.action = "list_keys"
    keys = list_keys(request.app.state.services.keys.path)
    request.state.audit.result_count = len(keys)
    return [k.public() for k in keys]


@router.delete("/keys/{key_id}", response_model=KeyInfo, summary="Revoke an API key",
               description="The key stops working on the next request (it stays listed, marked revoked). "
                           "Role: admin. Audited.",
               responses=error_responses(401, 403, 404, 422, 503))
async def delete_key(request: Request, key: AdminKey,
                     key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", examples=["3f9a0c1b2d4e"])],
                     ) -> dict[str, Any]:
    """Revoke one key."""
    request.state.audit.action, request.state.audit.resources = "revoke_key", {"key_id": key_id}
    try:
        revoked = await run_in_threadpool(revoke_key, request.app.state.services.keys.path, key_id)
    except KeyFileError as exc:
        raise ApiError(503, "keys_unavailable", "the keys file cannot be updated; see the server log") from exc
    except ConfigError as exc:
        raise ApiError(404, "not_found", f"no API key with id {key_id}") from exc
    return revoked.public()
