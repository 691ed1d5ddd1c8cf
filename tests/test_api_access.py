"""Access control through the real HTTP server: 401/403/404/200 for each role on each endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import RunningApi, build_test_model, container_id, decision, manifest, prepare, publish, running_api

from api.keys import list_keys, revoke_key
from api.services import keys_file
from features.contract import encode_event
from portrisk.settings import Settings

pytestmark = pytest.mark.kafka

ROLES = (None, "wrong", "inspector", "inspector_ams", "security", "operator", "admin")
ROTTERDAM = manifest(1, port="rotterdam")
AMSTERDAM = manifest(2, port="amsterdam")
# Expected status per role, in the order of ROLES: no key, a wrong secret, inspector (rotterdam),
# inspector (amsterdam), security, operator, admin.
MATRIX: dict[str, tuple[int, ...]] = {
    f"GET /v1/containers/{ROTTERDAM.container_id}": (401, 401, 200, 404, 200, 403, 200),
    "GET /v1/ports/rotterdam/recommendations": (401, 401, 200, 403, 200, 403, 200),
    f"GET /v1/shippers/{ROTTERDAM.shipper_id}/decisions": (401, 401, 403, 403, 200, 403, 200),
    "POST /v1/inspections": (401, 401, 202, 403, 403, 403, 202),
    "POST /v1/score": (401, 401, 403, 403, 200, 403, 200),
    "GET /v1/admin/keys": (401, 401, 403, 403, 403, 403, 200),
    "GET /readyz": (401, 401, 403, 403, 403, 200, 200),
    "GET /metrics": (401, 401, 403, 403, 403, 200, 200),
    "GET /healthz": (200, 200, 200, 200, 200, 200, 200),
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_model(tmp_path_factory.mktemp("api-model") / "model")


@pytest.fixture
def api(kafka_settings: Settings, model_dir: Path) -> Iterator[RunningApi]:
    settings = kafka_settings.model_copy(update={"model_dir": model_dir})
    bootstrap, topics, keys = prepare(settings)
    publish(bootstrap, topics.risk_scores,
            [(e.container_id.encode(), decision(e, 0.9)) for e in (ROTTERDAM, AMSTERDAM)])
    admin_id = keys["admin"].split(".")[1]
    keys["wrong"] = f"prk.{admin_id}.{'x' * 43}"
    with running_api(settings, keys) as running:
        running.wait_ready()
        yield running


def _call(api: RunningApi, endpoint: str, role: str | None) -> httpx.Response:
    method, path = endpoint.split(" ", 1)
    headers = {"X-API-Key": api.keys[role]} if role else {}
    body: dict[str, Any] | None = None
    if path == "/v1/inspections":
        body = {"schema_version": 1, "outcome_id": f"o-{uuid.uuid4().hex[:12]}", "event_id": ROTTERDAM.event_id,
                "container_id": ROTTERDAM.container_id, "shipper_id": ROTTERDAM.shipper_id, "mainport": "rotterdam",
                "inspected_at": "2026-12-02T10:00:00Z", "result": "no_finding"}
    elif path == "/v1/score":
        body = ROTTERDAM.model_dump(mode="json")
    content = None if body is None else encode_event(body)
    return httpx.request(method, api.url + path, headers={**headers, "Content-Type": "application/json"},
                         content=content, timeout=30)


def test_every_role_gets_the_expected_status_on_every_endpoint(api: RunningApi) -> None:
    seen = {endpoint: tuple(_call(api, endpoint, role).status_code for role in ROLES) for endpoint in MATRIX}

    mismatches = {e: {"expected": MATRIX[e], "got": got} for e, got in seen.items() if got != MATRIX[e]}
    assert mismatches == {}


def test_a_container_of_another_port_looks_exactly_like_a_missing_one(api: RunningApi) -> None:
    other_port = api.get(f"/v1/containers/{ROTTERDAM.container_id}", "inspector_ams")
    missing = api.get(f"/v1/containers/{container_id(999_999)}", "inspector_ams")

    assert other_port.status_code == missing.status_code == 404
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(other_port) == strip(missing) == {"error": "not_found", "detail": "no decision for this container"}
    assert set(other_port.headers) == set(missing.headers)
    # The inspector of the container's own port does see it.
    assert api.get(f"/v1/containers/{ROTTERDAM.container_id}", "inspector").json()["port"] == "rotterdam"


def test_ports_are_checked_for_inspectors_and_unknown_ports_are_404(api: RunningApi) -> None:
    assert api.get("/v1/ports/amsterdam/recommendations", "inspector_ams").status_code == 200
    assert api.get("/v1/ports/amsterdam/recommendations", "inspector").json()["error"] == "forbidden"
    unknown = api.get("/v1/ports/hamburg/recommendations", "security")
    assert unknown.status_code == 404 and "rotterdam" in unknown.json()["detail"]
    # An inspector may not post an outcome for another port either.
    body = {"schema_version": 1, "outcome_id": "o-ams-1", "event_id": AMSTERDAM.event_id,
            "container_id": AMSTERDAM.container_id, "shipper_id": AMSTERDAM.shipper_id, "mainport": "amsterdam",
            "inspected_at": "2026-12-02T10:00:00Z", "result": "no_finding"}
    assert api.post("/v1/inspections", "inspector", json=body).status_code == 403
    assert api.post("/v1/inspections", "inspector_ams", json=body).status_code == 202


def test_a_revoked_key_is_refused_on_the_next_request(api: RunningApi) -> None:
    assert api.get("/v1/ports/rotterdam/recommendations", "security").status_code == 200
    path = keys_file(api.settings)
    security_id = api.keys["security"].split(".")[1]

    revoke_key(path, security_id)

    refused = api.get("/v1/ports/rotterdam/recommendations", "security")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "ApiKey"
    assert next(k for k in list_keys(path) if k.key_id == security_id).revoked_at is not None


def test_admins_list_keys_without_hashes_and_revoke_over_http(api: RunningApi) -> None:
    listed = api.get("/v1/admin/keys", "admin").json()
    assert {k["role"] for k in listed} == {"inspector", "security", "operator", "admin"}
    assert all("hash" not in k for k in listed)
    operator_id = api.keys["operator"].split(".")[1]

    revoked = httpx.delete(f"{api.url}/v1/admin/keys/{operator_id}", headers={"X-API-Key": api.keys["admin"]})

    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert api.get("/metrics", "operator").status_code == 401
    missing = httpx.delete(f"{api.url}/v1/admin/keys/{'0' * 12}", headers={"X-API-Key": api.keys["admin"]})
    assert missing.status_code == 404
