"""The HTTP API under test: a real uvicorn server in a thread, on a free 127.0.0.1 port, over the real broker.

Decision records are published with ``stream.records.decision_record`` exactly as the worker does, so the
read model is tested against the worker's own record shape.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import lightgbm
import numpy as np
import orjson
from features_support import make_history, tables_for
from stream_support import read_topic

from api.app import create_app
from api.keys import create_key
from api.server import bind_free_port, make_server
from api.services import Services, build_services, keys_file
from features.contract import ManifestEvent
from features.identifiers import imo_number, iso6346_check_digit
from features.pipeline import FeaturePipeline
from features.state import InMemoryStore
from features.tables import TABLES_FILE
from models.artifact import ModelCard, save_artifact
from models.export import export_with_gate
from portrisk.settings import Settings
from stream.kafka_clients import make_producer
from stream.records import decision_record, feature_dicts
from stream.topics import TopicNames, create_topics, topic_specs

EVENT_TIME = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
REASON = {"feature": "origin_risk", "value": 0.9, "contribution": 1.2, "text": "risky origin"}


def container_id(n: int, owner: str = "MSKU") -> str:
    """A valid ISO 6346 container number."""
    stem = f"{owner}{n:06d}"
    return stem + str(iso6346_check_digit(stem))


def manifest(n: int, *, port: str = "rotterdam", shipper: str = "EC000000001", box: str | None = None,
             amends: str | None = None, minutes: float = 0.0) -> ManifestEvent:
    """A valid sea manifest event; ``amends`` makes it an amendment of that event id."""
    t = EVENT_TIME + timedelta(minutes=minutes)
    return ManifestEvent.model_validate({
        "schema_version": 1, "event_id": f"e{n:06d}" + ("a" if amends else ""), "event_time": t, "mainport": port,
        "transport_mode": "sea", "container_id": box or container_id(n), "container_type": "45R1",
        "bill_of_lading": f"MAEU{n:09d}", "shipper_id": shipper, "consignee_id": "NL000000001",
        "hs_code": "080390", "goods_description": "bananas", "gross_weight_kg": 20000.0,
        "declared_value_eur": 15000.0, "port_of_loading": "ECGYE", "vessel_imo": imo_number(900_001),
        "voyage": "001N", "eta": t + timedelta(days=2), "is_amendment": amends is not None,
        "amends_event_id": amends})


def decision(event: ManifestEvent, score: float, *, flagged: bool | None = None, decided_at: datetime | None = None,
             offset: int = 0) -> bytes:
    """The worker's decision record for ``event``."""
    flagged = score >= 0.5 if flagged is None else flagged
    return decision_record(
        event, score=score, decision="scan" if flagged else "release", selection="model" if flagged else None,
        reasons=[REASON] if flagged else [],
        rule_hits=[], model_version="test-1", features=feature_dicts(("origin_risk", "age"), [0.9, float("nan")])[0],
        degraded=False, degraded_reason=None, threshold=0.5,
        decided_at=(decided_at or event.event_time + timedelta(seconds=1)).isoformat(),
        source=(f"manifests.{event.mainport}", 0, offset, int(event.event_time.timestamp() * 1000)))


def publish(bootstrap: str, topic: str, records: Sequence[tuple[bytes | None, bytes | None]]) -> None:
    """Produce (key, value) records and wait for every acknowledgement."""
    producer = make_producer(bootstrap)
    try:
        for f in [producer.send(topic, key=k, value=v) for k, v in records]:
            f.get(timeout=30)
    finally:
        producer.close()


def audit_records(bootstrap: str, topics: TopicNames) -> list[dict[str, Any]]:
    """The audit-log topic, decoded."""
    return [orjson.loads(r.value) for r in read_topic(bootstrap, topics.audit_log)]


def build_test_model(model_dir: Path) -> Path:
    """A small but real model artifact (LightGBM → ONNX with its parity gate, reference tables beside it)."""
    events, outcomes = make_history(n=400)
    tables = tables_for(events, outcomes)
    pipeline = FeaturePipeline(tables)
    X = pipeline.process_many(events, InMemoryStore())
    y = (np.random.default_rng(0).random(len(events)) < 0.3).astype(int)
    names = list(pipeline.names)
    booster = lightgbm.train({"objective": "binary", "num_leaves": 7, "verbose": -1, "num_threads": 1,
                              "min_data_in_leaf": 5}, lightgbm.Dataset(X, y, feature_name=names), 10)
    onnx_bytes, report = export_with_gate(booster, names, n_rows=300)
    card = ModelCard.create("api-test-1", names, "2024-03-01T00:00:00+00:00", "2024-03-10T00:00:00+00:00",
                            parity=report.to_dict())
    save_artifact(model_dir, booster, onnx_bytes, card, extra_files={TABLES_FILE: tables.to_bytes()})
    return model_dir


@dataclass
class RunningApi:
    """A served app: its base URL, one key per role, and its services for white-box checks."""

    url: str
    keys: dict[str, str]
    services: Services
    settings: Settings
    bootstrap: str
    topics: TopicNames
    _server: Any = field(repr=False, default=None)

    def get(self, path: str, role: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"X-API-Key": self.keys[role]} if role else {}
        return httpx.get(self.url + path, headers={**headers, **kwargs.pop("headers", {})}, timeout=30, **kwargs)

    def post(self, path: str, role: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"X-API-Key": self.keys[role]} if role else {}
        return httpx.post(self.url + path, headers={**headers, **kwargs.pop("headers", {})}, timeout=30, **kwargs)

    def wait_ready(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Poll /readyz until 200; fail with the last body otherwise."""
        deadline = time.monotonic() + timeout_s
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.get("/readyz", "operator")
            body = response.json()
            if response.status_code == 200:
                return body
            time.sleep(0.2)
        raise AssertionError(f"API not ready after {timeout_s} s: {body}")


def prepare(settings: Settings) -> tuple[str, TopicNames, dict[str, str]]:
    """Create the topic set and one key per role (inspector: rotterdam; inspector_ams: amsterdam)."""
    bootstrap = settings.kafka_bootstrap
    assert bootstrap is not None
    topics = TopicNames.from_settings(settings)
    create_topics(bootstrap, topic_specs(topics, settings.partitions))
    path = keys_file(settings)
    keys = {}
    for name, role, ports in (("inspector", "inspector", ["rotterdam"]), ("inspector_ams", "inspector", ["amsterdam"]),
                              ("security", "security", []), ("operator", "operator", []), ("admin", "admin", [])):
        keys[name] = create_key(path, role=role, name=f"test {name}", ports=ports, known_ports=settings.port_ids)[1]
    return bootstrap, topics, keys


@contextmanager
def running_api(settings: Settings, keys: dict[str, str], *, rebuild: bool = False, max_ready_lag: int = 0,
                model_loader: Callable[[], Any] | None = None) -> Iterator[RunningApi]:
    """Serve the API on a free port until the block ends."""
    bootstrap = settings.kafka_bootstrap
    assert bootstrap is not None
    services = build_services(settings, lambda: bootstrap, rebuild=rebuild, model_loader=model_loader,
                              max_ready_lag=max_ready_lag)
    sock = bind_free_port()
    server = make_server(create_app(services), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the API server did not start")
        time.sleep(0.05)
    try:
        yield RunningApi(url, keys, services, settings, bootstrap, TopicNames.from_settings(settings), server)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
