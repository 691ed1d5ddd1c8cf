"""The feature pipeline: point-in-time correctness, offline replay == online, NaN for missing, outcomes."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from features_support import START, frame, make_history, tables_for

from features import memo
from features.contract import InspectionOutcome, ManifestEvent
from features.event import hubs_key, route_key
from features.history import MISFIT_Z
from features.identifiers import imo_number
from features.pipeline import FeaturePipeline
from features.replay import replay
from features.rows import event_rows, outcome_rows
from features.state import InMemoryStore, PartyState
from features.tables import ReferenceTables
from portrisk.errors import DataError


@pytest.fixture(scope="module")
def history() -> tuple[list[ManifestEvent], list[InspectionOutcome]]:
    return make_history(n=600, seed=3, shippers=30)


@pytest.fixture(scope="module")
def tables(history: tuple[list[ManifestEvent], list[InspectionOutcome]]) -> ReferenceTables:
    return tables_for(*history)


@pytest.fixture(scope="module")
def pipeline(tables: ReferenceTables) -> FeaturePipeline:
    return FeaturePipeline(tables)


def column(pipeline: FeaturePipeline, X: np.ndarray, name: str) -> np.ndarray:
    return X[..., pipeline.names.index(name)]


def online(pipeline: FeaturePipeline, events: list[ManifestEvent], outcomes: list[InspectionOutcome],
           round_trip: bool = False) -> np.ndarray:
    """The worker's way: one event at a time, outcomes applied as they come due, optional changelog trip."""
    store = InMemoryStore()
    pending = list(outcomes)
    rows = []
    for event in events:
        while pending and pending[0].inspected_at < event.event_time:
            pipeline.apply_outcome(pending.pop(0), store)
        if round_trip:  # as if restored from the changelog before every event
            for key, state in list(store.states.items()):
                store.put(key, PartyState.from_bytes(state.to_bytes()))
        rows.append(pipeline.process(event, store))
    return np.vstack(rows)


def test_names_are_unique_and_vectors_have_their_length(pipeline: FeaturePipeline, history) -> None:
    events, _ = history
    assert len(set(pipeline.names)) == len(pipeline.names)
    x = pipeline.process(events[0], InMemoryStore())
    assert x.dtype == np.float32 and x.shape == (len(pipeline.names),)


def test_offline_replay_equals_online_computation(pipeline: FeaturePipeline, history) -> None:
    events, outcomes = history
    offline = replay(pipeline, event_rows(frame(events)), outcome_rows(frame(outcomes)), InMemoryStore())
    live = online(pipeline, events, outcomes)
    assert offline.shape == (len(events), len(pipeline.names))
    np.testing.assert_array_equal(offline, live)  # NaN in the same places, every value bit-identical
    assert np.isnan(offline).any()


def test_state_round_tripped_through_bytes_between_events_changes_nothing(pipeline: FeaturePipeline,
                                                                        history) -> None:
    events, outcomes = history
    np.testing.assert_array_equal(online(pipeline, events[:300], outcomes, round_trip=True),
                                  online(pipeline, events[:300], outcomes))


def test_appending_future_events_never_changes_earlier_features(pipeline: FeaturePipeline, history) -> None:
    events, outcomes = history
    cut = 250
    cut_time = events[cut - 1].event_time
    past_outcomes = [o for o in outcomes if o.inspected_at < cut_time]
    prefix = replay(pipeline, events[:cut], past_outcomes, InMemoryStore())
    full = replay(pipeline, events, outcomes, InMemoryStore())
    np.testing.assert_array_equal(prefix, full[:cut])


def test_process_many_equals_process(pipeline: FeaturePipeline, history) -> None:
    events, _ = history
    store_a, store_b = InMemoryStore(), InMemoryStore()
    many = pipeline.process_many(events[:100], store_a)
    one_by_one = np.vstack([pipeline.process(e, store_b) for e in events[:100]])
    np.testing.assert_array_equal(many, one_by_one)
    assert {k: s.to_bytes() for k, s in store_a.states.items()} == {
        k: s.to_bytes() for k, s in store_b.states.items()}


def test_features_only_leaves_the_state_alone(pipeline: FeaturePipeline, history) -> None:
    events, _ = history
    store = InMemoryStore()
    pipeline.process_many(events[:200], store)
    before = {k: s.to_bytes() for k, s in store.states.items()}
    what_if = pipeline.features_only(events[200], store)
    assert {k: s.to_bytes() for k, s in store.states.items()} == before
    np.testing.assert_array_equal(what_if, pipeline.process(events[200], store))


def test_first_shipment_has_nan_for_undefined_history_and_zero_counts(pipeline: FeaturePipeline,
                                                                      history) -> None:
    events, _ = history
    x = pipeline.process(events[0], InMemoryStore())
    assert column(pipeline, x, "shipper_shipments") == 0.0
    assert column(pipeline, x, "shipper_new_consignee") == 1.0
    for name in ("shipper_age_days", "shipper_days_since_last", "shipper_route_share", "shipper_finding_rate",
                 "shipper_days_since_finding", "shipper_amendment_rate", "shipper_misfit_share"):
        assert math.isnan(column(pipeline, x, name)), name


def test_absent_party_and_unknown_fields_are_nan_not_zero(pipeline: FeaturePipeline, history) -> None:
    events, _ = history
    event = events[10].model_copy(update={"declarant_id": None, "notify_party_id": None})
    x = pipeline.process(event, InMemoryStore())
    for name in pipeline.names:
        if name.startswith(("declarant_", "notify_party_")):
            assert math.isnan(column(pipeline, x, name)), name
    assert column(pipeline, x, "amendment_lead_hours") != column(pipeline, x, "amendment_lead_hours")

    # An imported history may lack weights, values, routes, ETAs and container types entirely.
    bare = frame([events[10]]).drop(columns=["gross_weight_kg", "declared_value_eur", "transshipment_ports",
                                             "eta", "container_type", "is_amendment"])
    row = next(event_rows(bare))
    y = pipeline.process(row, InMemoryStore())
    for name in ("weight_z", "value_per_kg_z", "value_per_kg_log", "transship_count", "route_risk",
                 "lane_route_share", "filing_lead_hours", "eta_hour_utc", "is_reefer", "is_amendment",
                 "shipper_new_route"):
        assert math.isnan(column(pipeline, y, name)), name
    assert not math.isnan(column(pipeline, y, "origin_country_risk"))


def test_a_party_the_tables_never_saw_is_novel(pipeline: FeaturePipeline, history) -> None:
    events, _ = history
    x = pipeline.process(events[5].model_copy(update={"consignee_id": "NL000000000999"}), InMemoryStore())
    assert column(pipeline, x, "consignee_novel") == 1.0
    assert math.isnan(column(pipeline, x, "consignee_age_days"))
    assert column(pipeline, x, "consignee_volume_log") == 0.0


def test_outcomes_fold_into_the_shipper_history(pipeline: FeaturePipeline, history) -> None:
    events, _ = history
    first = events[0]
    later = replace_time(first, hours=100)
    store = InMemoryStore()
    pipeline.process(first, store)
    for result in ("drugs", "no_finding"):
        pipeline.apply_outcome(outcome_for(first, result, hours=50), store)
    x = pipeline.process(later, store)
    assert column(pipeline, x, "shipper_inspections") == 2.0
    assert column(pipeline, x, "shipper_drug_findings") == 1.0
    assert column(pipeline, x, "shipper_finding_rate") == 0.5
    assert column(pipeline, x, "shipper_days_since_finding") == pytest.approx(50 / 24, rel=1e-6)


def test_an_amendment_that_switches_the_consignee_is_flagged(pipeline: FeaturePipeline, history) -> None:
    events, _ = history
    original = events[0]
    store = InMemoryStore()
    assert math.isnan(column(pipeline, pipeline.process(original, store), "amendment_consignee_changed"))
    same = replace_time(original, hours=2).model_copy(update={
        "event_id": "am-1", "is_amendment": True, "amends_event_id": original.event_id})
    switched = same.model_copy(update={"event_id": "am-2", "consignee_id": "NL000000000777"})
    assert column(pipeline, pipeline.features_only(same, store), "amendment_consignee_changed") == 0.0
    assert column(pipeline, pipeline.features_only(switched, store), "amendment_consignee_changed") == 1.0
    unknown = same.model_copy(update={"amends_event_id": "never-seen"})
    assert math.isnan(column(pipeline, pipeline.features_only(unknown, store), "amendment_consignee_changed"))


def test_misfit_share_counts_earlier_declarations_off_their_commodity_norm(pipeline: FeaturePipeline,
                                                                            history) -> None:
    events, _ = history
    base = events[0]
    store = InMemoryStore()
    fits = pipeline.process(base, store)
    for name in ("weight_z", "value_per_kg_z"):
        assert abs(column(pipeline, fits, name)) < MISFIT_Z, name
    # A container declared at a hundred times its commodity's usual weight (its value per kg far below).
    heavy = replace_time(base, hours=10).model_copy(update={
        "event_id": "heavy", "gross_weight_kg": 100 * base.gross_weight_kg})
    assert column(pipeline, pipeline.process(heavy, store), "shipper_misfit_share") == 0.0  # before it
    # A declaration without weight and value cannot be checked: it leaves the share as it was.
    bare = replace_time(base, hours=20).model_copy(update={
        "event_id": "bare", "gross_weight_kg": None, "declared_value_eur": None})
    assert column(pipeline, pipeline.process(bare, store), "shipper_misfit_share") == 0.5
    later = pipeline.features_only(replace_time(base, hours=30), store)
    assert column(pipeline, later, "shipper_misfit_share") == 0.5
    assert column(pipeline, later, "shipper_shipments") == 3.0
    state = store.get(base.shipper_id)
    assert state is not None and (state.n_checked, state.n_misfit) == (2, 1)


def test_outcome_for_an_unseen_shipper_creates_its_state(pipeline: FeaturePipeline, history) -> None:
    events, _ = history
    store = InMemoryStore()
    pipeline.apply_outcome(outcome_for(events[0], "other_irregularity", hours=1), store)
    x = pipeline.process(replace_time(events[0], hours=5), store)
    assert column(pipeline, x, "shipper_shipments") == 0.0
    assert column(pipeline, x, "shipper_other_findings") == 1.0


def test_replay_refuses_unsorted_history(pipeline: FeaturePipeline, history) -> None:
    events, _ = history
    with pytest.raises(DataError, match="sort by event_time"):
        replay(pipeline, [events[5], events[1]], [], InMemoryStore())


def test_velocity_decays_and_counts_grow(pipeline: FeaturePipeline, history) -> None:
    events, _ = history
    store = InMemoryStore()
    base = events[0]
    for hours in (0, 24, 48):
        pipeline.process(replace_time(base, hours=hours), store)
    soon = pipeline.features_only(replace_time(base, hours=49), store)
    late = pipeline.features_only(replace_time(base, hours=49 + 24 * 30), store)
    assert column(pipeline, soon, "shipper_shipments") == 3.0
    assert 2.5 < column(pipeline, soon, "shipper_velocity_7d") < 3.0
    assert column(pipeline, late, "shipper_velocity_7d") < 0.1
    assert column(pipeline, late, "shipper_velocity_30d") > column(pipeline, late, "shipper_velocity_7d")


def test_memos_change_speed_never_values(tables: ReferenceTables, history,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The pipeline memoises per-combination parts and party profiles; memos that keep emptying themselves
    # (recomputing nearly every time) must give the same vectors, bit for bit, NaNs included.
    events, outcomes = history
    expected = replay(FeaturePipeline(tables), event_rows(frame(events)), outcome_rows(frame(outcomes)),
                      InMemoryStore())
    monkeypatch.setattr(memo, "MEMO_ENTRIES", 2)
    churned = replay(FeaturePipeline(tables), event_rows(frame(events)), outcome_rows(frame(outcomes)),
                     InMemoryStore())
    assert churned.tobytes() == expected.tobytes()


def replace_time(event: ManifestEvent, hours: float) -> ManifestEvent:
    shift = timedelta(hours=hours)
    return event.model_copy(update={"event_time": event.event_time + shift, "eta": event.eta + shift})


def outcome_for(event: ManifestEvent, result: str, hours: float) -> InspectionOutcome:
    return InspectionOutcome.model_validate({
        "schema_version": 1, "outcome_id": f"o-{result}", "event_id": event.event_id,
        "container_id": event.container_id, "shipper_id": event.shipper_id, "mainport": event.mainport,
        "inspected_at": event.event_time + timedelta(hours=hours), "result": result,
    })


def test_tables_bytes_are_deterministic_and_round_trip(tables: ReferenceTables) -> None:
    again = ReferenceTables.from_bytes(tables.to_bytes())
    assert again.to_bytes() == tables.to_bytes()
    assert again == tables
    assert replace(tables, prior=0.5).digest != tables.digest


def test_vessel_and_route_commodity_profiles_are_smoothed_finding_rates(history) -> None:
    events, outcomes = history
    drugs = {o.event_id for o in outcomes if o.result == "drugs"}
    # Two vessels: the one that carried the findings, and a clean one.
    risky, clean = imo_number(900_002), imo_number(900_003)
    events = [e.model_copy(update={"vessel_imo": risky if e.event_id in drugs or i % 4 == 0 else clean})
              for i, e in enumerate(events)]
    tables = tables_for(events, outcomes)
    pipeline = FeaturePipeline(tables)
    end = START + timedelta(days=10)  # tables_for's window
    window = [e for e in events if e.event_time < end]
    found = {o.event_id: o.result == "drugs" for o in outcomes if o.inspected_at < end}
    m, prior = tables.config.smoothing, tables.prior

    def rate(selected: list[ManifestEvent]) -> float:
        inspected = [found[e.event_id] for e in selected if e.event_id in found]
        return (sum(inspected) + m * prior) / (len(inspected) + m)

    by_vessel = {}
    for imo in (risky, clean):
        on_board = [e for e in window if e.vessel_imo == imo]
        x = pipeline.process(next(e for e in events if e.vessel_imo == imo), InMemoryStore())
        by_vessel[imo] = column(pipeline, x, "vessel_risk")
        assert by_vessel[imo] == pytest.approx(rate(on_board), rel=1e-5)
        assert column(pipeline, x, "vessel_volume_log") == pytest.approx(math.log1p(len(on_board)), rel=1e-6)
    assert by_vessel[risky] > prior > by_vessel[clean]

    # Same route and HS chapter: the rate among exactly those inspected containers.
    e = events[3]

    def route(event: ManifestEvent) -> str | None:
        return route_key(event.port_of_loading, hubs_key(event.transshipment_ports), event.mainport)

    x = pipeline.process(e, InMemoryStore())
    same = [w for w in window if w.hs_code[:2] == e.hs_code[:2] and route(w) == route(e)]
    assert column(pipeline, x, "route_commodity_risk") == pytest.approx(rate(same), rel=1e-5)

    unseen = pipeline.process(e.model_copy(update={"vessel_imo": imo_number(900_004)}), InMemoryStore())
    assert column(pipeline, unseen, "vessel_risk") == pytest.approx(prior, rel=1e-6)
    assert column(pipeline, unseen, "vessel_volume_log") == 0.0
    no_vessel = pipeline.process(e.model_copy(update={"vessel_imo": None}), InMemoryStore())
    assert math.isnan(column(pipeline, no_vessel, "vessel_risk"))
    assert math.isnan(column(pipeline, no_vessel, "vessel_volume_log"))
