"""End to end: an administration's CSV → import → the same training, export and evaluation → the worker.

The model trained on the imported history is loaded by the streaming worker against the real broker;
live events carrying the mapping's extras are scored with exactly the features the model was trained on
(the feature hash the worker computes from the model's tables equals the card's), not degraded.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import orjson
import pytest
from import_support import (
    EXAMPLE_MAPPING,
    admin_frame,
    live_extras,
    packages,
    publish_events,
    write_admin_csv,
)
from models_support import TRAIN, small_world
from prometheus_client import CollectorRegistry
from stream_support import read_topic, same_features

from features.contract import decode_manifest, encode_event
from features.pipeline import FeaturePipeline
from features.ports import DEFAULT_PORTS
from features.records import frame_records
from features.state import InMemoryStore
from models.artifact import load_card
from models.evaluate import evaluate_model
from models.importer import import_history, load_mapping
from models.train import train_model
from models.world.writer import read_events
from portrisk.assembly import build_decision_path, build_worker
from portrisk.cli import main
from portrisk.metrics import WorkerMetrics
from portrisk.settings import Settings
from scoring.feature_hash import feature_hash
from stream.topics import TopicNames

pytestmark = pytest.mark.kafka
LIVE_EVENTS = 400


@pytest.fixture(scope="module")
def imported_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(history, model): the small world exported the administration's way, imported and trained on."""
    root = tmp_path_factory.mktemp("import-e2e")
    write_admin_csv(admin_frame(small_world()), root / "aangiften.csv")
    import_history(root / "aangiften.csv", load_mapping(EXAMPLE_MAPPING), root / "history")
    train_model(root / "history", root / "model", TRAIN)
    return root / "history", root / "model"


def test_the_imported_history_trains_and_exports_through_the_same_code(imported_model: tuple[Path, Path]) -> None:
    _, model = imported_model
    card = load_card(model)
    pipeline = FeaturePipeline.from_model_dir(model)
    assert card.feature_hash == feature_hash(pipeline.names) and card.feature_names == pipeline.names
    for name in ("forwarder_novel", "forwarder_finding_rate", "extra_douanekantoor_risk",
                 "extra_douanekantoor_novel", "extra_aantal_colli", "declarant_age_days"):
        assert name in pipeline.names
    assert not any(name.startswith("notify_party_") for name in pipeline.names)  # not mapped, not profiled
    assert card.parity["passed"] and card.parity["rows_checked"] >= 10_000 and card.parity["max_abs_delta"] <= 1e-5
    imported = card.data_summary["import"]  # the card records the mapping and the data summary
    assert imported["mapping"]["columns"]["event_id"] == "AANGIFTENUMMER"
    assert imported["mapping"]["parties"]["forwarder"] == "EXPEDITEUR"
    assert imported["summary"]["rows_imported"] == card.data_summary["events_replayed"]
    assert card.extra["feature_config"]["extras"] == [{"key": "douanekantoor", "kind": "categorical"},
                                                      {"key": "aantal_colli", "kind": "numeric"}]


def test_the_imported_history_is_evaluated_on_its_labels(imported_model: tuple[Path, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    history, model = imported_model
    report = evaluate_model(history, model, {p.id: float(p.capacity_per_day) for p in DEFAULT_PORTS})
    assert report["kind"] == "labelled" and report["inspected"] > 50 and report["findings"] > 5
    assert 0.5 < report["roc_auc"] <= 1.0
    assert [r["n_percent"] for r in report["rates"]] == [1.0, 2.0, 5.0, 10.0]
    for row in report["rates"]:
        assert 0.0 <= row["precision"] <= 1.0 and 0.0 <= row["recall"] <= 1.0
        assert set(row["baselines"]) == {"shipper", "consignee", "declarant", "forwarder"}
    recalls = [r["recall"] for r in report["rates"]]
    assert recalls == sorted(recalls)  # a larger share never finds less

    assert main(["evaluate", "--history", str(history), "--model", str(model), "--rates", "1,5,20"]) == 0
    out = capsys.readouterr().out
    assert "P@n%" in out and "lift" in out and "forwarder" in out
    assert main(["evaluate", "--history", str(history), "--model", str(model), "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["rates"][0]["n_percent"] == 1.0


def _live_payloads(model: Path) -> list[bytes]:
    """World events after the model's training cut-off, as contract JSON carrying the mapping's extras."""
    cutoff = np.datetime64(load_card(model).training_end[:19])
    events = read_events(small_world())
    later = events[events["event_time"].dt.tz_convert(None).to_numpy() >= cutoff].head(LIVE_EVENTS)
    payloads = []
    for record in frame_records(later):
        record["extras"] = live_extras(record)
        payloads.append(encode_event(record))
    return payloads


def test_the_worker_scores_live_events_with_the_imported_model(imported_model: tuple[Path, Path],
                                                              kafka_bootstrap: str, topic_prefix: str,
                                                              tmp_path: Path) -> None:
    _, model = imported_model
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=3, home=tmp_path,
                        model_dir=model, metrics_port=0, max_batch=100)
    path = build_decision_path(settings)
    # The worker's features come from the mapping's configuration (plus training's segment codes), carried by
    # the model's tables.
    declared = load_mapping(EXAMPLE_MAPPING).feature_config()
    assert path.pipeline.config == dataclasses.replace(declared, segment_codes=True)
    assert path.model_error is None and path.feature_hash == load_card(model).feature_hash

    payloads = _live_payloads(model)
    ports = frozenset(settings.port_ids)
    events = [decode_manifest(p, ports) for p in payloads]  # valid v1 events, extras included
    topics = TopicNames.from_settings(settings)
    publish_events(kafka_bootstrap, topics, settings.partitions, payloads)
    build_worker(settings, WorkerMetrics(CollectorRegistry()), path).run(idle_exit_s=4.0)

    decisions = {d["event_id"]: d for d in (orjson.loads(r.value) for r in read_topic(kafka_bootstrap,
                                                                                    topics.risk_scores))}
    assert set(decisions) == {e.event_id for e in events}
    assert not any(d["degraded"] for d in decisions.values())
    assert {d["model_version"] for d in decisions.values()} == {load_card(model).version}

    offline = FeaturePipeline.from_model_dir(model)
    store = InMemoryStore()
    for event in events:
        expected = offline.process(event, store)
        got = decisions[event.event_id]["features"]
        assert got["extra_aantal_colli"] == packages(event.gross_weight_kg)
        assert got["extra_douanekantoor_risk"] is not None and got["extra_douanekantoor_novel"] is not None
        assert (got["forwarder_novel"] is None) == ("forwarder" not in event.extras)
        assert same_features({"features": got}, offline.names, expected.tolist()) is None, event.event_id
