"""Audit records, the outcome round trip to Kafka, bad requests and failures, through the real server."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import (
    RunningApi,
    audit_records,
    build_test_model,
    decision,
    manifest,
    prepare,
    publish,
    read_topic,
    running_api,
)

from api.kafka_io import KafkaGateway
from api.keys import create_key
from api.services import keys_file
from features.contract import decode_outcome
from portrisk.settings import Settings

pytestmark = pytest.mark.kafka
BOX = manifest(1)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_model(tmp_path_factory.mktemp("api-model") / "model")


@pytest.fixture
def api(kafka_settings: Settings, model_dir: Path) -> Iterator[RunningApi]:
    settings = kafka_settings.model_copy(update={"model_dir": model_dir})
    bootstrap, topics, keys = prepare(settings)
    publish(bootstrap, topics.risk_scores, [(BOX.container_id.encode(), decision(BOX, 0.9))])
    with running_api(settings, keys) as running:
        running.wait_ready()
        yield running


def outcome_body(outcome_id: str = "o-1") -> dict[str, object]:
    return {"schema_version": 1, "outcome_id": outcome_id, "event_id": BOX.event_id, "container_id": BOX.container_id,
            "shipper_id": BOX.shipper_id, "mainport": "rotterdam", "inspected_at": "2026-12-02T10:00:00+01:00",
            "result": "drugs", "selection": "model", "inspector_id": "rtm-07"}


def test_every_read_and_refusal_is_in_the_audit_log_before_the_answer(api: RunningApi) -> None:
    read = api.get(f"/v1/containers/{BOX.container_id}", "inspector")
    queue = api.get("/v1/ports/rotterdam/recommendations", "security", params={"limit": 10})
    hidden = api.get(f"/v1/containers/{BOX.container_id}", "inspector_ams")
    anonymous = api.get("/v1/ports/rotterdam/recommendations", headers={"X-Forwarded-For": "10.1.2.3"})

    # The answers were sent after the acknowledgement, so the records are there now: no waiting.
    by_request = {r["request_id"]: r for r in audit_records(api.bootstrap, api.topics)}

    record = by_request[read.headers["X-Request-ID"]]
    inspector_id = api.keys["inspector"].split(".")[1]
    assert record["actor"] == {"key_id": inspector_id, "name": "test inspector", "role": "inspector",
                               "ports": ["rotterdam"]}
    assert record["route"] == "/v1/containers/{container_id}" and record["action"] == "read_container"
    assert record["resources"] == {"container_id": BOX.container_id, "port": "rotterdam"}
    assert record["status"] == 200 and record["client"] == "127.0.0.1" and record["at"]
    listed = by_request[queue.headers["X-Request-ID"]]
    assert listed["resources"]["container_ids"] == [BOX.container_id] and listed["result_count"] == 1
    assert listed["actor"]["role"] == "security" and "limit=10" in listed["query"]
    refused = by_request[hidden.headers["X-Request-ID"]]
    assert refused["status"] == 404 and refused["resources"]["hidden_port"] == "rotterdam"
    unauthenticated = by_request[anonymous.headers["X-Request-ID"]]
    assert unauthenticated["status"] == 401 and unauthenticated["actor"] is None
    assert unauthenticated["forwarded_for"] == "10.1.2.3"


def test_an_outcome_round_trips_through_kafka_and_leaves_the_queue(api: RunningApi) -> None:
    assert [i["container_id"] for i in api.get("/v1/ports/rotterdam/recommendations", "inspector").json()["items"]] \
        == [BOX.container_id]

    accepted = api.post("/v1/inspections", "inspector", json=outcome_body())

    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    records = [r for r in read_topic(api.bootstrap, api.topics.outcomes)
               if (r.partition, r.offset) == (body["partition"], body["offset"])]
    assert len(records) == 1 and records[0].key == BOX.shipper_id.encode()
    stored = decode_outcome(records[0].value, api.settings.port_ids)
    assert stored.outcome_id == "o-1" and stored.result == "drugs"
    assert stored.inspected_at.isoformat() == "2026-12-02T09:00:00+00:00"  # normalised to UTC
    # Read-your-writes: the queue no longer offers the container, at once.
    assert api.get("/v1/ports/rotterdam/recommendations", "inspector").json()["items"] == []
    inspection = api.get(f"/v1/containers/{BOX.container_id}", "inspector").json()["inspection"]
    assert inspection["outcome_id"] == "o-1"
    posted = [r for r in audit_records(api.bootstrap, api.topics) if r["action"] == "post_inspection"]
    assert posted[0]["resources"]["outcome_id"] == "o-1" and posted[0]["status"] == 202


def test_an_outcome_without_a_selection_gets_that_of_portrisks_decision(api: RunningApi) -> None:
    # The random share's results are the unbiased sample training up-weights: an inspector's system need
    # not echo why a container was flagged for that to hold.
    assert [i["container_id"] for i in api.get("/v1/ports/rotterdam/recommendations", "inspector").json()["items"]] \
        == [BOX.container_id]  # the decision is in the read model
    body = {k: v for k, v in outcome_body("o-2").items() if k != "selection"}
    assert api.post("/v1/inspections", "inspector", json=body).status_code == 202
    never_decided = {**body, "outcome_id": "o-3", "event_id": "e-never-decided"}
    assert api.post("/v1/inspections", "inspector", json=never_decided).status_code == 202
    stored = {o.outcome_id: o for o in (decode_outcome(r.value, api.settings.port_ids)
                                        for r in read_topic(api.bootstrap, api.topics.outcomes))}
    assert stored["o-2"].selection == "model"
    assert stored["o-3"].selection is None


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "error"), [
    ("GET", "/v1/containers/not-a-box", {}, 422, "invalid_request"),
    ("GET", "/v1/containers/MSKU0000010", {}, 422, "invalid_request"),  # wrong check digit
    ("GET", "/v1/ports/rotterdam/recommendations", {"params": {"limit": 0}}, 422, "invalid_request"),
    ("GET", "/v1/ports/rotterdam/recommendations", {"params": {"limit": "many"}}, 422, "invalid_request"),
    ("GET", "/v1/ports/rotterdam/recommendations", {"params": {"cursor": "bm9wZQ"}}, 400, "invalid_cursor"),
    ("GET", "/v1/ports/rotterdam/recommendations", {"params": {"since": "2026-12-01", "until": "2026-11-01"}},
     422, "invalid_request"),
    ("GET", "/v1/ports/rotterdam/recommendations", {"params": {"since": "yesterday"}}, 422, "invalid_request"),
    ("GET", "/v1/ports/Rotterdam!/recommendations", {}, 422, "invalid_request"),
    ("GET", "/v1/ports/hamburg/recommendations", {}, 404, "unknown_port"),
    ("GET", "/v1/nothing-here", {}, 404, "not_found"),
    ("POST", "/v1/inspections", {"content": b"{not json"}, 422, "invalid_outcome"),
    ("POST", "/v1/inspections", {"json": {**outcome_body(), "schema_version": "1"}}, 422, "invalid_outcome"),
    ("POST", "/v1/inspections", {"json": {**outcome_body(), "mainport": "hamburg"}}, 422, "invalid_outcome"),
    ("POST", "/v1/inspections", {"json": {**outcome_body(), "surprise": 1}}, 422, "invalid_outcome"),
    ("POST", "/v1/inspections", {"content": b"x" * (64 * 1024 + 1)}, 413, "body_too_large"),
    ("POST", "/v1/inspections", {"content": iter([b"x" * 40_000] * 3)}, 413, "body_too_large"),  # chunked
])
def test_bad_requests_get_a_clear_4xx(api: RunningApi, method: str, path: str, kwargs: dict, status: int,
                                      error: str) -> None:
    response = httpx.request(method, api.url + path, headers={"X-API-Key": api.keys["admin"]}, timeout=30, **kwargs)

    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error and body["detail"] and body["request_id"] == response.headers["X-Request-ID"]


def test_an_unexpected_error_is_a_500_with_a_request_id_that_the_log_names(
        api: RunningApi, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(container_id: str) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(api.services.read_model.store, "container", broken)
    with caplog.at_level(logging.ERROR, logger="api.middleware"):
        response = api.get(f"/v1/containers/{BOX.container_id}", "security", headers={"X-Request-ID": "req-12345678"})

    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "request_id": "req-12345678",
                               "detail": "unexpected server error; quote the request id when reporting it"}
    assert "disk on fire" not in response.text
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "req-12345678"]
    assert logged and logged[0].exc_info is not None
    assert api.get("/healthz").status_code == 200  # and the server carries on


def test_reads_are_refused_with_503_when_the_audit_log_cannot_be_written(api: RunningApi) -> None:
    # A real but unreachable Kafka address for the audit producer: nothing is mocked.
    api.services.audit.kafka = KafkaGateway(lambda: "127.0.0.1:9")
    started = time.monotonic()

    refused = api.get(f"/v1/containers/{BOX.container_id}", "security")

    assert refused.status_code == 503 and refused.json()["error"] == "audit_unavailable"
    assert BOX.container_id not in refused.text and refused.headers["Retry-After"] == "5"
    assert time.monotonic() - started < 15  # fails fast, rather than hanging the caller


def test_without_kafka_the_service_lives_says_why_it_is_not_ready_and_serves_no_data(
        tmp_path: Path, model_dir: Path) -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:9", home=tmp_path / "home", model_dir=model_dir)
    keys = {role: create_key(keys_file(settings), role=role, name=role, known_ports=settings.port_ids)[1]
            for role in ("operator", "security")}
    with running_api(settings, keys) as api:
        assert api.get("/healthz").status_code == 200
        not_ready = api.get("/readyz", "operator")
        assert not_ready.status_code == 503
        checks = not_ready.json()["checks"]
        assert checks["kafka"]["status"] == "fail" and "unreachable" in checks["kafka"]["detail"]
        assert checks["read_model"]["status"] == "fail" and checks["api_keys"]["status"] == "ok"
        refused = api.get("/v1/ports/rotterdam/recommendations", "security")
        assert refused.status_code == 503 and refused.json()["error"] == "audit_unavailable"
