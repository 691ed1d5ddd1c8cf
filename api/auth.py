"""Access control: API key authentication (401) and role and port authorisation (403).

| role      | may                                                                              |
|-----------|----------------------------------------------------------------------------------|
| inspector | scan queue and container decisions of its own ports; post outcomes for them      |
| security  | container decisions and scan queues of every port, shipper decisions, what-if    |
| operator  | readiness and metrics                                                            |
| admin     | everything, and key listing and revocation                                       |

Existence is never revealed to someone who may not see it: an inspector asking for a container of
another port gets exactly the 404 of a container that does not exist. Port queues are different: the
configured ports are public, so an inspector asking for another port's queue gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.keys import ApiKey, Role

API_KEY_HEADER = "X-API-Key"
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey",
    description="An API key `prk.<key id>.<secret>` from `portrisk apikey create`.")
# The same key as a bearer token, because Prometheus (before 2.55) can set no header but Authorization.
bearer = HTTPBearer(auto_error=False, scheme_name="Bearer",
                    description="The same API key as `Authorization: Bearer prk.<key id>.<secret>`.")
UNAUTHORIZED = ApiError(401, "unauthorized", f"a valid API key is required in the {API_KEY_HEADER} header "
                        "(or as a bearer token)", headers={"WWW-Authenticate": "ApiKey"})


def presented_key(request: Request) -> str | None:
    """The key the caller presented: the X-API-Key header, else an ``Authorization: Bearer`` token."""
    header = request.headers.get(API_KEY_HEADER)
    if header:
        return header
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def authenticate(request: Request, _header: Annotated[str | None, Security(api_key_header)],
                 _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> ApiKey:
    """The caller's active key; 401 when the key is missing, malformed, unknown, wrong or revoked."""
    # The two Security parameters document both ways in OpenAPI; one function reads them for the audit too.
    key = request.app.state.services.keys.verify(presented_key(request))
    if key is None:
        raise UNAUTHORIZED
    request.state.api_key = key  # the audit record names the caller
    return key


def require(*roles: Role) -> Callable[..., ApiKey]:
    """A dependency admitting the given roles (and admin); 403 for any other authenticated caller."""
    allowed = frozenset((*roles, "admin"))

    def dependency(key: Annotated[ApiKey, Depends(authenticate)]) -> ApiKey:
        if key.role not in allowed:
            raise ApiError(403, "forbidden", f"the {key.role} role may not use this endpoint")
        return key

    dependency.__name__ = f"require_{'_'.join(sorted(allowed))}"
    return dependency


def sees_port(key: ApiKey, port: str) -> bool:
    """Inspectors see their own ports; every other role admitted to a port-scoped endpoint sees all."""
    return key.role != "inspector" or port in key.ports


def check_port(key: ApiKey, port: str) -> None:
    """403 unless ``key`` may act on ``port``."""
    if not sees_port(key, port):
        raise ApiError(403, "forbidden", f"this key is not authorised for port {port!r}")


# The admitted roles of each endpoint, as parameter types (admin is always admitted).
InspectorOrSecurity = Annotated[ApiKey, Depends(require("inspector", "security"))]
SecurityKey = Annotated[ApiKey, Depends(require("security"))]
InspectorKey = Annotated[ApiKey, Depends(require("inspector"))]
OperatorKey = Annotated[ApiKey, Depends(require("operator"))]
AdminKey = Annotated[ApiKey, Depends(require())]
