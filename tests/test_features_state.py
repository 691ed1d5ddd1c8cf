"""Per-shipper state encoding, the capped collections, the feature configuration and reason texts."""

from __future__ import annotations

import math
import struct
from dataclasses import replace

import pytest
from features_support import make_history, tables_for

from features.config import ExtraFeature, FeatureConfig, PartyRole
from features.history import _count_route, misfit
from features.pipeline import FeaturePipeline
from features.reason_texts import reason_texts
from features.state import STATE_FORMAT, InMemoryStore, PartyState
from portrisk.errors import ConfigError, DataError
from scoring.feature_hash import feature_hash


def test_state_round_trips_through_bytes_exactly() -> None:
    state = PartyState(n=7, first_seen=1.7e9, last_seen=1.7e9 + 3600.5, v7=2.25, v30=6.5, n_amend=1, n_reefer=3,
                       chapters=(1 << 8) | (1 << 97), consignee_overflow=2, n_inspected=2, n_drugs=1,
                       consignees={1, 2**32 - 1}, origins={(ord("E") << 8) | ord("C")}, hs_codes={80390},
                       routes={5: 3, 9: 1}, recent={11: 7, 3: 2**31}, last_finding=1.7e9 + 99.25,
                       n_checked=6, n_misfit=2)
    again = PartyState.from_bytes(state.to_bytes())
    assert again == state
    assert again.to_bytes() == state.to_bytes()
    fresh = PartyState.from_bytes(PartyState().to_bytes())
    assert math.isnan(fresh.last_finding) and math.isnan(fresh.first_seen)
    assert len(state.to_bytes()) < 180


def test_state_decoding_rejects_foreign_and_truncated_records() -> None:
    data = PartyState(n=1, consignees={3}).to_bytes()
    with pytest.raises(DataError, match="format"):
        PartyState.from_bytes(b"\x07" + data[1:])
    with pytest.raises(DataError, match="truncated"):
        PartyState.from_bytes(data[:-2])
    with pytest.raises(DataError, match="trailing"):
        PartyState.from_bytes(data + b"\x00")


def test_a_format_2_record_is_read_with_its_misfit_record_unknown() -> None:
    state = PartyState(n=4, first_seen=1.7e9, last_seen=1.7e9 + 60.0, n_amend=1, last_finding=1.7e9 + 9.0,
                       consignees={3}, routes={5: 4},
                       n_checked=4, n_misfit=1)
    data = state.to_bytes()
    head = struct.calcsize("<BIddddIIQQIIIIIIdHHHHH")
    old = b"\x02" + data[1:head] + data[head + 8:]  # the format before the two misfit counters
    again = PartyState.from_bytes(old)
    assert again == replace(state, n_checked=0, n_misfit=0)
    assert PartyState.from_bytes(again.to_bytes()) == again  # written back in the current format
    assert again.to_bytes()[0] == STATE_FORMAT == 3


def test_a_declaration_misfits_when_its_weight_or_value_is_far_off_the_norm() -> None:
    nan = math.nan
    assert misfit(0.3, -1.0) is False
    assert misfit(-2.6, 0.0) is True and misfit(0.0, 2.5) is True and misfit(nan, -4.0) is True
    assert misfit(1.0, nan) is False  # the weight alone can be checked
    assert misfit(nan, nan) is None  # nothing to check: no norm, or neither declared


def test_capped_route_table_keeps_the_usual_route() -> None:
    routes: dict[int, int] = {}
    for _ in range(50):
        _count_route(routes, 1, cap=4)
    for odd in range(2, 30):
        _count_route(routes, odd, cap=4)
    assert len(routes) == 4
    assert routes[1] == 50


def test_state_stays_bounded_for_a_huge_shipper() -> None:
    events, outcomes = make_history(n=1500, seed=1, shippers=1)
    config = FeatureConfig(max_consignees=4, max_routes=3, max_origins=2, max_hs_codes=2, max_recent=5)
    pipeline = FeaturePipeline(tables_for(events, outcomes, config))
    store = InMemoryStore()
    pipeline.process_many(events, store)
    (state,) = store.states.values()
    assert state.n == 1500
    assert len(state.consignees) == 4 and len(state.routes) == 3 and len(state.hs_codes) == 2
    assert len(state.recent) == 5
    assert state.consignee_overflow > 0
    assert len(state.to_bytes()) < 240


def test_configured_roles_and_extras_change_the_names_and_the_hash() -> None:
    events, outcomes = make_history(n=300, seed=2, extras=True)
    plain = FeaturePipeline(tables_for(events, outcomes))
    config = FeatureConfig(
        party_roles=(PartyRole("consignee", "consignee_id"), PartyRole("forwarder", "extras.seal_type")),
        extras=(ExtraFeature("seal_type", "categorical"), ExtraFeature("temp_c", "numeric")),
    )
    custom = FeaturePipeline(tables_for(events, outcomes, config))
    assert {"forwarder_novel", "extra_seal_type_risk", "extra_seal_type_novel", "extra_temp_c"} <= set(custom.names)
    assert "declarant_novel" not in custom.names
    assert feature_hash(custom.names) != feature_hash(plain.names)
    x = custom.process(events[-1], InMemoryStore())
    values = dict(zip(custom.names, x.tolist(), strict=True))
    assert values["extra_temp_c"] == pytest.approx(events[-1].extras["temp_c"], rel=1e-6)
    assert values["extra_seal_type_novel"] == 0.0
    assert values["forwarder_novel"] == 0.0


def test_bad_configurations_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="neither a party field"):
        PartyRole("broker", "broker_id")
    with pytest.raises(ConfigError, match="more than once"):
        FeatureConfig(party_roles=(PartyRole("consignee", "consignee_id"),) * 2)
    with pytest.raises(ConfigError, match="keyed party"):
        FeatureConfig(party_roles=(PartyRole("shipper", "shipper_id"),))
    assert FeatureConfig.from_dict(FeatureConfig().to_dict()) == FeatureConfig()


def test_every_feature_has_a_reason_text_that_formats() -> None:
    events, outcomes = make_history(n=200, seed=4, extras=True)
    config = FeatureConfig(extras=(ExtraFeature("seal_type", "categorical"), ExtraFeature("temp_c", "numeric")))
    pipeline = FeaturePipeline(tables_for(events, outcomes, config))
    texts = pipeline.reason_texts()
    assert list(texts) == list(pipeline.names)
    for template in texts.values():
        assert template.format(value=0.25) and template.format(value=float("nan"))
    with pytest.raises(KeyError, match="no reason text"):
        reason_texts(["not_a_feature"])
