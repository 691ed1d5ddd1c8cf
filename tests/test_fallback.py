"""Rules-only fallback score: indicators from the event's own fields, weights, reasons, vectorisation."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from features.contract import ManifestEvent, decode_manifest
from portrisk.errors import ConfigError
from scoring.fallback import INDICATORS, FallbackConfig, FallbackScorer

BASE: dict[str, Any] = {
    "schema_version": 1, "event_id": "ev-1", "event_time": "2024-03-01T10:00:00Z", "mainport": "rotterdam",
    "transport_mode": "sea", "container_id": "CSQU3054383", "container_type": "45G1",
    "bill_of_lading": "MAEU123456789", "shipper_id": "CN0991234567001", "consignee_id": "NL123456789",
    "hs_code": "847130", "goods_description": "portable computers", "gross_weight_kg": 6_000.0,
    "declared_value_eur": 300_000.0, "port_of_loading": "CNSHA", "transshipment_ports": [],
    "vessel_imo": "9074729", "voyage": "024E", "eta": "2024-03-15T06:00:00Z",
}
AIR: dict[str, Any] = {
    "mainport": "schiphol", "transport_mode": "air", "container_id": "RKN12345KL", "container_type": "RKN",
    "bill_of_lading": "074-12345675", "vessel_imo": None, "voyage": "KL0752", "eta": "2024-03-01T22:00:00Z",
}


def event(**changes: Any) -> ManifestEvent:
    return decode_manifest(orjson.dumps({**BASE, **changes}), {"rotterdam", "schiphol"})


BANANAS_EC = {"port_of_loading": "ECGYE", "container_type": "45R1", "hs_code": "080390",
              "goods_description": "fresh bananas", "gross_weight_kg": 21_000.0, "declared_value_eur": 15_000.0}


def test_plain_asian_electronics_score_zero_and_give_no_reasons() -> None:
    scores, reasons = FallbackScorer().score_with_reasons([event()])
    assert scores.tolist() == [0.0]
    assert reasons == [[]]


def test_each_indicator_fires_on_its_field() -> None:
    scorer = FallbackScorer()
    cases = {
        "source_origin": event(port_of_loading="COCTG"),
        "source_transshipment": event(transshipment_ports=["BRSSZ"]),
        "hub_transshipment": event(transshipment_ports=["JMKIN"]),
        "reefer": event(container_type="45R1"),
        "perishable": event(hs_code="080430", goods_description="pineapples"),
        "amendment": event(is_amendment=True, amends_event_id="ev-0"),
        "low_value_density": event(declared_value_eur=100.0),
        "light_container": event(gross_weight_kg=900.0),
    }
    ind = scorer.indicators(list(cases.values()))
    for row, name in enumerate(cases):
        fired = {INDICATORS[j] for j in np.flatnonzero(ind[row])}
        with_route = {name, "transshipments"} if "transshipment" in name else {name}
        assert fired == with_route, (name, fired)
    # transshipment count is graded, capped at three ports
    graded = scorer.indicators([event(transshipment_ports=["ESALG"] * k) for k in (1, 2, 3, 5)])
    np.testing.assert_allclose(graded[:, INDICATORS.index("transshipments")], [1 / 3, 2 / 3, 1, 1])


def test_source_origin_is_not_credited_twice_for_a_transshipment_in_a_source_country() -> None:
    ind = FallbackScorer().indicators([event(port_of_loading="ECGYE", transshipment_ports=["COCTG"])])[0]
    assert ind[INDICATORS.index("source_origin")] == 1.0
    assert ind[INDICATORS.index("source_transshipment")] == 0.0
    assert ind[INDICATORS.index("hub_transshipment")] == 1.0  # Cartagena is a hub in its own right


def test_scores_follow_the_documented_weighted_sum_and_rank_the_typology_highest() -> None:
    scorer = FallbackScorer()
    typology = event(**BANANAS_EC, transshipment_ports=["PAMIT"], is_amendment=True, amends_event_id="ev-0")
    events = [event(), event(container_type="45R1"), event(**BANANAS_EC), typology]
    scores = scorer.score(events)
    w = FallbackConfig().weights["sea"]
    total = sum(w.values()) - min(w["source_origin"], w["source_transshipment"])
    expected_banana = (w["source_origin"] + w["reefer"] + w["perishable"]) / total
    assert scores.dtype == np.float32
    assert scores[2] == pytest.approx(expected_banana, abs=1e-6)
    assert list(np.argsort(scores)) == [0, 1, 2, 3]
    assert scores.min() >= 0.0 and scores.max() <= 1.0


def test_an_event_firing_every_indicator_it_can_scores_one() -> None:
    worst = event(**{**BANANAS_EC, "declared_value_eur": 10.0, "gross_weight_kg": 1_500.0},
                  transshipment_ports=["BRSSZ", "PAMIT", "ESALG"], is_amendment=True, amends_event_id="ev-0")
    assert FallbackScorer().score([worst])[0] == pytest.approx(1.0, abs=1e-6)


def test_air_cargo_uses_its_own_weights() -> None:
    roses = event(**AIR, port_of_loading="ECUIO", hs_code="060311", goods_description="roses",
                  gross_weight_kg=900.0, declared_value_eur=4_000.0)
    scorer = FallbackScorer()
    w = FallbackConfig().weights["air"]
    expected = (w["source_origin"] + w["reefer"] + w["perishable"]) / (sum(w.values()) - w["source_transshipment"])
    assert scorer.score([roses])[0] == pytest.approx(expected, abs=1e-6)
    # a light ULD is normal by air: the sea-only weight indicator does not fire
    assert scorer.indicators([roses])[0, INDICATORS.index("light_container")] == 0.0


def test_weights_are_configurable_and_reasons_come_largest_first() -> None:
    config = FallbackConfig.from_mapping({"weights": {"sea": {"reefer": 10.0}}, "source_countries": ["EC"]})
    scorer = FallbackScorer(config)
    scores, reasons = scorer.score_with_reasons([event(**BANANAS_EC)], k=2)
    assert reasons[0][0] == "refrigerated container"
    assert reasons[0][1] == "loaded in a cocaine source country (ECGYE)"
    assert len(reasons[0]) == 2
    assert scorer.score([event(port_of_loading="COCTG")])[0] == 0.0  # Colombia removed from the list
    assert scores[0] > FallbackScorer().score([event(**BANANAS_EC)])[0]


def test_vectorised_batch_equals_one_by_one() -> None:
    rng = np.random.default_rng(3)
    origins = ["CNSHA", "ECGYE", "COCTG", "USNYC", "BRSSZ"]
    events = [event(event_id=f"ev-{i}", port_of_loading=origins[i % 5], gross_weight_kg=float(rng.uniform(500, 30_000)),
                    declared_value_eur=float(rng.uniform(0, 100_000)), container_type="45R1" if i % 3 else "45G1",
                    transshipment_ports=["PAMIT"] * (i % 3))
              for i in range(60)]
    scorer = FallbackScorer()
    batch = scorer.score(events)
    single = np.array([scorer.score([e])[0] for e in events])
    np.testing.assert_array_equal(batch, single)
    assert len(set(batch.tolist())) > 5
    assert scorer.score([]).shape == (0,)


@pytest.mark.parametrize("bad", [
    {"weights": {"sea": {"no_such_indicator": 1.0}}},
    {"weights": {"sea": dict.fromkeys(INDICATORS, 0.0)}},
    {"weights": {"air": {"reefer": -1.0}}},
    {"no_such_key": 1},
])
def test_bad_config_is_a_config_error(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        FallbackConfig.from_mapping(bad)


def test_broken_reason_template_degrades_to_the_indicator_name() -> None:
    scorer = FallbackScorer(FallbackConfig.from_mapping({"reason_texts": {"reefer": "reefer {nope}"}}))
    _, reasons = scorer.score_with_reasons([event(container_type="45R1")])
    assert reasons == [["reefer"]]
