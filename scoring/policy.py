"""Selection policy: turn a score into a scan or release decision per port, with why.

Per event, in this order of precedence (ASYCUDA's lanes and minimum random rate, Radar's allow/block lists):

1. an analyst rule with ``force_scan`` → scan, selection ``rule`` (wins over everything);
2. a ``suppress`` rule → release, even if the model or the random draw picked it (the hit says why);
3. the random draw → scan, selection ``random``: a uniform sample of all arrivals at rate
   ``random_share * capacity / arrivals``, independent of the score, so hit rates estimated from it are
   unbiased (it takes precedence over the model for the same reason: a random sample must not skip the
   containers the model would have picked);
4. the score at or above the port's adaptive threshold (:mod:`scoring.capacity`) → scan, selection ``model``.

Rule hits are always reported. The random draw and a tie-breaking jitter come from a keyed BLAKE2b hash
of the event id and the seed, so a replay after a crash draws the same numbers: with the policy state
restored (:meth:`SelectionPolicy.state`) it makes the same choice; without it, only events whose draw
falls between the old and the new random rate can differ. The jitter (< 1e-9) makes tied scores — the
fallback's are discrete — distinct, so a quantile threshold selects the intended share instead of a
whole tie.

Capacity is a target: flags are never refused for lack of it, but flags issued while the last 24 h
already exceed ``over_capacity_factor`` x capacity are counted so operators see it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from features.contract import ManifestEvent
from features.ports import PortConfig
from portrisk.errors import ConfigError
from scoring.capacity import HOUR_S, PolicyTuning, PortController
from scoring.rules import RuleBook, RuleHit

Selection = Literal["model", "rule", "random"]
STATE_VERSION = 1
_JITTER = 1e-9
_TWO53 = float(2**53)


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision for one event: ``threshold`` is the one its score was compared with, ``random_draw``
    its uniform draw in [0, 1)."""

    decision: Literal["scan", "release"]
    selection: Selection | None
    rule_hits: tuple[RuleHit, ...]
    threshold: float
    random_draw: float


@dataclass
class PortCounters:
    """Monotonic counts per port, for the caller to export."""

    decisions: int = 0
    scans: dict[str, int] = field(default_factory=lambda: {"model": 0, "rule": 0, "random": 0})
    suppressed: int = 0  # model or random picks released by a suppress rule
    over_capacity_flags: int = 0  # flags issued while the last 24 h exceeded the over-capacity factor
    rule_hits: int = 0
    degraded: int = 0  # decisions on fallback scores


class SelectionPolicy:
    """Per-port adaptive thresholds, a deterministic random share and analyst rules."""

    def __init__(self, ports: Sequence[PortConfig], random_share: float = 0.10, rulebook: RuleBook | None = None,
                 seed: int = 0, *, tuning: PolicyTuning | None = None) -> None:
        if not 0.0 <= random_share <= 1.0:
            raise ConfigError(f"random_share must be in [0, 1], got {random_share}")
        self.random_share = random_share
        self.rulebook = rulebook
        self.seed = seed
        self.tuning = tuning or PolicyTuning()
        self._key = hashlib.sha256(f"portrisk-policy:{seed}".encode()).digest()  # blake2b keys are <= 64 bytes
        self._ports = {p.id: PortController(p, random_share, self.tuning) for p in ports}
        self.counters = {p.id: PortCounters() for p in ports}

    def threshold(self, port_id: str, source: Literal["model", "fallback"] = "model") -> float:
        """The current score threshold of a port."""
        return self._port(port_id).thresholds[source]

    def model_rate(self, port_id: str) -> float:
        """The current target share of a port's arrivals to flag on the model score."""
        return self._port(port_id).model_rate

    def random_rate(self, port_id: str) -> float:
        """The current probability that an arrival at the port is drawn at random."""
        return self._port(port_id).random_rate

    def set_traffic_share(self, share: float) -> None:
        """This policy decides ``share`` of every port's containers (a worker owning that share of the
        partitions; shippers hash evenly over them): each port's capacity is shared out accordingly."""
        for ctl in self._ports.values():
            ctl.set_share(share)

    def maybe_reload(self) -> bool:
        """Hot-reload the analyst rules if their file changed (delegates to the rule book)."""
        return self.rulebook.maybe_reload() if self.rulebook is not None else False

    def draws(self, event_id: str) -> tuple[float, float]:
        """(random draw in [0, 1), tie-breaking jitter in [0, 1e-9)) for an event id; pure function of id and seed."""
        digest = hashlib.blake2b(event_id.encode(), digest_size=16, key=self._key).digest()
        a = int.from_bytes(digest[:8], "little") >> 11
        b = int.from_bytes(digest[8:], "little") >> 11
        return a / _TWO53, b / _TWO53 * _JITTER

    def decide(self, port_id: str, score: float, event: ManifestEvent, event_time: datetime | None = None,
               *, degraded: bool = False) -> Decision:
        """Decide one event. ``degraded`` says ``score`` is a fallback score (compared with the fallback
        threshold). ``event_time`` defaults to the event's own."""
        ctl = self._port(port_id)
        t = (event_time or event.event_time).timestamp()
        ctl.arrive(t)
        if ctl.needs_refresh():
            ctl.refresh()
        ctl.since_refresh += 1
        u, jitter = self.draws(event.event_id)
        source = "fallback" if degraded else "model"
        key = score + jitter
        threshold = ctl.thresholds[source]
        ctl.windows[source].add(key)
        hits = tuple(self.rulebook.evaluate(event, score, port_id)) if self.rulebook is not None else ()
        return self._finish(ctl, t, key >= threshold, u < ctl.random_rate, hits, threshold, u, degraded)

    def decide_batch(self, port_ids: Sequence[str], scores: np.ndarray, events: Sequence[ManifestEvent],
                     event_times: Sequence[datetime] | None = None, *,
                     degraded: np.ndarray | None = None) -> list[Decision]:
        """Decide a batch; the same decisions as calling :meth:`decide` on each event in order, with the
        threshold comparisons and window updates vectorised per port between threshold refreshes."""
        n = len(events)
        if not len(port_ids) == len(scores) == n:
            raise ValueError(f"port_ids, scores and events differ in length: {len(port_ids)}, {len(scores)}, {n}")
        if n == 0:
            return []
        draws = np.array([self.draws(e.event_id) for e in events], dtype=np.float64)
        times = np.array([(event_times[i] if event_times is not None else e.event_time).timestamp()
                          for i, e in enumerate(events)], dtype=np.float64)
        keys = np.asarray(scores, dtype=np.float64) + draws[:, 1]
        fallback = np.zeros(n, dtype=bool) if degraded is None else np.asarray(degraded, dtype=bool)
        out: list[Decision | None] = [None] * n
        by_port: dict[str, list[int]] = {}
        for i, p in enumerate(port_ids):
            by_port.setdefault(p, []).append(i)
        for port_id, indices in by_port.items():
            idx = np.asarray(indices)
            self._batch_port(port_id, idx, np.asarray(scores, dtype=np.float64)[idx], keys[idx], draws[idx, 0],
                             times[idx], fallback[idx], [events[i] for i in indices], out, indices)
        return out  # type: ignore[return-value]  # every slot was filled above

    # -- internals ----------------------------------------------------------------------------------
    def _batch_port(self, port_id: str, idx: np.ndarray, scores: np.ndarray, keys: np.ndarray, u: np.ndarray,
                    times: np.ndarray, fallback: np.ndarray, events: list[ManifestEvent],
                    out: list[Decision | None], positions: list[int]) -> None:
        ctl = self._port(port_id)
        hours = (times // HOUR_S).astype(np.int64)
        m, pos = len(idx), 0
        while pos < m:
            ctl.arrive(float(times[pos]))
            if ctl.needs_refresh():
                ctl.refresh()
            # The segment runs until the next event that would trigger a refresh in decide():
            # the refresh_after-th event, or one whose time enters an hour after the last refresh.
            end = min(m, pos + max(ctl.refresh_after - ctl.since_refresh, 1))
            if end > pos + 1:
                later = np.flatnonzero(np.maximum.accumulate(hours[pos + 1:end]) > ctl.refreshed_hour)
                if len(later):
                    end = pos + 1 + int(later[0])
                seg_t = times[pos + 1:end]
                if len(seg_t):
                    ctl.now_s = max(ctl.now_s, float(seg_t.max()))
                    ctl.first_s = min(ctl.first_s if ctl.first_s is not None else np.inf, float(seg_t.min()))
                    for h, c in zip(*np.unique(hours[pos + 1:end], return_counts=True), strict=True):
                        ctl.arrivals.add(int(h), int(c))
            ctl.since_refresh += end - pos
            seg = slice(pos, end)
            thresholds = np.where(fallback[seg], ctl.thresholds["fallback"], ctl.thresholds["model"])
            model_pick = keys[seg] >= thresholds
            random_pick = u[seg] < ctl.random_rate
            for source, mask in (("model", ~fallback[seg]), ("fallback", fallback[seg])):
                if mask.any():
                    ctl.windows[source].add_many(keys[seg][mask])
            for j in range(pos, end):
                hits = (tuple(self.rulebook.evaluate(events[j], float(scores[j]), port_id))
                        if self.rulebook is not None else ())
                out[positions[j]] = self._finish(ctl, float(times[j]), bool(model_pick[j - pos]),
                                                 bool(random_pick[j - pos]), hits, float(thresholds[j - pos]),
                                                 float(u[j]), bool(fallback[j]))
            pos = end

    def _finish(self, ctl: PortController, t: float, model_pick: bool, random_pick: bool,
                hits: tuple[RuleHit, ...], threshold: float, u: float, degraded: bool) -> Decision:
        counters = self.counters[ctl.port.id]
        counters.decisions += 1
        counters.degraded += degraded
        selection: Selection | None = None
        if hits:
            counters.rule_hits += len(hits)
            actions = {h.action for h in hits}
            if "force_scan" in actions:
                selection = "rule"
            elif "suppress" in actions:
                if model_pick or random_pick:
                    counters.suppressed += 1
                    ctl.suppressed.add(int(t // HOUR_S))
                return Decision("release", None, hits, threshold, u)
        if selection is None:
            selection = "random" if random_pick else "model" if model_pick else None
        if selection is None:
            return Decision("release", None, hits, threshold, u)
        hour = int(t // HOUR_S)
        ctl.flags.add(hour)
        if selection == "rule":
            ctl.rule_flags.add(hour)
        ctl.flags_since_refresh += 1
        counters.scans[selection] += 1
        counters.over_capacity_flags += ctl.over_capacity()
        return Decision("scan", selection, hits, threshold, u)

    def _port(self, port_id: str) -> PortController:
        try:
            return self._ports[port_id]
        except KeyError:
            raise ConfigError(f"no selection policy for port {port_id!r}; configured: {sorted(self._ports)}") from None

    # -- persistence --------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The threshold state of every port, JSON-serialisable (score windows as base64)."""
        return {"version": STATE_VERSION, "ports": {p: ctl.state() for p, ctl in self._ports.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state` output: all of it or nothing (ConfigError, the policy unchanged). Ports not
        in the state start cold, unknown ones are ignored."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            version = state.get("version") if isinstance(state, dict) else None
            raise ConfigError(f"policy state version {version!r}; this code reads {STATE_VERSION}")
        loaded = {p: PortController(ctl.port, self.random_share, self.tuning) for p, ctl in self._ports.items()}
        try:
            for port_id, port_state in dict(state["ports"]).items():
                if port_id in loaded:
                    loaded[port_id].load(port_state)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"policy state is malformed: {exc!r}") from exc
        self._ports = loaded
