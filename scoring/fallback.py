"""Rules-only fallback score: used when the model fails, is missing, or overruns its latency budget.

The score is a transparent weighted sum of indicators computed from the event's own fields only — no
shipper history, no model — so it is available whenever the event itself is::

    score = sum(weight[mode][i] * indicator[i]) / (most an event can collect in that mode)   in [0, 1]

Each indicator is in [0, 1]; weights are per transport mode (air cargo has no transshipment ports and
few reefers, so its weights differ). The defaults follow ``DOMAIN.md``: cocaine comes from South
America (origin or transshipment there), often via Caribbean hubs, in reefers with fruit and other
perishables; front companies show late amendments and values or weights that do not fit a container.
They are a starting point for analysts, not a trained model: every number is in :class:`FallbackConfig`
and can be replaced (e.g. from a ``[fallback]`` table of a TOML file via :meth:`FallbackConfig.from_mapping`).

Indicators (names are stable; they key the weights):

- ``source_origin``            port of loading in a source country
- ``source_transshipment``     a transshipment port in a source country (origin elsewhere)
- ``hub_transshipment``        a transshipment port on the hub list
- ``transshipments``           number of transshipment ports, min(n, 3) / 3
- ``reefer``                   refrigerated container or thermal ULD
- ``perishable``               HS code starts with a perishable prefix (fruit, fish, flowers, ...)
- ``amendment``                the event amends an earlier declaration
- ``low_value_density``        declared value per kg below ``min_eur_per_kg`` (including zero)
- ``light_container``          a sea container declared lighter than ``min_sea_kg`` (cover loads are full)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from features.contract import ManifestEvent
from portrisk.errors import ConfigError

INDICATORS: tuple[str, ...] = (
    "source_origin", "source_transshipment", "hub_transshipment", "transshipments", "reefer", "perishable",
    "amendment", "low_value_density", "light_container",
)

_SEA_WEIGHTS = {
    "source_origin": 3.0, "source_transshipment": 1.5, "hub_transshipment": 2.0, "transshipments": 1.0,
    "reefer": 2.0, "perishable": 1.5, "amendment": 1.0, "low_value_density": 1.0, "light_container": 0.5,
}
# Air cargo: flowers and fruit from Ecuador/Colombia by air are the known courier lanes; routes and
# container types carry less information than at sea.
_AIR_WEIGHTS = {
    "source_origin": 3.0, "source_transshipment": 1.0, "hub_transshipment": 1.0, "transshipments": 0.5,
    "reefer": 0.5, "perishable": 1.5, "amendment": 1.0, "low_value_density": 1.0, "light_container": 0.0,
}


def _reason_texts() -> dict[str, str]:
    return {
        "source_origin": "loaded in a cocaine source country ({pol})",
        "source_transshipment": "transshipped through a source country",
        "hub_transshipment": "transshipped through a known trafficking hub",
        "transshipments": "{n} transshipment port(s)",
        "reefer": "refrigerated container",
        "perishable": "perishable goods (HS {hs})",
        "amendment": "amended declaration",
        "low_value_density": "declared value {eur_per_kg:.2f} EUR/kg is implausibly low",
        "light_container": "container declared at only {kg:.0f} kg",
    }


@dataclass(frozen=True)
class FallbackConfig:
    """Every number and list the fallback score uses; immutable, so one instance can be shared."""

    source_countries: frozenset[str] = frozenset({"EC", "CO", "PA", "BR", "CR", "DO"})
    hub_ports: frozenset[str] = frozenset({"PAMIT", "PABLB", "PACTB", "COCTG", "BSFPO", "JMKIN", "DOCAU"})
    perishable_hs_prefixes: tuple[str, ...] = ("08", "0709", "0603", "0302", "0303", "0306", "2008", "2009")
    min_eur_per_kg: float = 0.15
    min_sea_kg: float = 2_000.0
    weights: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {"sea": dict(_SEA_WEIGHTS), "air": dict(_AIR_WEIGHTS)}
    )
    reason_texts: Mapping[str, str] = field(default_factory=_reason_texts)

    def __post_init__(self) -> None:
        for mode in ("sea", "air"):
            table = self.weights.get(mode)
            if table is None:
                raise ConfigError(f"fallback weights: missing the {mode!r} table")
            unknown = sorted(set(table) - set(INDICATORS))
            if unknown:
                raise ConfigError(f"fallback weights[{mode!r}]: unknown indicator(s) {unknown}; known: {INDICATORS}")
            if any(w < 0 for w in table.values()) or sum(table.values()) <= 0:
                raise ConfigError(f"fallback weights[{mode!r}]: weights must be >= 0 with a positive sum")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FallbackConfig:
        """A config from a parsed TOML/JSON table; keys absent from ``data`` keep their defaults.

        Weight tables are merged over the defaults, so ``{"weights": {"sea": {"reefer": 3}}}`` changes one.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"fallback config: unknown key(s) {unknown}; known: {sorted(known)}")
        base = cls()
        changes: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("source_countries", "hub_ports"):
                changes[key] = frozenset(str(v).upper() for v in value)
            elif key == "perishable_hs_prefixes":
                changes[key] = tuple(str(v) for v in value)
            elif key == "weights":
                changes[key] = {m: {**base.weights.get(m, {}), **dict(value.get(m, {}))} for m in ("sea", "air")}
            elif key == "reason_texts":
                changes[key] = {**base.reason_texts, **dict(value)}
            else:
                changes[key] = float(value)
        return replace(base, **changes)


class FallbackScorer:
    """Vectorised rules-only scores and their reasons for a batch of events."""

    def __init__(self, config: FallbackConfig | None = None) -> None:
        self.config = config or FallbackConfig()
        # Weight matrix [mode, indicator], normalised so every mode's scores span [0, 1]: the two source
        # indicators exclude each other, so the most an event can collect counts only the larger one.
        table = np.zeros((2, len(INDICATORS)), dtype=np.float64)
        for row, mode in enumerate(("sea", "air")):
            for col, name in enumerate(INDICATORS):
                table[row, col] = self.config.weights[mode].get(name, 0.0)
            pair = table[row, :2]
            table[row] /= table[row].sum() - pair.min()
        self._weights = table

    @property
    def indicator_names(self) -> tuple[str, ...]:
        """Column names of :meth:`indicators`."""
        return INDICATORS

    def indicators(self, events: Sequence[ManifestEvent]) -> np.ndarray:
        """Indicator values, float64 [n, len(INDICATORS)], each in [0, 1]."""
        cfg = self.config
        n = len(events)
        out = np.zeros((n, len(INDICATORS)), dtype=np.float64)
        if n == 0:
            return out
        # One pass over the Python objects gathers everything; the arithmetic below is vectorised.
        source, via_source, via_hub, n_trans = (np.zeros(n) for _ in range(4))
        reefer, perish, amend, sea = (np.zeros(n) for _ in range(4))
        weight, value = np.empty(n), np.empty(n)
        for i, e in enumerate(events):
            source[i] = e.port_of_loading[:2] in cfg.source_countries
            trans = e.transshipment_ports
            if trans:
                n_trans[i] = len(trans)
                via_source[i] = any(p[:2] in cfg.source_countries for p in trans)
                via_hub[i] = any(p in cfg.hub_ports for p in trans)
            reefer[i] = e.is_reefer
            perish[i] = e.hs_code.startswith(cfg.perishable_hs_prefixes)
            amend[i] = e.is_amendment
            sea[i] = e.transport_mode == "sea"
            weight[i] = e.gross_weight_kg
            value[i] = e.declared_value_eur
        out[:, 0] = source
        out[:, 1] = via_source * (1.0 - source)  # origin already counted: no double credit
        out[:, 2] = via_hub
        out[:, 3] = np.minimum(n_trans, 3.0) / 3.0
        out[:, 4] = reefer
        out[:, 5] = perish
        out[:, 6] = amend
        out[:, 7] = value / weight < cfg.min_eur_per_kg
        out[:, 8] = (weight < cfg.min_sea_kg) * sea
        return out

    def score(self, events: Sequence[ManifestEvent]) -> np.ndarray:
        """Fallback scores, float32 [n] in [0, 1]."""
        return self._score(events, self.indicators(events))

    def score_with_reasons(self, events: Sequence[ManifestEvent], k: int = 3) -> tuple[np.ndarray, list[list[str]]]:
        """Scores and, per event, the texts of up to ``k`` fired indicators, largest contribution first."""
        ind = self.indicators(events)
        scores = self._score(events, ind)
        contrib = ind * self._weights[self._mode_rows(events)]
        order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
        reasons: list[list[str]] = []
        for i, cols in enumerate(order):
            reasons.append([self._text(INDICATORS[j], events[i]) for j in cols if contrib[i, j] > 0.0])
        return scores, reasons

    def _score(self, events: Sequence[ManifestEvent], ind: np.ndarray) -> np.ndarray:
        if len(events) == 0:
            return np.empty(0, dtype=np.float32)
        scores = np.einsum("ij,ij->i", ind, self._weights[self._mode_rows(events)])
        return np.clip(scores, 0.0, 1.0).astype(np.float32)

    @staticmethod
    def _mode_rows(events: Sequence[ManifestEvent]) -> np.ndarray:
        return np.fromiter((e.transport_mode == "air" for e in events), dtype=np.intp, count=len(events))

    def _text(self, indicator: str, e: ManifestEvent) -> str:
        template = self.config.reason_texts.get(indicator, indicator.replace("_", " "))
        try:
            return template.format(
                pol=e.port_of_loading, n=len(e.transshipment_ports), hs=e.hs_code, kg=e.gross_weight_kg,
                eur_per_kg=e.declared_value_eur / e.gross_weight_kg,
            )
        except (KeyError, IndexError, ValueError):
            # An analyst's broken template must not stop the stream; the indicator name still explains.
            return indicator.replace("_", " ")
