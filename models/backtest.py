"""`portrisk backtest`: portrisk deployed over a world's held-out period, learning from its own scans.

`portrisk evaluate` judges one model, frozen at its training cut-off, on labels the legacy policy
chose. Deployed, portrisk does not stand still: customs scan what *it* recommends, the outcomes flow
back, and the next model learns from them — including from the scans of the random share, which keep
new routes and methods in view (DOMAIN.md: "pure 'inspect the riskiest' selection collapses under
drift, a 10 % random or exploratory share keeps it stable"). In a simulated world the truth is known,
so that loop can be replayed:

1. A model is trained exactly as `portrisk train` does (same features, split, labels, weights).
2. The held-out period is walked in steps of ``retrain_days``. Each day, per port, the live policy's
   split of the scan capacity k is applied: ``round(random_share * k)`` containers drawn uniformly at
   random, the rest of k taken by the current model's score (a container's score is the highest of its
   declarations, as in `portrisk evaluate`). Optionally (``explore_share``) part of k is *explored*:
   aimed at segments — port of loading, routing, HS chapter, reefer or not: the pattern analysts write
   rules on — whose drug-finding rate may be high, ranked by the rate smoothed over the labels known so
   far plus ``explore_boost`` standard errors (few labels or many findings), by score within a segment.
   The model alone never scans what it scores low, so it never learns that it was wrong there; uniform
   random scans do, but at a base rate of about 0.4 % almost all of them are clean. Explored scans aim
   labels where the model's ignorance is likeliest to cost findings (on the default world, over four
   seeds, they did not measurably improve the ranking: README, "Exploration").
3. Each scan's result is drawn from the world's truth and its scanner: drugs are found when the
   container carries them and the scan detects the method (the world's per-typology detection rate).
   The result is known when the container arrives (inspection on arrival), not before — and not
   before the end of the day the scan was chosen on, since the replay chooses a day's scans at once.
4. At the end of each step the model is retrained on the labels known by then: the legacy labels known
   before the cut-off plus the results of portrisk's own scans, recency-weighted from the moment of the
   retraining, random scans weighted like random selections in training, with as many trees as the
   cut-off model (early stopping's choice within the main model's budget). The cut-off model's tip
   trees (:mod:`models.tips`) are added to every retrained model unchanged (the replay has no tips after
   the cut-off), and every retraining boosts from their prior, as `portrisk train` does.

Features (:class:`LiveFeatures`): from the cut-off on they are computed as the deployment would, one
day at a time — shipper histories fold in portrisk's own results, not the legacy policy's (which a
deployment would not have), and the reference tables are rebuilt with every retraining, since a model
and its tables are one version. That costs a second replay of the history before the cut-off. With
``live_features=False`` (``--fixed-features``) the features of the world as it happened are used
instead: half the time, but they credit the deployment with the legacy policy's test-period findings
and keep the cut-off's tables (on the default world this reads about 1 percentage point higher).
The report puts the frozen model ("static", the same figures as `portrisk evaluate` up to the scoring
path) beside the learning one ("feedback"), step by step.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.pipeline import FeaturePipeline
from features.replay import replay as replay_features
from features.rows import OutcomeRow, event_rows, outcome_rows
from features.state import InMemoryStore
from features.tables import ReferenceTables
from models.dataset import Features, History, container_keys, featurise, load_history
from models.ensemble import add_trees
from models.evaluate import interval_lines, share_cell, times_cell, typology_totals, world_scale
from models.evaluation import container_table, evaluate_table, segment_labels
from models.tables import TableBuilder
from models.tips import TipModel, fit_tip_model, tip_prior
from models.train import (
    Periods,
    Rows,
    TrainConfig,
    cutoffs,
    fit,
    main_budget,
    refit,
    split,
    training_rows,
    with_declared_features,
)
from models.world.writer import read_truth
from portrisk.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestConfig:
    """How the deployment is replayed."""

    retrain_days: int = 7  # a new model every this many days
    random_share: float = 0.10  # share of each port's daily scans drawn at random (the live policy's default)
    seed: int = 0  # random scans and scanner draws
    live_features: bool = True  # features from portrisk's own results (a second replay), see LiveFeatures
    explore_share: float = 0.0  # share of each port's daily scans aimed at segments (see Replay.segment_rates)
    explore_boost: float = 2.0  # optimism: a segment's finding rate plus this many standard errors
    explore_prior: float = 10.0  # pseudo-labels at the overall finding rate in a segment's smoothed rate

    def __post_init__(self) -> None:
        if self.retrain_days < 1:
            raise ValueError(f"retrain_days must be a whole number of days >= 1, got {self.retrain_days}")
        for name in ("random_share", "explore_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.random_share + self.explore_share > 1:
            raise ValueError("random_share and explore_share together exceed the capacity")
        if self.explore_boost < 0 or self.explore_prior <= 0:
            raise ValueError(f"explore_boost must be >= 0 and explore_prior > 0, got {self.explore_boost} and "
                             f"{self.explore_prior}")


def segments(events: pd.DataFrame) -> np.ndarray:
    """Per event, a code of its segment (:func:`models.evaluation.segment_labels`)."""
    return pd.factorize(segment_labels(events))[0].astype(np.int64)


def detection_rates(world_dir: Path) -> dict[str, float]:
    """The world's per-typology chance that a scan finds the drugs a container carries."""
    meta = Path(world_dir) / "world.json"
    try:
        rates = json.loads(meta.read_text(encoding="utf-8"))["config"]["detection"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"a backtest needs a simulated world: cannot read the scanner's detection rates from "
                        f"{meta} ({exc})") from exc
    return {str(k): float(v) for k, v in rates.items()}


@dataclass
class Scans:
    """portrisk's own scans so far, per event: label, when it became known, and how it was chosen."""

    known_at: np.ndarray  # datetime64[ns]; NaT where no scan labels the event
    found: np.ndarray
    random: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Scans:
        return cls(np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"), np.zeros(n, bool), np.zeros(n, bool))


class Replay:
    """The world, its features, training labels and test containers: what every step reads."""

    def __init__(self, history: History, truth: pd.DataFrame, feats: Features, periods: Periods, rows: Rows,
                 config: BacktestConfig, train_config: TrainConfig, detection: Mapping[str, float]) -> None:
        self.history, self.feats, self.periods, self.rows = history, feats, periods, rows
        self.config, self.train_config = config, train_config
        events = history.events
        self.times = events["event_time"].to_numpy(dtype="datetime64[ns]")
        self.keys = container_keys(events)
        # Per container first declared in the test period: port, day, truth, arrival, scanner draw.
        blank = np.zeros(len(events), dtype=np.float32)
        self.table = container_table(events, history.outcomes, truth, blank, periods.valid_end, history.end)
        eta = events.set_index("event_id")["eta"].reindex(self.table["key"]).to_numpy(dtype="datetime64[ns]")
        self.first_rows = self._first_rows()  # per test container, the row of its first declaration
        # A result is known on arrival, and no earlier than the end of the day its scan was chosen on: the
        # replay chooses a day's scans once the day is over (air cargo can land the day it is declared).
        day0 = np.datetime64(pd.Timestamp(events["event_time"].iloc[0]).floor("D").tz_convert(None), "ns")
        day_end = day0 + (self.table["day"].to_numpy() + 1) * np.timedelta64(1, "D")
        self.arrival = np.maximum(np.where(np.isnat(eta), self.times[self.first_rows], eta), day_end)
        rng = np.random.default_rng(config.seed)
        rate = self.table["typology"].map(lambda t: detection.get(t, 0.0)).to_numpy(dtype=float)
        self.detected = self.table["illicit"].to_numpy(dtype=bool) & (rng.random(len(self.table)) < rate)
        self.tiebreak = rng.random(len(self.table))  # the order of the random draw
        row_of_key = pd.Series(np.arange(len(self.table)), index=self.table["key"].to_numpy())
        self.event_container = row_of_key.reindex(self.keys).to_numpy()  # NaN: container outside the test
        self.test_rows = np.flatnonzero(~np.isnan(self.event_container))  # declarations of test containers
        declarations = pd.Series(self.keys).map(pd.Series(self.keys).value_counts()).to_numpy()
        self.per_container = 1.0 / np.maximum(declarations, 1)  # a container counts once, however declared
        self.X = feats.X  # the features models score and learn from (a copy when live ones replace them)
        self.live: LiveFeatures | None = None
        # The cut-off model's trees fit to labels (refitted at every retraining with as many) and its tip
        # trees (models.tips: the replay has no tips after the cut-off, so they stay the cut-off's).
        self.main_rounds = 0
        self.tip: TipModel | None = None
        self.prior: np.ndarray | None = None  # the tip model's prior for every row, which the main trees boost from

    def with_tips(self, booster: lightgbm.Booster) -> lightgbm.Booster:
        """``booster`` with the cut-off's tip trees added, as `portrisk train` adds them (without its
        recalibration, which changes no ranking)."""
        tip = self.tip
        return booster if tip is None else add_trees(booster, tip.booster, self.train_config.tip_weight, tip.offset)

    def refresh_prior(self, rows: slice) -> None:
        """The tip model's prior of ``rows`` after their features changed (live features)."""
        if self.tip is not None and self.prior is not None:
            self.prior[rows] = tip_prior(self.tip, self.train_config.tip_weight, self.X[rows])

    # Exploration's segments (only built when an explored share asks for them): the analysts' pattern —
    # port of loading, routing, HS chapter — and reefer or not; the legacy labels and findings in each.
    @functools.cached_property
    def segment(self) -> np.ndarray:
        return segments(self.history.events)

    @functools.cached_property
    def container_segment(self) -> np.ndarray:
        return self.segment[self.first_rows]

    @functools.cached_property
    def legacy_labels(self) -> np.ndarray:
        return self._per_segment((self.rows.train | self.rows.valid) & self.rows.labelled)

    @functools.cached_property
    def legacy_finds(self) -> np.ndarray:
        return self._per_segment((self.rows.train | self.rows.valid) & self.rows.labelled & self.rows.y)

    def _per_segment(self, rows: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
        """Containers (declarations weighted 1/their count, times ``weight``) of ``rows`` per segment."""
        w = self.per_container[rows] if weight is None else self.per_container[rows] * weight
        return np.bincount(self.segment[rows], weights=w, minlength=int(self.segment.max()) + 1)

    def segment_rates(self, scans: Scans, now: np.datetime64) -> np.ndarray:
        """Per segment, an optimistic drug-finding rate from the labels known at ``now`` (the legacy's before
        the cut-off plus own scans'): the rate smoothed towards the overall one with ``explore_prior``
        pseudo-labels, plus ``explore_boost`` standard errors — high where findings are frequent or labels few."""
        known = ~np.isnat(scans.known_at) & (scans.known_at < now)
        n = self.legacy_labels + self._per_segment(known)
        f = self.legacy_finds + self._per_segment(known, scans.found[known])
        m = self.config.explore_prior
        mean = (f + m * f.sum() / max(n.sum(), 1.0)) / (n + m)
        return mean + self.config.explore_boost * np.sqrt(mean * (1.0 - mean) / (n + m))

    def _first_rows(self) -> np.ndarray:
        ids = pd.Series(np.arange(len(self.history.events)), index=self.history.events["event_id"].to_numpy())
        return ids.reindex(self.table["key"]).to_numpy()

    def container_scores(self, event_scores: np.ndarray) -> np.ndarray:
        """Per test container, the highest score of its declarations scored so far (NaN: none yet)."""
        rows = self.test_rows[~np.isnan(event_scores[self.test_rows])]
        frame = pd.DataFrame({"c": self.event_container[rows].astype(np.int64), "s": event_scores[rows]})
        best = frame.groupby("c")["s"].max()
        out = np.full(len(self.table), np.nan)
        out[best.index.to_numpy()] = best.to_numpy()
        return out

    def select(self, days: range, scores: np.ndarray, capacities: Mapping[str, float],
               rates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The policy's scans on ``days``: (chosen by the model, drawn at random, explored) masks over test
        containers. Explored scans (``explore_share``, needs ``rates``, :meth:`segment_rates`) go to the
        rest's containers of the segments with the highest optimistic finding rates, by score within one."""
        by_model = np.zeros(len(self.table), bool)
        at_random = np.zeros(len(self.table), bool)
        explored = np.zeros(len(self.table), bool)
        port, day = self.table["port"].to_numpy(), self.table["day"].to_numpy()
        for port_id, capacity in capacities.items():
            k = round(capacity)
            k_random = round(k * self.config.random_share)
            k_explore = round(k * self.config.explore_share) if rates is not None else 0
            for d in days:
                rows = np.flatnonzero((port == port_id) & (day == d))
                if rows.size == 0:
                    continue
                drawn = rows[np.argsort(self.tiebreak[rows], kind="stable")[:k_random]]
                at_random[drawn] = True
                rest = rows[~at_random[rows]]
                score = np.nan_to_num(scores[rest], nan=-1.0)
                ranked = rest[np.lexsort((rest, -score))]
                chosen = ranked[:max(k - drawn.size - k_explore, 0)]
                by_model[chosen] = True
                if k_explore and rates is not None:  # the rest of k, by segment rate, then score
                    left = ~by_model[rest]
                    order = np.lexsort((rest[left], -score[left], -rates[self.container_segment[rest[left]]]))
                    explored[rest[left][order[:k - drawn.size - chosen.size]]] = True
        return by_model, at_random, explored

    def record(self, scans: Scans, chosen: np.ndarray, random: np.ndarray) -> None:
        """Label every declaration of each scanned container filed before its arrival (inspection)."""
        rows = self.test_rows
        container = self.event_container[rows].astype(np.int64)
        hit = chosen[container] | random[container]
        rows, container = rows[hit], container[hit]
        arrival = self.arrival[container]
        before = self.times[rows] < arrival
        rows, container, arrival = rows[before], container[before], arrival[before]
        scans.known_at[rows] = arrival
        scans.found[rows] = self.detected[container]
        scans.random[rows] = random[container]

    def results(self, scanned: np.ndarray) -> pd.DataFrame:
        """The scan results of the ``scanned`` test containers, as outcomes (known on arrival)."""
        rows = self.first_rows[scanned]
        return pd.DataFrame({
            "event_id": self.table["key"].to_numpy()[scanned],
            "shipper_id": self.history.events["shipper_id"].to_numpy()[rows],
            "inspected_at": pd.to_datetime(self.arrival[scanned]).tz_localize("UTC"),
            "result": np.where(self.detected[scanned], "drugs", "no_finding"),
        })

    def retrain(self, scans: Scans, now: datetime, previous: lightgbm.Booster
                ) -> tuple[lightgbm.Booster, dict[str, Any]]:
        """A model on the labels known at ``now``, with the cut-off model's number of trees.

        The rounds early stopping found at the cut-off are kept: a week's results are too few to judge
        early stopping on, and a model that changes size every week would be harder to compare.
        """
        cfg = self.train_config
        now64 = _ns(now)
        known = ~np.isnat(scans.known_at) & (scans.known_at < now64)
        weight = np.where(scans.random, cfg.random_weight, 1.0) * self.per_container
        shift = 1.0
        if cfg.recency_half_life_days is not None:
            age = (now64 - self.times).astype("timedelta64[s]").astype(np.float64) / 86_400.0
            weight = weight * np.exp2(-np.clip(age, 0.0, None) / cfg.recency_half_life_days)
            shift = float(np.exp2(-(now - self.periods.valid_end).total_seconds() / 86_400
                                  / cfg.recency_half_life_days))
        weight = np.where(known, weight, self.rows.weight * shift)  # legacy labels age like the rest
        rows = self.rows.train | self.rows.valid | known
        scanned = self.event_container[known].astype(np.int64)
        summary = {"labels": int(rows.sum()), "own_scans": int(np.unique(scanned).size),
                   "own_findings": int(np.unique(scanned[scans.found[known]]).size)}
        if not known.any():
            return previous, {**summary, "retrained": False}
        y = np.where(known, scans.found, self.rows.y)
        booster = refit(self.X, y, weight, rows, self.feats.names, cfg, self.main_rounds, self.rows.labelled | known,
                        self.prior)
        return self.with_tips(booster), {**summary, "retrained": True}


class LiveFeatures:
    """The test period's features as the deployment would compute them, one day at a time.

    Shipper histories fold in portrisk's own scan results (on arrival) instead of the legacy policy's,
    and the reference tables — versioned with the model, as in production — are rebuilt from the
    history plus those results at every retraining. Starts from the state a replay of the history
    before the cut-off leaves (a second replay of it: the first one's state has run on to the end).
    """

    def __init__(self, history: History, config: FeatureConfig, cuts: list[datetime], tables_digest: str) -> None:
        events, outcomes = history.events, history.outcomes
        cutoff = cuts[-1]
        times = events["event_time"]
        n_before = int((times < cutoff).sum())
        known = outcomes[outcomes["inspected_at"] < cutoff]
        self.events = events
        self.store = InMemoryStore()
        self.builder = TableBuilder(config, pd.concat([known["event_id"], events["event_id"].iloc[n_before:]]))
        self.tables = featurise(History(events.iloc[:n_before], known), config, cuts, store=self.store,
                                builder=self.builder).tables
        self.results: list[pd.DataFrame] = []  # every result added, in order
        self.refreshed: list[datetime] = []  # when the tables were rebuilt
        if self.tables.digest != tables_digest:
            raise DataError("the live features' tables differ from the training replay's at the cut-off")
        last = times.iloc[n_before - 1]
        # Outcomes at or after the last event before the cut-off were not folded into the states yet.
        self.pending = known.loc[known["inspected_at"] >= last, list(OutcomeRow._fields)].assign(own=False)

    def _snapshot(self, at: datetime) -> ReferenceTables:
        return ReferenceTables.from_bytes(self.builder.snapshot(at).to_bytes())

    def day(self, rows: slice, end: datetime) -> np.ndarray:
        """Feature rows of the events ``rows`` (one day), folding every result known before ``end``."""
        end_ts = pd.Timestamp(end)
        due = self.pending[self.pending["inspected_at"] < end_ts].sort_values("inspected_at", kind="stable")
        self.pending = self.pending[self.pending["inspected_at"] >= end_ts]
        chunk = self.events.iloc[rows]
        for row in event_rows(chunk):
            self.builder.add_event(row, row.event_id, row.event_time)
        for outcome in outcome_rows(due[due["own"].to_numpy(dtype=bool)]):
            self.builder.add_outcome(outcome.event_id, outcome.result)
        return replay_features(FeaturePipeline(self.tables), event_rows(chunk), outcome_rows(due), self.store,
                               fold_trailing=True)

    def add_results(self, results: pd.DataFrame) -> None:
        """Results of portrisk's own scans (OutcomeRow columns), folded when they come due."""
        self.pending = pd.concat([self.pending, results.assign(own=True)], ignore_index=True)
        self.results.append(results)

    def refresh(self, at: datetime) -> None:
        """New reference tables, as of ``at``, for the next model."""
        self.tables = self._snapshot(at)
        self.refreshed.append(at)


def prepare(world_dir: str | Path, capacities: Mapping[str, float], config: BacktestConfig | None = None,
            train_config: TrainConfig | None = None, detection: Mapping[str, float] | None = None
            ) -> tuple[Replay, lightgbm.Booster, dict[str, float]]:
    """The world replayed through the features, the model of the training cut-off, and the scaled capacities.

    ``capacities`` are each port's scans per day at full scale (scaled here by the world's ``scale``);
    ``detection`` overrides the world's scanner (per typology).
    """
    config = config or BacktestConfig()
    train_config = train_config or TrainConfig()
    world = Path(world_dir)
    train_config = with_declared_features(train_config, world)
    detection = detection_rates(world) if detection is None else detection
    history = load_history(world)
    truth = read_truth(world)
    periods = split(history, train_config)
    cuts = cutoffs(periods, train_config.refresh_days)
    feats = featurise(history, train_config.features, cuts)
    rows = training_rows(history, feats, periods, train_config)
    scale = world_scale(world)
    caps = {port: capacity * scale for port, capacity in capacities.items()}
    replay = Replay(history, truth, feats, periods, rows, config, train_config, detection)
    replay.tip = fit_tip_model(history, feats, periods, rows, train_config) if train_config.tip_weight > 0 else None
    if replay.tip is not None:  # every retraining boosts from it, as `portrisk train` does (models.train)
        replay.prior = tip_prior(replay.tip, train_config.tip_weight, feats.X)
    booster, metrics = fit(feats.X, rows.y, rows.weight, rows.train, rows.valid, feats.names,
                           main_budget(train_config, replay.tip), rows.labelled, replay.prior)
    replay.main_rounds = metrics["rounds"]
    booster = replay.with_tips(booster)
    if config.live_features:
        replay.live = LiveFeatures(history, train_config.features, cuts, feats.tables.digest)
        replay.X = feats.X.copy()
    return replay, booster, caps


def run_backtest(world_dir: str | Path, capacities: Mapping[str, float], config: BacktestConfig | None = None,
                 train_config: TrainConfig | None = None) -> dict[str, Any]:
    """Replay a deployment over the world's held-out period (see the module docstring); the report."""
    replay, booster, caps = prepare(world_dir, capacities, config, train_config)
    return walk(replay, booster, caps)


def walk(replay: Replay, booster: lightgbm.Booster, caps: Mapping[str, float]) -> dict[str, Any]:
    """Walk the held-out period day by day: features, scores, scans, results; retrain every step."""
    history, feats, periods, config = replay.history, replay.feats, replay.periods, replay.config
    test = replay.times >= _ns(periods.valid_end)
    static = np.full(len(history.events), np.nan)
    static[test] = booster.predict(feats.X[test])
    live = np.full(len(history.events), np.nan)
    scans = Scans.empty(len(history.events))
    day0 = pd.Timestamp(history.events["event_time"].iloc[0]).floor("D")
    first, last = int(replay.table["day"].min()), int(replay.table["day"].max())
    steps = []
    by_model, at_random = np.zeros(len(replay.table), bool), np.zeros(len(replay.table), bool)
    explored = np.zeros(len(replay.table), bool)
    for lo in range(first, last + 1, config.retrain_days):
        hi = min(lo + config.retrain_days, last + 1)
        chosen, random = np.zeros_like(by_model), np.zeros_like(at_random)
        for day in range(lo, hi):
            start, end = (day0 + pd.Timedelta(days=d) for d in (day, day + 1))
            rows = slice(*np.searchsorted(replay.times, [_ns(max(start, periods.valid_end)), _ns(end)]))
            if replay.live is not None:
                replay.X[rows] = replay.live.day(rows, end.to_pydatetime())
                replay.refresh_prior(rows)
            live[rows] = booster.predict(replay.X[rows])
            rates = replay.segment_rates(scans, _ns(end)) if config.explore_share else None
            picked, drawn, aimed = replay.select(range(day, day + 1), replay.container_scores(live), caps, rates)
            replay.record(scans, picked | aimed, drawn)
            if replay.live is not None:
                replay.live.add_results(replay.results(picked | drawn | aimed))
            chosen |= picked | aimed
            random |= drawn
            explored |= aimed
        by_model |= chosen
        at_random |= random
        start, end = (day0 + pd.Timedelta(days=d) for d in (lo, hi))
        record: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat(), "days": [lo, hi],
                                  "scans": int(chosen.sum() + random.sum()),
                                  "policy_hits": int(replay.table["illicit"].to_numpy()[chosen | random].sum())}
        if hi <= last:
            if replay.live is not None:
                replay.live.refresh(end.to_pydatetime())
            booster, record["model_after"] = replay.retrain(scans, end.to_pydatetime(), booster)
        steps.append(record)
        log.info("backtest step %s", record)
    report = _report(replay, static, live, steps, caps, config)
    return {**report, "scanned": _scanned(replay, by_model, at_random, explored)}


def _scanned(replay: Replay, by_model: np.ndarray, at_random: np.ndarray, explored: np.ndarray
             ) -> dict[str, dict[str, Any]]:
    """Per port, what the replayed policy scanned (``by_model`` includes the explored): hit rate and findings,
    and those of the random and the explored share."""
    illicit, port = replay.table["illicit"].to_numpy(), replay.table["port"].to_numpy()
    out = {}
    for port_id in dict.fromkeys(port.tolist()):
        here = port == port_id
        scanned, drawn, aimed = here & (by_model | at_random), here & at_random, here & explored
        out[port_id] = {"scans": int(scanned.sum()), "illicit": int(illicit[scanned].sum()),
                        "found": int(replay.detected[scanned].sum()),
                        "precision": float(illicit[scanned].mean()) if scanned.any() else None,
                        "random_scans": int(drawn.sum()), "random_illicit": int(illicit[drawn].sum()),
                        "explored_scans": int(aimed.sum()), "explored_illicit": int(illicit[aimed].sum())}
    return out


def _ns(t: datetime) -> np.datetime64:
    return np.datetime64(pd.Timestamp(t).tz_convert(None), "ns")


def _report(replay: Replay, static: np.ndarray, live: np.ndarray, steps: list[dict[str, Any]],
            caps: Mapping[str, float], config: BacktestConfig) -> dict[str, Any]:
    history, periods = replay.history, replay.periods
    tables = {}
    for name, scores in (("static", static), ("feedback", live)):
        table = replay.table.copy()
        table["score"] = replay.container_scores(np.nan_to_num(scores, nan=0.0))
        tables[name] = table
    whole = {name: evaluate_table(t, caps) for name, t in tables.items()}
    for record in steps:
        lo, hi = record["days"]
        record["ports"] = {}
        for name, table in tables.items():
            part = table[(table["day"] >= lo) & (table["day"] < hi)]
            if part.empty:
                continue
            for port_id, p in evaluate_table(part, caps)["ports"].items():
                record["ports"].setdefault(port_id, {})[f"{name}_precision_at_capacity"] = p["precision_at_capacity"]
                record["ports"][port_id]["oracle_precision_at_capacity"] = p["oracle_precision_at_capacity"]
                record["ports"][port_id]["legacy_precision_at_capacity"] = p["legacy_precision_at_capacity"]
    return {
        "kind": "backtest",
        "test_period": {"start": periods.valid_end.isoformat(), "end": history.end.isoformat()},
        "retrain_days": config.retrain_days, "random_share": config.random_share, "seed": config.seed,
        "explore_share": config.explore_share, "explore_boost": config.explore_boost,
        "explore_prior": config.explore_prior,
        "live_features": config.live_features,
        "segment_codes": replay.train_config.features.segment_codes,
        "static": {**whole["static"], "typologies": typology_totals(whole["static"]["ports"])},
        "feedback": {**whole["feedback"], "typologies": typology_totals(whole["feedback"]["ports"])},
        "steps": steps,
    }


def format_backtest(report: Mapping[str, Any]) -> str:
    """The backtest report as readable tables."""
    static, feedback = report["static"]["ports"], report["feedback"]["ports"]
    lines = [f"backtest {report['test_period']['start']} .. {report['test_period']['end']}: retrained every "
             f"{report['retrain_days']:g} days on its own scans, {report['random_share']:.0%} of the scans at random"
             + (f", {report['explore_share']:.0%} explored (segments' finding rates + {report['explore_boost']:g} "
                f"standard errors, {report['explore_prior']:g} pseudo-labels)" if report.get("explore_share") else "")
             + "; "
             + ("features from its own results" if report["live_features"] else
                "features of the world as it happened (--fixed-features)"),
             "", "precision at each port's daily scan capacity over the whole period",
             f"{'port':<11}{'k/day':>6}{'static':>8}{'feedback':>9}{'legacy':>8}{'oracle':>8}"
             f"{'xlegacy':>9}{'/oracle':>8}{'scanned':>9}{'found':>7}"]
    for port_id, f in feedback.items():
        s, scanned = static[port_id], report["scanned"].get(port_id, {})
        lines.append(f"{port_id:<11}{f['capacity_per_day']:>6g}{s['precision_at_capacity']:>8.1%}"
                     f"{f['precision_at_capacity']:>9.1%}{f['legacy_precision_at_capacity']:>8.1%}"
                     f"{f['oracle_precision_at_capacity']:>8.1%}{times_cell(f['lift_over_legacy'], 9)}"
                     f"{times_cell(f['ratio_to_oracle'], 8)}{share_cell(scanned.get('precision'), 9)}"
                     f"{scanned.get('found', 0):>7}")
    lines += interval_lines(feedback, "the retrained model (feedback)")
    lines += ["", "recall per typology at capacity (all ports): static -> feedback"]
    for name, t in report["feedback"]["typologies"].items():
        lines.append(f"  {name:<18}{report['static']['typologies'][name]['model_recall']:>7.1%} ->"
                     f"{t['model_recall']:>7.1%}  (oracle {t['oracle_recall']:.1%})")
    ports = list(feedback)
    lines += ["", "per step: feedback (static) precision at capacity, and the model trained at the step's end",
              f"{'step start':<12}" + "".join(f"{p[:12]:>16}" for p in ports) + "  retrained on"]
    for record in report["steps"]:
        cells = []
        for p in ports:
            r = record["ports"].get(p)
            cells.append(f"{r['feedback_precision_at_capacity']:>8.1%} ({r['static_precision_at_capacity']:.1%})"
                         if r else f"{'-':>16}")
        after = record.get("model_after")
        note = "" if after is None else (
            f"  {after['own_scans']:,} own scans known, drugs in {after['own_findings']}"
            + ("" if after["retrained"] else " (none yet: model kept)"))
        lines.append(f"{record['start'][:10]:<12}" + "".join(f"{c:>16}" for c in cells) + note)
    lines += ["", "static = the model frozen at the training cut-off; feedback = retrained on the results of the scans "
              "it recommended (both: its top k a day); legacy = the legacy rules' selections; oracle = ranking by the "
              "true probability; scanned = share illicit of what the replayed policy scanned (model, random and "
              "explored share), found = drug findings of those scans"]
    return "\n".join(lines)

