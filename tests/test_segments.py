"""Segment codes: the segment of a container as categorical features, from a vocabulary in the tables."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import lightgbm
import numpy as np
from features_support import START, frame, make_history, tables_for
from models_support import small_world

from features.config import FeatureConfig
from features.event import hubs_key, is_reefer
from features.pipeline import FeaturePipeline
from features.rows import event_rows
from features.segments import SEGMENT_KINDS, SEGMENT_NAMES, segment_keys
from features.state import InMemoryStore
from features.tables import ReferenceTables
from models.artifact import load_card
from models.dataset import load_history
from models.tables import TableBuilder
from portrisk.cli import main
from scoring.reasons import ReasonExplainer
from scoring.session import ScoringSession


def keys_of(event) -> tuple[str | None, ...]:  # type: ignore[no-untyped-def]
    return segment_keys(event.port_of_loading, hubs_key(event.transshipment_ports), event.hs_code[:2],
                        is_reefer(event.transport_mode, event.container_type))


def test_codes_are_dense_in_first_seen_order_and_every_later_version_keeps_them() -> None:
    events, outcomes = make_history(n=400, seed=5)
    builder = TableBuilder(FeatureConfig(segment_codes=True), [o.event_id for o in outcomes])
    rows = list(event_rows(frame(events)))
    half = len(rows) // 2
    for row in rows[:half]:
        builder.add_event(row, row.event_id, row.event_time)
    for outcome in outcomes:
        builder.add_outcome(outcome.event_id, outcome.result)
    early = builder.snapshot(START + timedelta(days=10))
    for row in rows[half:]:
        builder.add_event(row, row.event_id, row.event_time)
    late = builder.snapshot(START + timedelta(days=20))

    for kind in SEGMENT_KINDS:
        assert sorted(early.codes[kind].values()) == list(range(len(early.codes[kind])))
        assert early.codes[kind].items() <= late.codes[kind].items()  # a key keeps its code
    assert len(late.codes["segment"]) > len(early.codes["segment"])
    assert early.codes["segment"][keys_of(events[0])[3]] == 0
    assert ReferenceTables.from_bytes(late.to_bytes()).codes == late.codes


def test_the_pipeline_appends_the_codes_and_a_segment_never_seen_is_missing() -> None:
    events, outcomes = make_history(n=300, seed=6)
    tables = tables_for(events, outcomes, FeatureConfig(segment_codes=True))
    pipeline = FeaturePipeline(tables)
    assert pipeline.names[-len(SEGMENT_NAMES):] == SEGMENT_NAMES
    event = events[0]
    known = dict(zip(pipeline.names, pipeline.features_only(event, InMemoryStore()).tolist(), strict=True))
    for kind, name, key in zip(SEGMENT_KINDS, SEGMENT_NAMES, keys_of(event), strict=True):
        assert known[name] == tables.codes[kind][key]

    moved = event.model_copy(update={"port_of_loading": "PECLL"})  # a port of loading the history never had
    unknown = dict(zip(pipeline.names, pipeline.features_only(moved, InMemoryStore()).tolist(), strict=True))
    assert math.isnan(unknown["segment_port_of_loading_code"]) and math.isnan(unknown["segment_code"])
    assert math.isnan(unknown["segment_route_cargo_code"])
    assert unknown["segment_routing_code"] == known["segment_routing_code"]
    assert unknown["segment_hs_chapter_code"] == known["segment_hs_chapter_code"]


def test_the_route_and_cargo_cell_gathers_every_commodity_of_a_route_but_keeps_reefers_apart() -> None:
    coffee = segment_keys("ECGYE", "PTSIE", "09", 0.0)
    cocoa = segment_keys("ECGYE", "PTSIE", "18", 0.0)
    bananas = segment_keys("ECGYE", "PTSIE", "08", 1.0)
    direct = segment_keys("ECGYE", "", "09", 0.0)
    assert coffee == ("ECGYE", "PTSIE", "09", "ECGYE>PTSIE|09|dry", "ECGYE>PTSIE|dry")
    assert cocoa[4] == coffee[4] and cocoa[3] != coffee[3]
    assert bananas[4] == "ECGYE>PTSIE|reefer"
    assert direct[4] == "ECGYE>|dry" != coffee[4]
    assert segment_keys(None, "PTSIE", "09", 0.0)[3:] == (None, None)  # no port of loading: no route
    assert segment_keys("ECGYE", None, None, math.nan)[3:] == (None, None)  # routing unknown
    assert segment_keys("ECGYE", "", None, math.nan)[4] == "ECGYE>|unknown"


def test_without_segment_codes_the_feature_set_and_its_files_are_as_before() -> None:
    events, outcomes = make_history(n=300, seed=6)
    plain = tables_for(events, outcomes)
    assert not set(SEGMENT_NAMES) & set(FeaturePipeline(plain).names)
    assert "codes" not in plain.to_dict() and "segment_codes" not in plain.config.to_dict()
    assert FeatureConfig.from_dict(FeatureConfig(segment_codes=True).to_dict()).segment_codes


def test_a_model_with_segment_codes_learns_them_as_categories_passes_the_gate_and_serves(tmp_path: Path) -> None:
    out = tmp_path / "segments"
    assert main(["train", "--world", str(small_world()), "--out", str(out), "--refresh-days", "2",
                 "--segment-codes"]) == 0
    card = load_card(out)
    assert card.feature_names[-len(SEGMENT_NAMES):] == SEGMENT_NAMES
    assert card.parity["passed"] and card.parity["max_abs_delta"] <= 1e-5
    infos = lightgbm.Booster(model_file=str(out / "model.lgb.txt")).dump_model()["feature_infos"]
    assert all(infos[name]["values"] for name in SEGMENT_NAMES)  # LightGBM lists a category feature's values

    pipeline = FeaturePipeline.from_model_dir(out)
    session = ScoringSession.load(out, pipeline.names)
    history = load_history(small_world())
    X = pipeline.process_many(event_rows(history.events.iloc[:500]), InMemoryStore())
    codes = X[:, -len(SEGMENT_NAMES):]
    assert np.all(np.isnan(codes) | (codes == np.round(codes)))
    scores = session.score_batch(X)
    assert np.all((scores > 0) & (scores < 1))
    assert len(ReasonExplainer(out, pipeline.reason_texts()).top_reasons(X[:5], k=3)) == 5
