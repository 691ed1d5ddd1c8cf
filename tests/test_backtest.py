"""`portrisk backtest`: the deployment replay scans capacity, learns only what it could know, and reports."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from models_support import TRAIN, small_world

from models.backtest import BacktestConfig, Replay, Scans, prepare, walk
from models.dataset import History, featurise
from models.tips import tip_prior
from models.train import cutoffs
from portrisk.cli import main
from portrisk.settings import Settings

CAPACITIES = {p.id: float(p.capacity_per_day) for p in Settings().ports}
EVERY_SCAN_FINDS = {"rip_on": 1.0, "front_company": 1.0, "route_laundering": 1.0, "drift": 1.0}


@pytest.fixture(scope="module")
def prepared() -> tuple[Replay, object, dict[str, float]]:
    return prepare(small_world(), CAPACITIES, BacktestConfig(retrain_days=2, random_share=0.2, live_features=False),
                   TRAIN, detection=EVERY_SCAN_FINDS)


def _first_day_scores(replay: Replay, booster: object) -> tuple[range, np.ndarray]:
    days = range(int(replay.table["day"].min()), int(replay.table["day"].min()) + 2)
    scores = np.full(len(replay.history.events), np.nan)
    rows = replay.test_rows
    scores[rows] = booster.predict(replay.feats.X[rows])  # type: ignore[attr-defined]
    return days, replay.container_scores(scores)


def test_each_port_scans_its_capacity_a_random_share_at_random_and_the_rest_by_score(prepared) -> None:
    replay, booster, caps = prepared
    days, scores = _first_day_scores(replay, booster)
    by_model, at_random, explored = replay.select(days, scores, caps)
    assert not explored.any()  # no exploration share configured
    assert not (by_model & at_random).any()
    table = replay.table
    for port_id, capacity in caps.items():
        k, k_random = round(capacity), round(round(capacity) * 0.2)
        for day in days:
            here = ((table["port"] == port_id) & (table["day"] == day)).to_numpy()
            if here.sum() < k:
                continue
            assert (by_model & here).sum() + (at_random & here).sum() == k, (port_id, day)
            assert (at_random & here).sum() == k_random
            # The model's picks are the highest scores among the containers not drawn at random.
            others = here & ~at_random & ~by_model
            if (by_model & here).any() and others.any():
                assert scores[by_model & here].min() >= scores[others].max()


def test_the_explored_share_goes_to_the_segments_with_the_highest_optimistic_rates(prepared) -> None:
    replay, booster, caps = prepared
    days, scores = _first_day_scores(replay, booster)
    aiming = copy.copy(replay)
    aiming.config = dataclasses.replace(replay.config, explore_share=0.3)
    level = np.zeros(replay.legacy_labels.size)  # every segment alike: exploring takes the next best scores
    by_model, at_random, explored = aiming.select(days, scores, caps, level)
    assert not (by_model & at_random).any() and not (explored & (by_model | at_random)).any()
    table = replay.table
    checked = 0
    for port_id, capacity in caps.items():
        k = round(capacity)
        for day in days:
            here = ((table["port"] == port_id) & (table["day"] == day)).to_numpy()
            if here.sum() < 2 * k or k < 10:
                continue
            checked += 1
            assert (at_random & here).sum() == round(k * 0.2) and (explored & here).sum() == round(k * 0.3)
            assert ((by_model | at_random | explored) & here).sum() == k
            rest = here & ~(by_model | at_random | explored)
            assert scores[by_model & here].min() >= scores[explored & here].max() >= scores[rest].max()
    assert checked, "no port-day large enough to check"
    # A segment whose rate stands out: its best container passed over so far is explored now.
    port_day = ((table["port"] == "rotterdam") & (table["day"] == days[0])).to_numpy()
    passed_over = np.flatnonzero(port_day & ~(by_model | at_random | explored))
    segment = replay.container_segment
    lifted = next(c for c in passed_over[np.argsort(-scores[passed_over], kind="stable")]
                  if (segment[explored & port_day] != segment[c]).all())
    standing_out = level.copy()
    standing_out[segment[lifted]] = 1.0
    _, _, explored_now = aiming.select(days, scores, caps, standing_out)
    assert explored_now[lifted] and explored_now.sum() == explored.sum()
    # Without rates (or share) nothing is explored: the model takes the rest.
    assert not aiming.select(days, scores, caps)[2].any()


def test_segment_rates_learn_from_the_results_known_by_then(prepared) -> None:
    replay, _, by_model, at_random, scans = _first_days_scanned(prepared)
    plain = copy.copy(replay)
    plain.config = dataclasses.replace(replay.config, explore_boost=0.0)  # the smoothed rate itself
    cutoff = np.datetime64(replay.periods.valid_end.replace(tzinfo=None), "ns")
    scanned = np.flatnonzero(by_model | at_random)
    before_any = replay.arrival[scanned].min()
    at_cutoff = plain.segment_rates(scans, cutoff)
    assert np.array_equal(at_cutoff, plain.segment_rates(scans, before_any)), "a result was used before it was known"
    unlabelled = replay.legacy_labels == 0
    assert unlabelled.any() and np.allclose(at_cutoff[unlabelled], at_cutoff[unlabelled][0])  # the overall rate
    overall = at_cutoff[unlabelled][0]
    clean, all_found = replay.legacy_finds == 0, replay.legacy_finds == replay.legacy_labels
    assert (at_cutoff[~unlabelled & clean] < overall).all() and (at_cutoff[~unlabelled & all_found] > overall).all()
    # Optimism: few labels raise a segment's rate more than many.
    optimistic = replay.segment_rates(scans, cutoff)
    bonus = optimistic - at_cutoff
    known_low = ~unlabelled & (at_cutoff <= overall)  # no likelier to find drugs, only more labels
    assert known_low.any() and (bonus[known_low] < bonus[unlabelled][0]).all()
    after_all = plain.segment_rates(scans, replay.arrival.max() + np.timedelta64(1, "s"))
    segment, found = replay.container_segment[scanned], replay.detected[scanned]
    only_found = np.setdiff1d(segment[found], segment[~found])
    only_clean = np.setdiff1d(segment[~found], segment[found])
    assert only_found.size and only_clean.size
    # Found drugs raise a segment's rate, clean results lower it (up to the overall rate's own move).
    moved = after_all[unlabelled & np.isin(np.arange(after_all.size), segment, invert=True)][0] - overall
    assert (after_all[only_found] > at_cutoff[only_found] - max(0.0, -moved)).all()
    assert (after_all[only_clean] < at_cutoff[only_clean] + max(0.0, moved)).all()
    assert (after_all[only_found] - at_cutoff[only_found]).min() > (after_all[only_clean] - at_cutoff[only_clean]).max()


def _first_days_scanned(prepared) -> tuple[Replay, object, np.ndarray, np.ndarray, Scans]:
    """The first two days' scans, recorded: (replay, model, by model, at random, scans)."""
    replay, booster, caps = prepared
    days, scores = _first_day_scores(replay, booster)
    by_model, at_random, explored = replay.select(days, scores, caps)
    assert not explored.any()  # no exploration share configured
    scans = Scans.empty(len(replay.history.events))
    replay.record(scans, by_model, at_random)
    return replay, booster, by_model, at_random, scans


def test_a_scan_labels_its_container_on_arrival_with_what_the_scanner_finds(prepared) -> None:
    replay, _, by_model, at_random, scans = _first_days_scanned(prepared)
    labelled = ~np.isnat(scans.known_at)
    container = replay.event_container[labelled].astype(np.int64)
    scanned = by_model | at_random
    assert scanned[container].all(), "a declaration of an unscanned container was labelled"
    assert (scans.known_at[labelled] == replay.arrival[container]).all()
    # ... on arrival, and not before the end of the day the scan was chosen on (a day's scans at once).
    day0 = pd.Timestamp(replay.history.events["event_time"].iloc[0]).floor("D").tz_convert(None)
    day_end = np.datetime64(day0, "ns") + (replay.table["day"].to_numpy() + 1) * np.timedelta64(1, "D")
    assert (scans.known_at[labelled] >= day_end[container]).all()
    assert (replay.times[labelled] < scans.known_at[labelled]).all(), "a declaration filed after the inspection"
    # With a scanner that always detects, a scan finds drugs exactly where the truth has them.
    illicit = replay.table["illicit"].to_numpy()
    assert (scans.found[labelled] == illicit[container]).all()
    assert (scans.random[labelled] == at_random[container]).all()
    assert np.unique(container).size == scanned.sum()  # every scanned container got its label


def test_a_retraining_uses_only_the_results_known_at_its_time(prepared) -> None:
    replay, booster, by_model, at_random, scans = _first_days_scanned(prepared)
    arrivals = np.sort(replay.arrival[by_model | at_random])
    before_any = pd.Timestamp(arrivals[0], tz="UTC").to_pydatetime()
    kept, summary = replay.retrain(scans, before_any, booster)
    assert kept is booster and summary["own_scans"] == 0 and summary["retrained"] is False
    after_all = pd.Timestamp(arrivals[-1], tz="UTC").to_pydatetime() + pd.Timedelta(seconds=1)
    model, summary = replay.retrain(scans, after_all, booster)
    assert summary["own_scans"] == (by_model | at_random).sum()
    assert summary["own_findings"] == replay.table["illicit"].to_numpy()[by_model | at_random].sum()
    assert summary["retrained"] is True and model is not booster
    assert model.current_iteration() == booster.current_iteration()  # type: ignore[attr-defined]
    # The results changed the model: its scores differ from the cut-off model's.
    rows = replay.test_rows[:2000]
    assert not np.allclose(model.predict(replay.feats.X[rows]), booster.predict(replay.feats.X[rows]))  # type: ignore[attr-defined]


def test_the_walk_covers_the_test_period_in_steps_and_reports_static_beside_feedback(prepared) -> None:
    replay, booster, caps = prepared
    replay = copy.copy(replay)
    replay.config = dataclasses.replace(replay.config, explore_share=0.1)
    report = walk(replay, booster, caps)
    steps = report["steps"]
    assert [s["days"][0] for s in steps] == list(range(steps[0]["days"][0], steps[-1]["days"][1], 2))
    assert steps[0]["start"] == report["test_period"]["start"]
    assert all("model_after" in s for s in steps[:-1]) and "model_after" not in steps[-1]
    assert any(s["model_after"]["retrained"] for s in steps[:-1]), "no step learnt from its own scans"
    # The first step is scored by the model of the cut-off: static and feedback agree there, later not.
    first = steps[0]["ports"]["rotterdam"]
    assert first["static_precision_at_capacity"] == first["feedback_precision_at_capacity"]
    for name in ("static", "feedback"):
        rotterdam = report[name]["ports"]["rotterdam"]
        assert 0.0 <= rotterdam["precision_at_capacity"] <= rotterdam["oracle_precision_at_capacity"] + 0.2
        assert "rip_on" in report[name]["typologies"]
    days = {d for s in steps for d in range(*s["days"])}
    assert days == set(replay.table["day"].unique())
    # What the replayed policy scanned: k a day, its random share, findings only where drugs were.
    k = round(caps["rotterdam"])
    scanned = report["scanned"]["rotterdam"]
    assert scanned["scans"] == k * len(days) and scanned["random_scans"] == round(k * 0.2) * len(days)
    assert scanned["explored_scans"] == round(k * 0.1) * len(days) and report["explore_share"] == 0.1
    assert scanned["found"] == scanned["illicit"]  # this fixture's scanner always detects
    assert scanned["precision"] == pytest.approx(scanned["illicit"] / scanned["scans"])


def test_backtest_command_prints_a_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--world", str(small_world()), "--retrain-days", "3"]) == 0
    out = capsys.readouterr().out
    assert "static" in out and "feedback" in out and "per step" in out and "rotterdam" in out
    assert "features from its own results" in out
    assert "95% intervals of the retrained model (feedback)'s figures" in out
    assert main(["backtest", "--world", str(small_world()), "--retrain-days", "3", "--fixed-features", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "backtest" and report["retrain_days"] == 3 and report["random_share"] == 0.1
    assert report["live_features"] is False and report["segment_codes"] is True  # on by default
    assert set(report["feedback"]["ports"]) == set(report["static"]["ports"])
    rotterdam = report["feedback"]["ports"]["rotterdam"]
    low, high = rotterdam["intervals"]["precision_at_capacity"]
    assert low <= rotterdam["precision_at_capacity"] <= high


@pytest.mark.parametrize("args, message", [
    (["--retrain-days", "0"], "at least 1 day"),
    (["--retrain-days", "1.5"], "whole number of days"),
    (["--random-share", "1.5"], "between 0 and 1"),
    (["--explore-share", "-0.1"], "between 0 and 1"),
])
def test_bad_backtest_options_are_usage_errors(args: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["backtest", "--world", str(small_world()), *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_history_without_a_simulated_scanner_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("events.parquet", "outcomes.parquet"):
        shutil.copy(small_world() / name, tmp_path / name)
    assert main(["backtest", "--world", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "needs a simulated world" in err and "world.json" in err


def test_live_features_are_one_replay_of_the_history_with_portrisks_own_results() -> None:
    """With live features, the test period's features are exactly what one point-in-time replay gives of
    the events with the outcomes known at the cut-off plus portrisk's own results, tables rebuilt at
    every retraining — no legacy finding of the test period, nothing from the future."""
    replay, booster, caps = prepare(small_world(), CAPACITIES, BacktestConfig(retrain_days=2, live_features=True),
                                    TRAIN)
    walk(replay, booster, caps)
    live = replay.live
    assert live is not None and len(live.refreshed) == 2 and live.results
    history, cut = replay.history, replay.periods.valid_end
    own = pd.concat(live.results, ignore_index=True)
    assert set(own["result"]) <= {"drugs", "no_finding"} and len(own) == len(set(own["event_id"]))
    known = history.outcomes[history.outcomes["inspected_at"] < cut][list(own.columns)]
    outcomes = pd.concat([known, own], ignore_index=True).sort_values("inspected_at", kind="stable")
    reference = featurise(History(history.events, outcomes.reset_index(drop=True)), TRAIN.features,
                          [*cutoffs(replay.periods, TRAIN.refresh_days), *live.refreshed])
    day0 = pd.Timestamp(history.events["event_time"].iloc[0]).floor("D")
    walked = replay.times < np.datetime64((day0 + pd.Timedelta(days=int(replay.table["day"].max()) + 1)
                                           ).tz_convert(None), "ns")
    a, b = reference.X[walked], replay.X[walked]
    assert ((a == b) | (np.isnan(a) & np.isnan(b))).all()
    assert live.tables.digest == reference.tables.digest
    # ... and they differ from the world as it happened (the legacy policy's findings, the cut-off's tables).
    test = walked & (replay.times >= np.datetime64(pd.Timestamp(cut).tz_convert(None), "ns"))
    c = replay.feats.X[test]
    assert not ((c == replay.X[test]) | (np.isnan(c) & np.isnan(replay.X[test]))).all()


def test_random_and_explored_shares_beyond_the_capacity_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--world", str(small_world()), "--random-share", "0.6", "--explore-share", "0.5"]) == 2
    assert "together exceed the capacity" in capsys.readouterr().err


def test_the_backtest_trains_and_retrains_without_segment_codes_when_asked(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--world", str(small_world()), "--retrain-days", "2", "--fixed-features",
                 "--no-segment-codes", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["segment_codes"] is False
    # it refits on the earlier feature set (a model whose names differed could not score the next step)
    assert any(step.get("model_after", {}).get("retrained") for step in report["steps"])


def test_with_a_tip_model_every_model_boosts_from_its_prior_kept_up_with_live_features() -> None:
    with_tips = dataclasses.replace(TRAIN, tip_min_findings=1, tip_sample=5_000)
    replay, booster, caps = prepare(small_world(), CAPACITIES, BacktestConfig(retrain_days=2, live_features=True),
                                    with_tips)
    tip, prior = replay.tip, replay.prior
    assert tip is not None and prior is not None
    assert booster.num_trees() == replay.main_rounds + tip.booster.num_trees()
    report = walk(replay, booster, caps)
    assert any(step.get("model_after", {}).get("retrained") for step in report["steps"])
    # The prior follows the features: recomputed where live features replaced the world's, as they were elsewhere.
    same = (replay.X == replay.feats.X) | (np.isnan(replay.X) & np.isnan(replay.feats.X))
    changed = np.flatnonzero(~same.all(axis=1))
    assert changed.size
    for rows, X in ((changed, replay.X), (np.arange(2000), replay.feats.X)):
        assert np.abs(prior[rows] - tip_prior(tip, with_tips.tip_weight, X[rows])).max() < 1e-9
