"""API keys as bearer tokens: Prometheus 2.42 can send no X-API-Key header, only ``Authorization: Bearer``.

The same key, the same roles, the same audit: only the header differs.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_support import RunningApi, audit_records, prepare, running_api

from api.keys import parse_key
from portrisk.settings import Settings

pytestmark = pytest.mark.kafka


@pytest.fixture
def api(kafka_settings: Settings) -> Iterator[RunningApi]:
    _, _, keys = prepare(kafka_settings)
    with running_api(kafka_settings, keys) as running:
        yield running


def _get(api: RunningApi, path: str, authorization: str) -> httpx.Response:
    return httpx.get(api.url + path, headers={"Authorization": authorization}, timeout=30)


def test_metrics_accept_an_operator_key_as_bearer_token(api: RunningApi) -> None:
    response = _get(api, "/metrics", f"Bearer {api.keys['operator']}")
    assert response.status_code == 200
    assert "portrisk_api_requests_total" in response.text
    assert _get(api, "/metrics", f"bearer {api.keys['admin']}").status_code == 200  # the scheme is case-blind


def test_bearer_tokens_get_the_same_refusals_as_api_keys(api: RunningApi) -> None:
    assert _get(api, "/metrics", f"Bearer {api.keys['inspector']}").status_code == 403
    assert _get(api, "/metrics", "Bearer prk.000000000000.not-a-key").status_code == 401
    assert _get(api, "/metrics", "Bearer").status_code == 401
    assert _get(api, "/metrics", f"Basic {api.keys['operator']}").status_code == 401  # only the bearer scheme


def test_the_header_wins_when_both_are_sent(api: RunningApi) -> None:
    response = httpx.get(api.url + "/metrics", timeout=30, headers={
        "X-API-Key": api.keys["inspector"], "Authorization": f"Bearer {api.keys['operator']}"})
    assert response.status_code == 403


def test_requests_with_bearer_tokens_are_audited_under_their_key(api: RunningApi) -> None:
    security_id = parse_key(api.keys["security"])
    assert security_id is not None
    ok = _get(api, "/v1/ports/rotterdam/recommendations", f"Bearer {api.keys['security']}")
    refused = _get(api, "/v1/ports/rotterdam/recommendations", "Bearer prk.0123456789ab.wrong")
    assert (ok.status_code, refused.status_code) == (200, 401)
    by_request = {r["request_id"]: r for r in audit_records(api.bootstrap, api.topics)}
    assert by_request[ok.headers["X-Request-ID"]]["actor"]["key_id"] == security_id[0]
    assert by_request[refused.headers["X-Request-ID"]]["presented_key_id"] == "0123456789ab"


def test_the_openapi_schema_documents_both_ways(api: RunningApi) -> None:
    schemes = httpx.get(api.url + "/openapi.json", timeout=30).json()["components"]["securitySchemes"]
    assert schemes["ApiKey"]["in"] == "header" and schemes["Bearer"]["scheme"] == "bearer"
