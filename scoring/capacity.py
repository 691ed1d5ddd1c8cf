"""Per-port threshold control: keep scan flags near the port's daily capacity.

For each port, at every refresh (every ``refresh_every`` events of that port, and whenever event time
enters a new hour):

- arrivals a day ``A`` = arrivals counted over the last ``arrivals_days`` days of event time (hourly
  bins), plus the configured ``containers_per_day`` pro rata for the part of that span not yet observed,
  divided by the span: a new worker starts from the configuration and hands over smoothly to what it
  sees. Whole days, because arrivals are diurnal (an exponentially decayed rate falls every quiet night
  and over-selects in the next morning's burst); several of them, because arrivals come in vessel-sized
  bursts of thousands that make a 24 h count swing by a quarter;
- the model's share of capacity ``M = (1 - random_share) * C - R``, where ``R`` is the rate of flags forced
  by analyst rules over the last 24 h (they use the same inspectors), floored at ``min_model_share``
  of the model share;
- the target flag rate ``p = k * M / A / (1 - s)``, where ``s`` is the share of picks that suppress rules
  released over the last 24 h (picks that are not scans), and the threshold = the ``1 - p`` quantile of
  the port's last ``window`` scores (a ring buffer; one per score source, because fallback scores live
  on another scale); the random rate is ``random_share * C / A / (1 - s)``;
- both rates are capped at ``max_rate_factor`` times the port's configured share (capacity over configured
  arrivals): capacity is a target for a normal day, not a quota to fill when arrivals dry up;
- ``k`` is the feedback correction: an integral controller on the relative excess of the flags issued
  in the last 24 h over capacity (once a full day has been seen), updated hourly, ignoring deviations
  within ``feedback_dead_z`` Poisson standard deviations, with a gain scaled down when the expected
  count is small (a port with 5 scans a day has too much noise to steer on), bounded to ``k_bounds``.

Several workers. Each worker decides the containers of the partitions it owns; shippers hash evenly
over partitions, so a worker owning a share of them sees that share of every port's traffic and gets
that share of its capacity (:meth:`PortController.set_share`, set on every rebalance). Without it each of
n workers would target the whole capacity on its part of the arrivals, and the port would get up to
``max_rate_factor`` times its capacity in flags.

Cold start. The model window's quantile is used from its first score on, refreshed after every event
while the window holds fewer than ``min_samples``: the threshold is then the top score seen so far, which
the m-th event beats with probability 1/m, so a fresh port flags ~ln(200) ≈ 5 events more than its share
before 200, whatever the model's score scale. A fixed default does not know that scale: with a model whose
scores run higher, 0.5 flagged 27 of Amsterdam's first 200 arrivals (capacity 5 a day); nor does the model
card's decision threshold, a quantile pooled over all ports. The fallback window, which fills only while
the model is unavailable, keeps its default until it holds ``min_samples``. A short window
cannot resolve a tail of p < 1/m, but its top score then flags about 1/m of arrivals: a bounded,
brief over-selection (0.5 % for m = 200), preferable to a default that knows nothing of the scores.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.ports import PortConfig

HOUR_S = 3600
DAY_S = 86_400


@dataclass(frozen=True)
class PolicyTuning:
    """Knobs of the threshold controller; the defaults suit ports from 450 to 23,000 arrivals a day."""

    # Scores in the quantile window, in days of configured arrivals, bounded for small ports and for
    # memory. Longer ranks across more vessel calls (a risky call competes with more than its
    # neighbours) but lets flags follow day-to-day swings in risk and reacts later to drift; half a day
    # balanced the two in simulation.
    window_days: float = 0.5
    min_window: int = 2_000
    max_window: int = 50_000
    refresh_every: int = 128  # events of a port between threshold recomputations
    arrivals_days: int = 3
    min_samples: int = 200  # fallback scores before their quantile replaces the default; model: faster refreshes
    default_threshold: float = 0.5  # cold start, model scores
    fallback_default_threshold: float = 0.5  # cold start, fallback scores
    feedback_gain: float = 0.015  # per hour; integral time ~3 days, well above the 24 h measurement lag
    feedback_min_hours: float = 24.0  # a 24 h count means something once it spans a whole diurnal cycle
    feedback_full_at: float = 50.0  # expected flags at which the feedback gets its full gain
    feedback_dead_z: float = 1.0  # deviations within this many Poisson sd are noise, not error
    k_bounds: tuple[float, float] = (0.5, 2.0)
    # The model and random rates never exceed this multiple of the port's configured share (capacity over
    # configured arrivals). When arrivals fall far below the configured volume (a quiet day, a feed that
    # stops, the late amendments after a replayed day) filling capacity would mean flagging ordinary
    # containers: with 300 arrivals a day, 150 scans is half of them, down to the median score.
    max_rate_factor: float = 2.0
    min_model_share: float = 0.25
    over_capacity_factor: float = 1.5


class HourlyCounts:
    """Counts per hour of event time for the last ``n_hours`` hours: a ring of (hour, count) bins.

    Counts are floats: rescaled to another traffic share they are expected counts, and rounding each
    hour's one or two flags would wipe them out (1 x 0.5 rounds to 0)."""

    def __init__(self, n_hours: int = 24) -> None:
        self.hours = [-1] * n_hours
        self.counts = [0.0] * n_hours

    def add(self, hour: int, n: float = 1.0) -> None:
        b = hour % len(self.hours)
        if self.hours[b] != hour:
            if hour < self.hours[b]:
                return  # a full ring older than the latest event in this bin: outside the window
            self.hours[b], self.counts[b] = hour, 0.0
        self.counts[b] += n

    def rescale(self, factor: float) -> None:
        """Multiply every count: counts gathered under another traffic share."""
        self.counts = [c * factor for c in self.counts]

    def total(self, now_hour: int, n_hours: int = 24) -> float:
        return sum(c for h, c in zip(self.hours, self.counts, strict=True) if now_hour - n_hours < h <= now_hour)

    def state(self) -> dict[str, list[Any]]:
        return {"hours": list(self.hours), "counts": list(self.counts)}

    def load(self, state: dict[str, list[Any]]) -> None:
        if len(state["hours"]) != len(self.hours):  # another span configured: rebuild the bins
            self.hours, self.counts = [-1] * len(self.hours), [0.0] * len(self.hours)
            for h, c in sorted(zip(state["hours"], state["counts"], strict=True)):
                if h >= 0:
                    self.add(int(h), float(c))
            return
        self.hours, self.counts = [int(h) for h in state["hours"]], [float(c) for c in state["counts"]]


class ScoreWindow:
    """The last ``size`` scores of one port and source, for order statistics."""

    def __init__(self, size: int) -> None:
        self.buf = np.zeros(size, dtype=np.float64)
        self.pos = 0
        self.filled = 0

    def add(self, key: float) -> None:
        self.buf[self.pos] = key
        self.pos = (self.pos + 1) % len(self.buf)
        self.filled = min(self.filled + 1, len(self.buf))

    def add_many(self, keys: np.ndarray) -> None:
        size = len(self.buf)
        keys = keys[-size:]
        idx = (self.pos + np.arange(len(keys))) % size
        self.buf[idx] = keys
        self.pos = int((self.pos + len(keys)) % size)
        self.filled = min(self.filled + len(keys), size)

    def upper_quantile(self, rate: float) -> float:
        """The smallest value among the top ``rate`` share of the window (so ~rate of it is >= the value)."""
        m = self.filled
        top = min(max(1, round(rate * m)), m)
        values = self.buf[:m]
        return float(np.partition(values, m - top)[m - top])

    def state(self) -> dict[str, Any]:
        return {"buf": base64.b64encode(self.buf[: self.filled if self.filled < len(self.buf) else None]
                                        .tobytes()).decode(), "pos": self.pos, "filled": self.filled,
                "size": len(self.buf)}

    def load(self, state: dict[str, Any]) -> None:
        values = np.frombuffer(base64.b64decode(state["buf"]), dtype=np.float64)
        if int(state["size"]) != len(self.buf):  # resized by configuration: keep the newest scores
            order = np.roll(values, -int(state["pos"])) if len(values) == int(state["size"]) else values
            self.buf[:] = 0.0
            self.pos = self.filled = 0
            self.add_many(order)
            return
        self.buf[: len(values)] = values
        self.pos, self.filled = int(state["pos"]), int(state["filled"])


class PortController:
    """Arrival, flag and score statistics of one port, and the threshold and random rate they imply."""

    SOURCES = ("model", "fallback")

    def __init__(self, port: PortConfig, random_share: float, tuning: PolicyTuning) -> None:
        self.port = port
        self.tuning = tuning
        self.random_share = random_share
        size = int(min(max(port.containers_per_day * tuning.window_days, tuning.min_window), tuning.max_window))
        self.windows = {s: ScoreWindow(size) for s in self.SOURCES}
        self.defaults = {"model": tuning.default_threshold, "fallback": tuning.fallback_default_threshold}
        self.thresholds = dict(self.defaults)
        self.arrivals = HourlyCounts(24 * tuning.arrivals_days)
        self.flags, self.rule_flags, self.suppressed = HourlyCounts(), HourlyCounts(), HourlyCounts()
        self.first_s: float | None = None
        self.now_s = -math.inf
        self.refreshed_hour = -1
        self.since_refresh = 0
        self.refresh_after = tuning.refresh_every  # events until the next count-based refresh
        self.feedback_hour = -1
        self.log_k = 0.0
        self.flags_24h = 0.0  # at the last refresh (an expected count after a change of traffic share)
        self.flags_since_refresh = 0
        self.model_rate = 0.0
        self.random_rate = 0.0
        self.arrivals_per_day = float(port.containers_per_day)
        self.share = 1.0  # of the port's traffic this controller sees (a worker's partitions of all)
        self.refresh()

    def set_share(self, share: float) -> None:
        """See ``share`` of the port's traffic from now on (one of several workers): capacity and expected
        arrivals scale with it, and the counts gathered under the old share are rescaled, so that the
        workers together flag the port's capacity and a rebalance does not make the rates jump."""
        if not 0.0 < share <= 1.0:
            raise ValueError(f"a traffic share must be in (0, 1], got {share}")
        if share == self.share:
            return
        factor = share / self.share
        for counts in (self.arrivals, self.flags, self.rule_flags, self.suppressed):
            counts.rescale(factor)
        self.share = share
        self.refresh()

    def arrive(self, t_s: float) -> None:
        """Count one arrival at event time ``t_s`` (seconds since the epoch)."""
        if self.first_s is None or t_s < self.first_s:
            self.first_s = t_s
        if t_s > self.now_s:
            self.now_s = t_s
        self.arrivals.add(int(t_s // HOUR_S))

    def needs_refresh(self) -> bool:
        return self.since_refresh >= self.refresh_after or int(self.now_s // HOUR_S) > self.refreshed_hour

    def refresh(self) -> None:
        """Recompute the arrival estimate, feedback correction, rates and thresholds."""
        tuning, capacity = self.tuning, float(self.port.capacity_per_day) * self.share
        expected_per_day = self.port.containers_per_day * self.share
        now_hour = int(self.now_s // HOUR_S) if self.first_s is not None else -1
        covered = self._covered_s(now_hour)
        span_h = 24 * tuning.arrivals_days
        unseen_days = tuning.arrivals_days - self._covered_s(now_hour, span_h) / DAY_S
        seen = self.arrivals.total(now_hour, span_h)
        self.arrivals_per_day = max((seen + expected_per_day * unseen_days) / tuning.arrivals_days, 1.0)
        self.flags_24h = self.flags.total(now_hour)
        rules_24h, suppressed_24h = self.rule_flags.total(now_hour), self.suppressed.total(now_hour)
        observed_s = self.now_s - self.first_s if self.first_s is not None else 0.0
        if observed_s >= tuning.feedback_min_hours * HOUR_S and now_hour > self.feedback_hour:
            self._feedback(capacity * covered / DAY_S, now_hour)
        # Forced scans use the same inspectors: the model gets what they leave.
        model_share = (1.0 - self.random_share) * capacity
        rule_per_day = rules_24h * DAY_S / max(covered, DAY_S / 4)
        model_per_day = max(model_share - rule_per_day, tuning.min_model_share * model_share)
        # Picks released by suppress rules are not scans: pick more to issue the targeted number.
        kept = 1.0 - min(suppressed_24h / (suppressed_24h + self.flags_24h - rules_24h + 1.0), 0.8)
        configured = max(expected_per_day, 1.0)
        self.model_rate = min(1.0, math.exp(self.log_k) * model_per_day / self.arrivals_per_day / kept,
                              tuning.max_rate_factor * model_share / configured)
        self.random_rate = min(1.0, self.random_share * capacity / self.arrivals_per_day / kept,
                               tuning.max_rate_factor * self.random_share * capacity / configured)
        for source, window in self.windows.items():
            needed = 1 if source == "model" else min(tuning.min_samples, len(window.buf))
            if window.filled >= needed and self.model_rate > 0.0:
                self.thresholds[source] = window.upper_quantile(self.model_rate)
            else:
                self.thresholds[source] = self.defaults[source]
        self.refreshed_hour = now_hour
        self.since_refresh = 0
        self.flags_since_refresh = 0
        filled = self.windows["model"].filled
        self.refresh_after = 1 if filled < tuning.min_samples else tuning.refresh_every

    def _feedback(self, expected: float, now_hour: int) -> None:
        """Integrate log(flags of the last 24 h / expected) beyond its Poisson noise band into ``log_k``."""
        tuning = self.tuning
        hours = min(now_hour - self.feedback_hour, 24) if self.feedback_hour >= 0 else 1
        self.feedback_hour = now_hour
        # Relative, not log, error: counts scatter, and the mean of log(count) sits below the log of the
        # mean, so integrating a log ratio would settle with the mean above capacity.
        error = (self.flags_24h - expected) / (expected + 1.0)
        # Daily counts scatter by sqrt(expected) even under a perfect threshold; steering on that noise
        # only adds to it, so only the part of the error beyond z_dead standard deviations counts.
        band = tuning.feedback_dead_z / math.sqrt(expected + 1.0)
        error = math.copysign(max(abs(error) - band, 0.0), error)
        confidence = min(1.0, expected / tuning.feedback_full_at)
        lo, hi = math.log(tuning.k_bounds[0]), math.log(tuning.k_bounds[1])
        self.log_k = min(max(self.log_k - tuning.feedback_gain * confidence * hours * error, lo), hi)

    def over_capacity(self) -> bool:
        """True when the flags of the last 24 h (as of now) exceed ``over_capacity_factor`` x capacity."""
        limit = self.tuning.over_capacity_factor * self.port.capacity_per_day * self.share
        return self.flags_24h + self.flags_since_refresh > limit

    def _covered_s(self, now_hour: int, span_h: int = 24) -> float:
        """Seconds of the last ``span_h`` hourly bins that lie after the first event seen."""
        if self.first_s is None:
            return 0.0
        window_start = (now_hour - span_h + 1) * HOUR_S  # the oldest bin still counted
        return float(min(span_h * HOUR_S, self.now_s - max(self.first_s, window_start)))

    # -- persistence --------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "windows": {s: w.state() for s, w in self.windows.items()}, "thresholds": dict(self.thresholds),
            "arrivals": self.arrivals.state(), "flags": self.flags.state(), "rule_flags": self.rule_flags.state(),
            "suppressed": self.suppressed.state(),
            "first_s": self.first_s, "now_s": self.now_s if self.first_s is not None else None,
            "refreshed_hour": self.refreshed_hour, "since_refresh": self.since_refresh,
            "refresh_after": self.refresh_after,
            "feedback_hour": self.feedback_hour, "log_k": self.log_k, "flags_24h": self.flags_24h,
            "flags_since_refresh": self.flags_since_refresh, "model_rate": self.model_rate,
            "random_rate": self.random_rate, "arrivals_per_day": self.arrivals_per_day, "share": self.share,
        }

    def load(self, state: dict[str, Any]) -> None:
        for source, window_state in state["windows"].items():
            self.windows[source].load(window_state)
        self.thresholds = {s: float(v) for s, v in state["thresholds"].items()}
        self.arrivals.load(state["arrivals"])
        self.flags.load(state["flags"])
        self.rule_flags.load(state["rule_flags"])
        self.suppressed.load(state["suppressed"])
        self.first_s = state["first_s"]
        self.now_s = state["now_s"] if state["now_s"] is not None else -math.inf
        for name in ("refreshed_hour", "since_refresh", "feedback_hour", "flags_since_refresh"):
            setattr(self, name, int(state[name]))
        self.flags_24h = float(state["flags_24h"])
        self.refresh_after = int(state.get("refresh_after", self.tuning.refresh_every))
        for name in ("log_k", "model_rate", "random_rate", "arrivals_per_day"):
            setattr(self, name, float(state[name]))
        self.share = float(state.get("share", 1.0))  # the traffic share the counts were gathered under
