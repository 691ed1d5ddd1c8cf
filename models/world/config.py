"""The configuration of a synthetic world, validated once; every bad value is a ConfigError.

Defaults and why:

- ``base_rate`` 0.4 % of containers carry drugs. The real rate is far lower (Rotterdam: a few hundred
  loaded containers among 8.5 M a year, ~0.005 %), but a model cannot learn from a handful of positives
  a month; 0.3-0.5 % keeps positives rare yet learnable. Legacy hit rates scale with it.
- ``random_share`` 10 % of each port's daily scans are drawn at random: ASYCUDA's quality-control rate
  and the research finding that a random share keeps selection stable under drift.
- ``typology_shares``: what fraction of the illicit containers each smuggling method accounts for.
- ``drift_day``: the day a new route and method (South America via Sines, dry cargo) comes into use.
- ``intelligence_share`` 5 % of each port's scans follow tip-offs, which name a loaded container with
  probability ``tip_precision`` 0.3 and otherwise another box of the same vessel call
  (:mod:`models.world.intelligence`). Intelligence-led finds are a large part of real seizures; the
  share and precision are assumptions, not published figures.
- ``adaptive_rules``: the analysts watch new routings and react to seizures (:mod:`models.world.analysts`);
  off, the legacy rules are static and the selection never depends on the truth.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.ports import DEFAULT_PORTS, PortConfig
from portrisk.errors import ConfigError

TYPOLOGIES = ("rip_on", "front_company", "route_laundering", "drift")
DEFAULT_SHARES = {"rip_on": 0.45, "front_company": 0.25, "route_laundering": 0.18, "drift": 0.12}
# Share of illicit containers found when inspected, per typology. Rip-on loads sit in cooling engines
# and are partly missed; the drift method is new to scanner operators.
DEFAULT_DETECTION = {"rip_on": 0.7, "front_company": 0.85, "route_laundering": 0.8, "drift": 0.55}


class WorldConfig(BaseModel):
    """Everything that shapes a simulated world. Same config (seed included), same bytes out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: int = Field(ge=1, le=3660, description="length of the simulated period")
    seed: int = Field(ge=0, description="random seed; the world is a pure function of the config")
    scale: float = Field(default=1.0, gt=0, le=10, description="multiplies volumes, parties and capacity")
    base_rate: float = Field(default=0.004, gt=0, lt=0.2, description="share of containers carrying drugs")
    start: datetime = Field(default=datetime(2024, 1, 1, tzinfo=UTC), description="first day, 00:00 UTC")
    ports: tuple[PortConfig, ...] = DEFAULT_PORTS
    random_share: float = Field(default=0.1, ge=0, le=1, description="share of scans drawn at random")
    intelligence_share: float = Field(default=0.05, ge=0, le=0.5, description="share of scans on tip-offs")
    tip_precision: float = Field(default=0.3, ge=0, le=1, description="share of tips naming the loaded box")
    adaptive_rules: bool = Field(default=True, description="analysts' rules learn from routes and seizures")
    amendment_rate: float = Field(default=0.04, ge=0, le=0.5, description="legitimate amendment rate")
    drift_day: int | None = Field(default=None, ge=0, description="day the new route starts; None: days // 2")
    typology_shares: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_SHARES))
    detection: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_DETECTION))

    @model_validator(mode="after")
    def _consistent(self) -> WorldConfig:
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if set(self.typology_shares) != set(TYPOLOGIES) or set(self.detection) != set(TYPOLOGIES):
            raise ValueError(f"typology_shares and detection need exactly the typologies {TYPOLOGIES}")
        if any(v < 0 for v in self.typology_shares.values()) or abs(sum(self.typology_shares.values()) - 1) > 1e-6:
            raise ValueError("typology_shares must be non-negative and sum to 1")
        if any(not 0 <= v <= 1 for v in self.detection.values()):
            raise ValueError("detection probabilities must lie in [0, 1]")
        if self.random_share + self.intelligence_share > 1:
            raise ValueError("random_share and intelligence_share together exceed the capacity")
        if not any(p.mode == "sea" for p in self.ports):
            raise ValueError("the world needs at least one sea port")
        ids = [p.id for p in self.ports]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate port ids in {ids}")
        return self

    @property
    def effective_drift_day(self) -> int:
        return self.days // 2 if self.drift_day is None else self.drift_day


def make_config(ports: tuple[PortConfig, ...] | None = None, only_ports: tuple[str, ...] | None = None,
                **values: Any) -> WorldConfig:
    """Build a WorldConfig, translating every validation problem into one ConfigError.

    ``only_ports`` restricts the world to some of ``ports`` (default: the configured mainports) by id;
    an id that is not configured is an error naming the known ones.
    """
    all_ports = ports if ports is not None else DEFAULT_PORTS
    if only_ports:
        known = {p.id: p for p in all_ports}
        unknown = [p for p in only_ports if p not in known]
        if unknown:
            raise ConfigError(f"unknown port(s) {', '.join(unknown)}; configured: {', '.join(known)}")
        all_ports = tuple(known[p] for p in only_ports)
    try:
        return WorldConfig(ports=all_ports, **values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid world configuration: {problems}") from exc
