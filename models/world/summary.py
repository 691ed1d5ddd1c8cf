"""What a simulated world looks like in numbers: volumes, base rate, inspections and how well selection did.

Precision figures use the truth (they are for evaluating the simulator and the models): the legacy
rules' (static and adaptive), random selection's, and an oracle's that inspects, per port and day, as
many containers as were inspected, picking the highest true probabilities (and the same ranking by
``p_declared``, what the declarations show). ``hit_rate`` figures use only what inspections found;
tip-offs appear there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from models.world.config import TYPOLOGIES, WorldConfig
from models.world.legacy import rank_within
from models.world.manifests import Draft
from models.world.selection import Inspections


class PortSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    events: int
    containers: int
    capacity_per_day: float
    inspected: int
    drugs_found: int


class WorldSummary(BaseModel):
    """Counts and rates of a simulated world (written into world.json, printed by `portrisk simulate`)."""

    model_config = ConfigDict(frozen=True)

    days: int
    seed: int
    scale: float
    drift_day: int
    events: int
    containers: int
    amendments: int
    ports: dict[str, PortSummary]
    base_rate_configured: float
    base_rate: float  # illicit containers / containers
    illicit: int
    typologies: dict[str, int]
    reefer_share_sea: float
    inspected: int
    inspected_share: float
    random_inspections: int
    tip_inspections: int  # intelligence-led
    drugs_found: int
    other_irregularities_found: int
    legacy_hit_rate: float  # drugs found per inspection, all inspections
    rule_hit_rate: float  # drugs found per rule-selected inspection
    random_hit_rate: float
    tip_hit_rate: float
    legacy_precision: float  # truth: illicit share of rule-selected containers
    random_precision: float
    oracle_precision: float  # truth: illicit share of the oracle's picks at the same capacity
    declared_oracle_precision: float  # the same, ranking by p_declared (what declarations show)
    legacy_recall: float  # truth: share of illicit containers that were inspected at all

    def format(self) -> str:
        """A short human-readable report."""
        lines = [
            f"world: {self.days} days, seed {self.seed}, scale {self.scale:g}, drift from day {self.drift_day}",
            f"events {self.events:,} ({self.containers:,} containers + {self.amendments:,} amendments)",
            f"{'port':<12}{'events':>10}{'containers':>12}{'scans/day':>11}{'inspected':>11}{'drug finds':>11}",
        ]
        for port_id, p in self.ports.items():
            lines.append(f"{port_id:<12}{p.events:>10,}{p.containers:>12,}{p.capacity_per_day:>11.1f}"
                         f"{p.inspected:>11,}{p.drugs_found:>11,}")
        typologies = ", ".join(f"{k} {v}" for k, v in self.typologies.items())
        lines += [
            f"base rate {self.base_rate:.3%} (configured {self.base_rate_configured:.3%}): {self.illicit:,} "
            f"illicit containers ({typologies})",
            f"reefer share (sea) {self.reefer_share_sea:.1%}",
            f"inspected {self.inspected:,} ({self.inspected_share:.2%} of containers; "
            f"{self.random_inspections:,} at random, {self.tip_inspections:,} on tip-offs)",
            f"legacy hit rate {self.legacy_hit_rate:.2%} (rules {self.rule_hit_rate:.2%}, random "
            f"{self.random_hit_rate:.2%}, tips {self.tip_hit_rate:.2%}); other irregularities found "
            f"{self.other_irregularities_found:,}",
            f"precision at capacity (truth): legacy rules {self.legacy_precision:.2%}, random "
            f"{self.random_precision:.2%}, oracle {self.oracle_precision:.2%} (on declarations "
            f"{self.declared_oracle_precision:.2%}); legacy recall "
            f"{self.legacy_recall:.1%}",
        ]
        return "\n".join(lines)


def _share(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def summarise(config: WorldConfig, draft: Draft, truth: dict[str, np.ndarray], inspections: Inspections,
              events: pd.DataFrame) -> WorldSummary:
    """Compute the summary of a generated world."""
    illicit, port = truth["illicit"], draft["port"]
    by_rule, at_random, by_tip, found = (inspections.by_rule, inspections.at_random, inspections.by_tip,
                                         inspections.found)
    inspected = by_rule | at_random | by_tip
    drugs = np.zeros(illicit.size, dtype=bool)
    drugs[found["row"]] = found["result"] == "drugs"
    other = int((found["result"] == "other_irregularity").sum())
    group = port * config.days + draft["day"].astype(np.int64)
    k = np.bincount(group[inspected], minlength=len(config.ports) * config.days)
    oracle = rank_within(group, truth["p_illicit"]) < k[group]
    declared_oracle = rank_within(group, truth["p_declared"]) < k[group]
    event_ports = events["mainport"].value_counts()
    ports = {
        p.id: PortSummary(
            events=int(event_ports.get(p.id, 0)), containers=int((port == i).sum()),
            capacity_per_day=p.capacity_per_day * config.scale, inspected=int((inspected & (port == i)).sum()),
            drugs_found=int((drugs & (port == i)).sum()),
        )
        for i, p in enumerate(config.ports)
    }
    sea = ~draft["is_air"]
    return WorldSummary(
        days=config.days, seed=config.seed, scale=config.scale, drift_day=config.effective_drift_day,
        events=len(events), containers=illicit.size, amendments=len(events) - illicit.size, ports=ports,
        base_rate_configured=config.base_rate, base_rate=_share(illicit.sum(), illicit.size),
        illicit=int(illicit.sum()), typologies={t: int((truth["typology"] == t).sum()) for t in TYPOLOGIES},
        reefer_share_sea=_share(draft["reefer"][sea].sum(), sea.sum()),
        inspected=int(inspected.sum()), inspected_share=_share(inspected.sum(), illicit.size),
        random_inspections=int(at_random.sum()), tip_inspections=int(by_tip.sum()), drugs_found=int(drugs.sum()),
        other_irregularities_found=other,
        legacy_hit_rate=_share(drugs.sum(), inspected.sum()),
        rule_hit_rate=_share((drugs & by_rule).sum(), by_rule.sum()),
        random_hit_rate=_share((drugs & at_random).sum(), at_random.sum()),
        tip_hit_rate=_share((drugs & by_tip).sum(), by_tip.sum()),
        legacy_precision=_share((illicit & by_rule).sum(), by_rule.sum()),
        random_precision=_share((illicit & at_random).sum(), at_random.sum()),
        oracle_precision=_share((illicit & oracle).sum(), oracle.sum()),
        declared_oracle_precision=_share((illicit & declared_oracle).sum(), declared_oracle.sum()),
        legacy_recall=_share((illicit & inspected).sum(), illicit.sum()),
    )
