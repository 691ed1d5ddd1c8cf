"""Reads through the real HTTP server: the scan queue, amendments, rebuilds, readiness, what-if, metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_support import (
    EVENT_TIME,
    RunningApi,
    build_test_model,
    decision,
    manifest,
    prepare,
    publish,
    read_topic,
    running_api,
)

from api.kafka_io import PROBE_CACHE_S
from api.services import read_model_path
from features.contract import InspectionOutcome, encode_event
from portrisk.settings import Settings
from scoring.card import load_card

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_model(tmp_path_factory.mktemp("api-model") / "model")


@pytest.fixture
def setup(kafka_settings: Settings, model_dir: Path) -> tuple[Settings, dict[str, str]]:
    # What-if answers are compared across calls: a budget a loaded CI machine always meets keeps the
    # rules-only fallback (1 ms a row by default) out of them; budgets are tested in test_budget.py.
    settings = kafka_settings.model_copy(update={"model_dir": model_dir, "event_budget_ms": 500.0,
                                                 "batch_budget_ms": 500.0})
    _, _, keys = prepare(settings)
    return settings, keys


@pytest.fixture
def api(setup: tuple[Settings, dict[str, str]]) -> Iterator[RunningApi]:
    with running_api(*setup) as running:
        running.wait_ready()
        yield running


def wait_for(check: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def whole_queue(api: RunningApi, port: str, role: str = "security", limit: int = 3, **params: Any) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        page = api.get(f"/v1/ports/{port}/recommendations", role,
                       params={"limit": limit, **params, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_queue_is_open_flagged_containers_by_score_with_amendments_replacing(api: RunningApi) -> None:
    scores = [0.91, 0.55, 0.78, 0.12, 0.66, 0.97, 0.55, 0.31]
    events = [manifest(i, minutes=i) for i in range(len(scores))]
    records = [(e.container_id.encode(), decision(e, s)) for e, s in zip(events, scores, strict=True)]
    # An amendment of container 1 lowers its score below the threshold: it leaves the queue.
    amended = manifest(100, box=events[1].container_id, amends=events[1].event_id, minutes=30)
    records.append((amended.container_id.encode(), decision(amended, 0.2)))
    publish(api.bootstrap, api.topics.risk_scores, records)
    wait_for(lambda: api.wait_ready() and len(whole_queue(api, "rotterdam")) == 5)

    queue = whole_queue(api, "rotterdam")

    assert [round(i["score"], 2) for i in queue] == [0.97, 0.91, 0.78, 0.66, 0.55]
    assert all(i["decision"] == "scan" and i["inspection"] is None for i in queue)
    latest = api.get(f"/v1/containers/{events[1].container_id}", "security").json()
    assert latest["event_id"] == amended.event_id and latest["score"] == 0.2 and latest["is_amendment"]
    history = api.get(f"/v1/shippers/{events[0].shipper_id}/decisions", "security", params={"limit": 500}).json()
    assert history["count"] == len(scores) + 1 and history["items"][0]["event_id"] == amended.event_id
    # Time window on decided_at: events were decided one minute apart from EVENT_TIME + 1 s.
    since = (EVENT_TIME + timedelta(minutes=2)).isoformat()
    until = (EVENT_TIME + timedelta(minutes=5)).isoformat()
    window = whole_queue(api, "rotterdam", since=since, until=until)
    assert sorted(i["container_id"] for i in window) == sorted(events[i].container_id for i in (2, 4))


def test_an_outcome_from_the_topic_closes_the_recommendation_of_its_visit(api: RunningApi) -> None:
    first = manifest(1)
    amendment = manifest(2, box=first.container_id, amends=first.event_id, minutes=10)
    publish(api.bootstrap, api.topics.risk_scores, [(first.container_id.encode(), decision(first, 0.8)),
                                                    (amendment.container_id.encode(), decision(amendment, 0.85))])
    wait_for(lambda: len(whole_queue(api, "rotterdam")) == 1)
    # Inspectors reported against the original event id; it still closes the amended decision.
    outcome = InspectionOutcome(schema_version=1, outcome_id="o-topic-1", event_id=first.event_id,
                                container_id=first.container_id, shipper_id=first.shipper_id, mainport="rotterdam",
                                inspected_at=EVENT_TIME + timedelta(days=2), result="drugs")
    publish(api.bootstrap, api.topics.outcomes, [(first.shipper_id.encode(), encode_event(outcome))])

    wait_for(lambda: whole_queue(api, "rotterdam") == [])
    inspected = api.get(f"/v1/containers/{first.container_id}", "inspector").json()
    assert inspected["inspection"]["outcome_id"] == "o-topic-1" and inspected["inspection"]["result"] == "drugs"


def answers(api: RunningApi, containers: list[str], shippers: list[str]) -> dict[str, Any]:
    strip = lambda body: {k: v for k, v in body.items() if k != "request_id"}  # noqa: E731
    return {
        "containers": [strip(api.get(f"/v1/containers/{c}", "security").json()) for c in containers],
        "queues": {p: whole_queue(api, p) for p in ("rotterdam", "amsterdam", "schiphol")},
        "shippers": [api.get(f"/v1/shippers/{s}/decisions", "security", params={"limit": 500}).json()
                     for s in shippers],
    }


@pytest.mark.parametrize("how", ["rebuild flag", "database deleted"])
def test_rebuilding_from_scratch_gives_the_same_answers(setup: tuple[Settings, dict[str, str]], how: str) -> None:
    settings, keys = setup
    events = [manifest(i, port=("rotterdam", "amsterdam")[i % 2], shipper=f"EC00000000{i % 3}", minutes=i)
              for i in range(40)]
    events += [manifest(100 + i, box=events[i].container_id, amends=events[i].event_id, minutes=60 + i,
                        port=events[i].mainport, shipper=events[i].shipper_id) for i in range(0, 40, 7)]
    records = [(e.container_id.encode(), decision(e, (i * 37 % 100) / 100)) for i, e in enumerate(events)]
    outcomes = [InspectionOutcome(schema_version=1, outcome_id=f"o{i}", event_id=events[i].event_id,
                                  container_id=events[i].container_id, shipper_id=events[i].shipper_id,
                                  mainport=events[i].mainport, inspected_at=EVENT_TIME + timedelta(days=2),
                                  result="no_finding") for i in range(0, 40, 5)]
    containers = sorted({e.container_id for e in events})
    shippers = sorted({e.shipper_id for e in events})
    with running_api(settings, keys) as api:
        publish(api.bootstrap, api.topics.risk_scores, records)
        publish(api.bootstrap, api.topics.outcomes, [(o.shipper_id.encode(), encode_event(o)) for o in outcomes])
        wait_for(lambda: api.wait_ready() and api.get("/readyz", "operator").json()["checks"]["read_model"]["lag"] == 0)
        before = answers(api, containers, shippers)
    assert sum(len(q) for q in before["queues"].values()) > 5  # the comparison below is not vacuous

    if how == "database deleted":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{read_model_path(settings)}{suffix}").unlink(missing_ok=True)
    with running_api(settings, keys, rebuild=how == "rebuild flag") as api:
        api.wait_ready()
        after = answers(api, containers, shippers)

    assert after == before


def test_readiness_is_false_while_the_read_model_lags_and_true_once_caught_up(api: RunningApi) -> None:
    ready = api.get("/readyz", "operator").json()
    assert ready["ready"] and {c["status"] for c in ready["checks"].values()} == {"ok"}
    api.services.read_model.stop()
    events = [manifest(i) for i in range(25)]
    publish(api.bootstrap, api.topics.risk_scores, [(e.container_id.encode(), decision(e, 0.9)) for e in events])

    time.sleep(PROBE_CACHE_S)  # end offsets are cached that long, so that probes cannot flood Kafka
    lagging = api.get("/readyz", "operator")

    assert lagging.status_code == 503
    checks = lagging.json()["checks"]
    assert checks["read_model"]["status"] == "fail" and checks["read_model"]["lag"] == 25
    assert checks["kafka"]["status"] == checks["model"]["status"] == checks["api_keys"]["status"] == "ok"

    api.services.read_model.start()  # resumes from the positions stored with the rows
    caught_up = api.wait_ready()
    assert caught_up["checks"]["read_model"]["lag"] == 0
    assert len(whole_queue(api, "rotterdam", limit=100)) == 25


def test_what_if_scoring_answers_with_reasons_and_publishes_nothing(api: RunningApi) -> None:
    event = manifest(7).model_dump(mode="json")
    before = len(read_topic(api.bootstrap, api.topics.risk_scores))

    response = api.post("/v1/score", "security", json=event)

    assert response.status_code == 200, response.text
    body = response.json()
    assert 0.0 <= body["score"] <= 1.0 and body["model_version"] == "api-test-1" and not body["degraded"]
    assert body["decision"] in ("scan", "release")
    assert tuple(body["features"]) == tuple(load_card(api.settings.model_dir).feature_names)
    assert len(read_topic(api.bootstrap, api.topics.risk_scores)) == before
    again = api.post("/v1/score", "security", json=event).json()
    assert again["score"] == body["score"]  # the shipper's state is not remembered between what-ifs
    bad = api.post("/v1/score", "security", json={**event, "gross_weight_kg": "heavy"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_manifest"


def test_metrics_count_requests_by_route_template_and_audit_records(api: RunningApi) -> None:
    box = manifest(1).container_id
    api.get(f"/v1/containers/{box}", "security")
    api.get(f"/v1/containers/{box}", "operator")

    text = api.get("/metrics", "operator").text

    assert 'portrisk_api_requests_total{method="GET",route="/v1/containers/{container_id}",status="404"} 1.0' in text
    assert 'portrisk_api_requests_total{method="GET",route="/v1/containers/{container_id}",status="403"} 1.0' in text
    assert box not in text  # labels carry route templates, never ids
    assert 'portrisk_api_audit_records_total{result="written"} 2.0' in text
    assert "portrisk_api_read_model_lag 0.0" in text
