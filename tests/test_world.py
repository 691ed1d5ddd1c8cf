"""The synthetic world: determinism, the contract, plausible distributions, and no way to the truth."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import MANIFEST_FIELDS, OUTCOME_FIELDS, decode_manifest, decode_outcome, encode_event
from features.identifiers import is_valid_awb, is_valid_container_id, is_valid_imo
from features.ports import DEFAULT_PORTS
from features.records import frame_records
from models.world import (
    World,
    generate_world,
    make_config,
    read_events,
    read_outcomes,
    read_truth,
    register_cli,
    simulate,
    write_world,
)
from models.world.generator import TRUTH_COLUMNS
from portrisk.errors import ConfigError, DataError
from portrisk.settings import Settings

PORT_IDS = frozenset(p.id for p in DEFAULT_PORTS)


@pytest.fixture(scope="module")
def world() -> World:
    """Three weeks at a tenth of real volumes: ~60k containers, ~250 illicit."""
    return generate_world(make_config(days=21, seed=11, scale=0.1))


def test_same_seed_same_bytes_different_seed_different_world(tmp_path: Path) -> None:
    paths = [write_world(generate_world(make_config(days=4, seed=s, scale=0.02)), tmp_path / f"w{i}")
             for i, s in enumerate((5, 5, 6))]
    for first, again, other in zip(*paths, strict=True):
        assert first.read_bytes() == again.read_bytes(), first.name
        assert first.read_bytes() != other.read_bytes(), first.name


def test_frames_hold_exactly_the_contract_fields(world: World) -> None:
    assert tuple(world.events.columns) == MANIFEST_FIELDS
    assert tuple(world.outcomes.columns) == OUTCOME_FIELDS
    assert tuple(world.truth.columns) == TRUTH_COLUMNS
    assert world.events["event_time"].is_monotonic_increasing
    assert world.outcomes["inspected_at"].is_monotonic_increasing
    assert world.events["event_id"].is_unique and world.outcomes["outcome_id"].is_unique


def test_every_row_is_a_valid_contract_event(world: World) -> None:
    sample = world.events.sample(n=5000, random_state=1)
    for record in frame_records(sample):
        event = decode_manifest(encode_event(record), PORT_IDS)
        assert event.event_id == record["event_id"]
    for record in frame_records(world.outcomes):
        decode_outcome(encode_event(record), PORT_IDS)


def test_identifiers_carry_valid_check_digits(world: World) -> None:
    sea = world.events[world.events["transport_mode"] == "sea"]
    air = world.events[world.events["transport_mode"] == "air"]
    assert all(is_valid_container_id(c) for c in sea["container_id"])
    assert all(is_valid_imo(i) for i in sea["vessel_imo"].unique())
    assert all(is_valid_awb(b) for b in air["bill_of_lading"])
    assert air["vessel_imo"].isna().all() and (air["mainport"] == "schiphol").all()
    originals = world.events[~world.events["is_amendment"]]
    assert originals["container_id"].is_unique  # one arrival per container in a three-week window


def test_port_shares_follow_configured_volumes(world: World) -> None:
    originals = world.events[~world.events["is_amendment"]]
    share = originals["mainport"].value_counts(normalize=True)
    total = sum(p.containers_per_day for p in DEFAULT_PORTS)
    for port in DEFAULT_PORTS:
        assert share[port.id] == pytest.approx(port.containers_per_day / total, rel=0.1), port.id


def test_weekly_and_daily_rhythm(world: World) -> None:
    times = world.events.loc[world.events["mainport"] == "rotterdam", "event_time"]
    by_weekday = times.dt.day_of_week.value_counts()
    assert by_weekday[6] < 0.85 * by_weekday[[0, 1, 2, 3]].mean()
    by_hour = times.dt.hour.value_counts()
    assert by_hour[[10, 11, 12, 13, 14]].mean() > 2 * by_hour[[1, 2, 3, 4]].mean()


def test_volume_shares_and_rates_are_plausible(world: World) -> None:
    s = world.summary
    assert 0.08 < s.reefer_share_sea < 0.25
    assert s.base_rate == pytest.approx(0.004, rel=0.25)
    assert 0.02 < s.amendments / s.containers < 0.1
    assert all(v > 0 for v in s.typologies.values()), s.typologies
    # Signals are learnable but noisy: rules beat chance, an oracle beats the rules, nobody is perfect.
    assert s.legacy_precision > 4 * s.base_rate
    assert s.oracle_precision > 2 * s.legacy_precision
    assert s.oracle_precision < 0.6
    # Not every load on an inspected container is found (rule selections; tips are far better informed).
    assert 0 < s.rule_hit_rate < s.legacy_precision


def test_inspections_match_capacity_with_a_random_share(world: World) -> None:
    s = world.summary
    for port in DEFAULT_PORTS:
        expected = port.capacity_per_day * 0.1 * 21
        assert s.ports[port.id].inspected == pytest.approx(expected, rel=0.25, abs=3), port.id
    assert s.random_inspections / s.inspected == pytest.approx(0.1, abs=0.04)
    assert s.tip_inspections / s.inspected == pytest.approx(0.05, abs=0.03)
    assert set(world.outcomes["selection"]) == {"legacy", "random", "tip"}
    tips = world.outcomes["selection"] == "tip"
    assert (world.outcomes.loc[tips, "result"] == "drugs").mean() > 3 * s.rule_hit_rate  # tips are informed
    assert world.outcomes["event_id"].isin(world.events["event_id"]).all()


def test_heavy_tailed_parties_and_new_ones_over_time(world: World) -> None:
    originals = world.events[~world.events["is_amendment"]]
    volumes = originals["shipper_id"].value_counts()
    top = volumes.iloc[: max(1, len(volumes) // 10)].sum()
    assert top > 0.5 * len(originals)
    assert volumes.size > 1000
    first_seen = originals.groupby("shipper_id")["event_time"].min()
    assert (first_seen > originals["event_time"].min() + pd.Timedelta(days=14)).sum() > 20


def test_amendments_follow_their_original(world: World) -> None:
    events = world.events.set_index("event_id")
    amendments = world.events[world.events["is_amendment"]]
    originals = events.loc[amendments["amends_event_id"]]
    assert (originals["container_id"].to_numpy() == amendments["container_id"].to_numpy()).all()
    assert (originals["event_time"].to_numpy() < amendments["event_time"].to_numpy()).all()
    assert not originals["is_amendment"].any()


def test_drift_route_appears_mid_period(world: World) -> None:
    via_sines = world.events["transshipment_ports"].map(lambda r: "PTSIE" in r)
    south_america = world.events["port_of_loading"].isin(["ECGYE", "ECPBO", "COBUN", "PECLL", "CLSAI"])
    drift_start = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=world.summary.drift_day)
    before = world.events["event_time"] < drift_start
    assert not (via_sines & south_america & before).any()
    assert (via_sines & south_america & ~before).sum() > 10


def test_truth_is_not_reachable_from_events_or_outcomes() -> None:
    """With static rules and no tip-offs, changing the truth's parameters changes no event and no selection."""
    fixed = {"days": 5, "seed": 2, "scale": 0.03, "adaptive_rules": False, "intelligence_share": 0.0}
    low = generate_world(make_config(base_rate=0.003, **fixed))
    high = generate_world(make_config(base_rate=0.03, **fixed))
    pd.testing.assert_frame_equal(low.events, high.events)
    pd.testing.assert_series_equal(low.outcomes["event_id"], high.outcomes["event_id"])
    assert low.truth["illicit"].sum() < high.truth["illicit"].sum()
    for frame in (low.events, low.outcomes):
        assert not set(frame.columns) & {"illicit", "typology", "p_illicit", "p_declared", "irregular"}
    assert not any(low.events["extras"].map(bool))


def test_adaptive_rules_learn_only_from_findings_already_made() -> None:
    """The analysts' rules use the truth only through findings: until the first day on which the two
    worlds' known findings differ, their selections are the same; the events never differ."""
    fixed = {"days": 12, "seed": 2, "scale": 0.1, "intelligence_share": 0.0}
    low = generate_world(make_config(base_rate=0.003, **fixed))
    high = generate_world(make_config(base_rate=0.03, **fixed))
    pd.testing.assert_frame_equal(low.events, high.events)

    def known_by_day(world: World) -> list[frozenset[str]]:
        found = world.outcomes[world.outcomes["result"] == "drugs"]
        day = (found["inspected_at"] - pd.Timestamp("2024-01-01", tz="UTC")).dt.days
        return [frozenset(found.loc[day < d, "event_id"]) for d in range(12)]

    first = next(d for d, (a, b) in enumerate(zip(known_by_day(low), known_by_day(high), strict=True)) if a != b)
    filed = low.events.set_index("event_id")["event_time"]

    def selected_before(world: World) -> set[str]:
        ids = world.outcomes["event_id"]
        return set(ids[(filed.reindex(ids).to_numpy() < pd.Timestamp("2024-01-01", tz="UTC")
                        + pd.Timedelta(days=first))])

    assert first >= 1
    assert selected_before(low) == selected_before(high)
    assert set(low.outcomes["event_id"]) != set(high.outcomes["event_id"])


def test_world_directory_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = simulate(days=3, seed=4, scale=0.02, out_dir=tmp_path / "w", only_ports=("rotterdam", "schiphol"))
    events = read_events(tmp_path / "w")
    assert set(events["mainport"]) == {"rotterdam", "schiphol"} and len(events) == summary.events
    assert len(read_outcomes(tmp_path / "w")) == summary.inspected
    assert read_truth(tmp_path / "w")["event_id"].tolist() == events["event_id"].tolist()
    assert (tmp_path / "w" / "truth" / "truth.parquet").is_file() and (tmp_path / "w" / "world.json").is_file()
    with pytest.raises(DataError):
        read_events(tmp_path / "nowhere")


def test_cli_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers())
    args = parser.parse_args(["simulate", "--days", "2", "--seed", "1", "--scale", "0.01", "--out",
                              str(tmp_path / "cli")])
    assert args.func(args, Settings()) == 0
    printed = capsys.readouterr().out
    assert "rotterdam" in printed and "legacy hit rate" in printed and "base rate" in printed


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"days": 0, "seed": 1}, "days"),
        ({"days": 3, "seed": 1, "base_rate": -0.1}, "base_rate"),
        ({"days": 3, "seed": 1, "scale": 0}, "scale"),
        ({"days": 3, "seed": 1, "only_ports": ("rotterdam", "hamburg")}, "hamburg"),
        ({"days": 3, "seed": 1, "typology_shares": {"rip_on": 1.0}}, "typolog"),
    ],
)
def test_bad_configuration_is_a_config_error(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(**values)  # type: ignore[arg-type]


def test_a_world_without_air_or_drift_still_reaches_its_base_rate() -> None:
    world = generate_world(make_config(days=6, seed=3, scale=0.1, only_ports=("rotterdam",), drift_day=100))
    assert world.summary.typologies["drift"] == 0
    assert world.summary.base_rate == pytest.approx(0.004, rel=0.35)
    assert np.isin(world.events["mainport"].unique(), ["rotterdam"]).all()


def test_declared_probability_is_the_truth_given_the_declarations(world: World) -> None:
    """p_declared integrates the hidden factors out: same mean as p_illicit, and a weaker oracle."""
    truth, s = world.truth, world.summary
    assert truth["p_declared"].mean() == pytest.approx(truth["p_illicit"].mean(), rel=0.05)
    assert np.corrcoef(truth["p_declared"], truth["p_illicit"])[0, 1] > 0.5
    assert s.random_precision < s.declared_oracle_precision
    # In expectation no ranking beats the truth's: per port and day, the 10 highest p_illicit carry more
    # probability than the 10 highest p_declared (realised precisions may cross by chance).
    frame = truth.assign(port=world.events["mainport"], day=world.events["event_time"].dt.day)
    expected = {by: frame.sort_values(by, ascending=False).groupby(["port", "day"]).head(10)["p_illicit"].sum()
                for by in ("p_illicit", "p_declared")}
    assert expected["p_declared"] < expected["p_illicit"]


@pytest.mark.parametrize("sigma", [0.3, 0.9])
def test_expected_capped_matches_a_monte_carlo_estimate(sigma: float) -> None:
    from models.world.declared import expected_capped, normal_cdf
    from models.world.typologies import CAP

    x = np.linspace(-4, 4, 81)
    assert np.allclose(normal_cdf(x), [0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x], atol=2e-7)
    a = np.array([0.0, 0.01, 0.2, 0.5, 3.0])
    z = np.random.default_rng(0).lognormal(0.0, sigma, 400_000)
    simulated = [np.minimum(CAP, v * z).mean() for v in a]
    assert np.allclose(expected_capped(a, sigma), simulated, rtol=0.01, atol=1e-6)


def test_analysts_sample_a_new_route_some_days_after_it_appears() -> None:
    """Before the route watch's rule, the static rules hardly look at the new route; after it, they sample it."""
    from models.world.analysts import ROUTE_RULE_DELAY_DAYS, ROUTE_SAMPLE_RATE

    world = generate_world(make_config(days=40, seed=1, scale=0.1, drift_day=10, intelligence_share=0.0))
    originals = world.events[~world.events["is_amendment"]]
    new_route = (originals["transshipment_ports"].map(lambda r: "PTSIE" in r)
                 & originals["port_of_loading"].isin(["ECGYE", "ECPBO", "COBUN", "PECLL", "CLSAI"]))
    day = (originals["event_time"] - pd.Timestamp("2024-01-01", tz="UTC")).dt.days
    by_rules = originals["event_id"].isin(world.outcomes.loc[world.outcomes["selection"] == "legacy", "event_id"])
    in_force = 10 + ROUTE_RULE_DELAY_DAYS + 2  # noticed within a day or two of the route's start
    before = by_rules[new_route & (day < 10 + ROUTE_RULE_DELAY_DAYS)].mean()
    after = by_rules[new_route & (day >= in_force)].mean()
    assert after > max(3 * before, 0.6 * ROUTE_SAMPLE_RATE)
