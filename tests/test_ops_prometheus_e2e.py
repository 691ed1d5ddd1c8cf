"""A real Prometheus scraping a real worker and API over the real broker, and every query of ops/ run on it.

Simulated traffic (with bad events and inspection outcomes posted through the API, so that the hit rate
and dead-letter panels have something to show) goes through ``portrisk run`` and the served API; a
Prometheus child scrapes both every second with the rules of ops/rules/. Then every expression of the
dashboards and rules is evaluated through Prometheus' HTTP API:

- every dashboard query and recording rule must return data;
- every alert condition must evaluate (a healthy system makes most of them empty);
- every series an expression reads must exist, with every label its matchers name, and every label it
  groups or matches on must exist on those series: a typo'd metric or label name fails here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from api_support import RunningApi, build_test_model, prepare, running_api
from ops_support import PrometheusApi, dashboard_expressions, parse, rule_expressions, run_promtool
from stream_support import decisions, malformed_payloads, publish, scaled_ports, wait_for, world_payloads

from portrisk.errors import ModelError
from portrisk.local_prometheus import LocalPrometheus, free_port
from portrisk.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PORTS = scaled_ports(0.05)
RANDOM_SHARE = 0.5  # enough random selections in a small world to measure their hit rate
# (selection, results cycled over the flags of that selection): model flags find more than random ones.
OUTCOME_PLAN = {"model": ("drugs", "other_irregularity", "no_finding"), "random": ("no_finding", "no_finding",
                                                                                   "other_irregularity")}
PER_SELECTION = 9


@dataclass
class Stack:
    settings: Settings
    api: RunningApi
    prom: PrometheusApi
    worker_port: int
    worker: subprocess.Popen[bytes]
    worker_log: Path


def _no_model() -> Any:
    # The API's what-if scoring answers 503 without a model: the 5xx series the error panels read.
    raise ModelError("no model in this test")


@pytest.fixture
def stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    # A small model built from the current feature code, so the test does not depend on models/default.
    model_dir = build_test_model(tmp_path / "model")
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.", partitions=3,
                        home=tmp_path / "home", ports=PORTS, random_share=RANDOM_SHARE, model_dir=model_dir)
    _, _, keys = prepare(settings)
    worker_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTRISK_")}
    env.update({"PORTRISK_KAFKA_BOOTSTRAP": kafka_bootstrap, "PORTRISK_TOPIC_PREFIX": settings.topic_prefix,
                "PORTRISK_PARTITIONS": "3", "PORTRISK_HOME": str(settings.home),
                "PORTRISK_METRICS_PORT": str(worker_port), "PORTRISK_RANDOM_SHARE": str(RANDOM_SHARE),
                "PORTRISK_MODEL_DIR": str(model_dir), "PORTRISK_WORKER_GROUP": f"{settings.topic_prefix}worker",
                "PORTRISK_PORTS": orjson.dumps([p.model_dump() for p in PORTS]).decode()})
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "portrisk.cli", "run"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    prometheus: LocalPrometheus | None = None
    try:
        with running_api(settings, keys, model_loader=_no_model) as api:
            prometheus = LocalPrometheus(tmp_path / "prometheus", workers=[f"127.0.0.1:{worker_port}"],
                                         apis=[api.url.removeprefix("http://")], api_key=keys["operator"],
                                         interval_s=1.0)
            prometheus.start()
            yield Stack(settings, api, PrometheusApi(prometheus.url), worker_port, worker, tmp_path / "worker.log")
    finally:
        if prometheus is not None:
            prometheus.stop()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()


def _post_outcomes(api: RunningApi, records: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    """Outcomes for flagged containers, by (port, selection, result), posted as inspectors would."""
    posted: Counter[tuple[str, str, str]] = Counter()
    for selection, results in OUTCOME_PLAN.items():
        flagged = [r for r in records if r["decision"] == "scan" and r["selection"] == selection]
        assert len(flagged) >= 3, f"only {len(flagged)} {selection} flags: too small a world for hit rates"
        for i, record in enumerate(flagged[:PER_SELECTION]):
            result = results[i % len(results)]
            body = {"schema_version": 1, "outcome_id": f"o-{uuid.uuid4().hex[:12]}", "event_id": record["event_id"],
                    "container_id": record["container_id"], "shipper_id": record["shipper_id"],
                    "mainport": record["port"], "inspected_at": datetime.now(UTC).isoformat(),
                    "result": result, "selection": selection}
            response = api.post("/v1/inspections", "admin", content=orjson.dumps(body),
                                headers={"Content-Type": "application/json"})
            assert response.status_code == 202, response.text
            posted[(record["port"], selection, result)] += 1
    return posted


def _api_traffic(api: RunningApi, records: list[dict[str, Any]], manifest: bytes) -> None:
    """Reads, refusals and a server error, so every status class has a series."""
    assert api.get(f"/v1/containers/{records[0]['container_id']}", "security").status_code == 200
    assert api.get("/v1/containers/MSKU0000000", "security").status_code in (404, 422)
    assert api.get("/v1/ports/rotterdam/recommendations", "inspector").status_code == 200
    assert api.get("/v1/ports/rotterdam/recommendations").status_code == 401
    assert api.get("/metrics", "inspector").status_code == 403
    score = api.post("/v1/score", "security", content=manifest, headers={"Content-Type": "application/json"})
    assert score.status_code == 503, score.text


def _check(prom: PrometheusApi, expr: str, must_return_data: bool) -> list[str]:
    """Problems of one expression (empty when it is fine)."""
    problems = []
    try:
        if must_return_data and not prom.query(expr):
            problems.append("returns no data")
    except AssertionError as exc:
        return [f"refused: {exc}"]
    parsed = parse(expr)
    seen: set[str] = set()
    for selector in parsed.selectors:
        series = prom.query(selector.text)
        if not series:
            problems.append(f"no series {selector.text}")
            continue
        labels = {name for s in series for name in s["metric"]}
        seen |= labels
        problems += [f"{selector.text}: no series has label {label!r}" for label, _, _ in selector.matchers
                     if label not in labels]
    problems += [f"groups or matches on {label!r}, which none of its series has"
                 for label in sorted(parsed.grouping_labels - seen)]
    return problems


def test_every_dashboard_and_rule_query_returns_data(stack: Stack, kafka_bootstrap: str) -> None:
    settings, api, prom, worker_port = stack.settings, stack.api, stack.prom, stack.worker_port
    payloads = world_payloads(PORTS, days=2, seed=11, scale=1.0)  # PORTS are scaled already
    bad = malformed_payloads(payloads[0])
    publish(settings, payloads, extra=[("rotterdam", raw) for raw, _ in bad])
    records: list[dict[str, Any]] = []

    def all_decided() -> bool:
        if stack.worker.poll() is not None:
            raise AssertionError(f"the worker exited: {stack.worker_log.read_text()[-2000:]}")
        records[:] = decisions(kafka_bootstrap, settings)
        return len({r["event_id"] for r in records}) >= len(payloads)

    assert wait_for(all_decided, 240, every_s=2), f"{len(records)} of {len(payloads)} decided"
    # A rate needs a sample from before the change: Prometheus must hold the worker's outcome counters at
    # zero before the first outcome (a busy worker can miss one-second scrapes on a loaded machine).
    assert wait_for(lambda: prom.value("sum(portrisk_inspection_outcomes_total)") == 0, 60, every_s=1), \
        prom.query('up{job="portrisk-worker"}')
    posted = _post_outcomes(api, records)
    _api_traffic(api, records, payloads[0])

    want = {"sum(portrisk_decisions_total)": len(payloads), "sum(portrisk_dlq_events_total)": len(bad),
            "sum(portrisk_inspection_outcomes_total)": sum(posted.values()),
            "sum(portrisk_api_outcomes_posted_total)": sum(posted.values()),
            'sum(up{job=~"portrisk-worker|portrisk-api"})': 2}
    assert wait_for(lambda: all(prom.value(q) == n for q, n in want.items()), 120, every_s=1), \
        {q: prom.value(q) for q in want}
    # The hit rate per port and selection reason is exactly what the inspectors reported, once the recording
    # rules have been evaluated over the last scrape (rule evaluation can lag scrapes on a loaded machine).
    expected: dict[tuple[str, str], float] = {}
    for (port, selection) in {(p, s) for p, s, _ in posted}:
        total = sum(n for (p, s, _), n in posted.items() if (p, s) == (port, selection))
        hits = sum(n for (p, s, r), n in posted.items() if (p, s) == (port, selection) and r != "no_finding")
        expected[(port, selection)] = hits / total

    def hit_ratios() -> dict[tuple[str, str], float | None]:
        return {(port, selection): prom.value(f'port_selection:portrisk_inspection_hit_ratio:ratio7d{{port="{port}", '
                                              f'selection="{selection}"}}') for port, selection in expected}

    def reported() -> bool:
        got = hit_ratios()
        return all((value := got[key]) is not None and abs(value - want) < 1e-6 for key, want in expected.items())

    assert wait_for(reported, 60, every_s=1), (expected, hit_ratios(), [
        (q, prom.query(q)) for q in ('portrisk_inspection_outcomes_total{port="rotterdam"}',
                                     'increase(portrisk_inspection_outcomes_total{port="rotterdam"}[7d])',
                                     'port_selection:portrisk_inspection_outcomes:increase7d',
                                     'portrisk_inspection_outcomes_total{port="rotterdam"}[1h]')])
    time.sleep(3)  # a few more scrapes and rule evaluations after the last change, for the queries below

    rules = httpx.get(f"{prom.url}/api/v1/rules", timeout=30).json()["data"]["groups"]
    broken = [(r["name"], r.get("lastError")) for g in rules for r in g["rules"] if r.get("health") == "err"]
    assert broken == []

    expressions = rule_expressions() + dashboard_expressions()
    assert len(expressions) > 60
    problems = {e.origin + " | " + e.expr: p for e in expressions if (p := _check(prom, e.expr, e.must_return_data))}
    assert problems == {}, "\n".join(f"{k}\n    {v}" for k, v in problems.items())

    # What Prometheus scraped passes promtool's metric lint, on both endpoints.
    worker_text = httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=30).text
    api_text = httpx.get(f"{api.url}/metrics", headers={"Authorization": f"Bearer {api.keys['operator']}"},
                         timeout=30).text
    for text in (worker_text, api_text):
        result = run_promtool("check", "metrics", stdin=text)
        assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr
