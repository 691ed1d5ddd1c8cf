"""The feature configuration: which party roles are profiled and which extra attributes become features.

The synthetic world and an administration's own history (issue 7) differ in their parties and extra
columns, not in the feature code. What differs is configured here, stored inside the reference tables
that ship with a model, and so travels with the model: the worker builds its
:class:`features.pipeline.FeaturePipeline` from the model's tables and gets exactly the feature names
(and hence the feature hash) the model was trained on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from portrisk.errors import ConfigError

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_CONTRACT_PARTY_FIELDS = frozenset({"shipper_id", "consignee_id", "notify_party_id", "declarant_id"})

# Cocaine source and transit countries named in public reporting (DOMAIN.md): Ecuador, Colombia, Panama,
# Brazil, Costa Rica, Dominican Republic, plus the producers Peru and Bolivia and the transit countries
# Venezuela, Guyana and Suriname.
DEFAULT_SOURCE_COUNTRIES = ("EC", "CO", "PA", "BR", "CR", "DO", "PE", "BO", "VE", "GY", "SR")
# Caribbean transshipment countries on the cocaine routes (Bahamas, Jamaica, Trinidad and Tobago, Haiti):
# a hub there counts as a source-region hub even though no cargo originates there in our data.
DEFAULT_TRANSIT_COUNTRIES = ("BS", "JM", "TT", "HT")


@dataclass(frozen=True)
class PartyRole:
    """A party role profiled from the reference tables: its feature-name prefix and where its id is.

    ``field`` is a contract attribute (``consignee_id``, ``notify_party_id``, ``declarant_id``) or an
    extra attribute written ``extras.<key>`` (an administration's forwarder or seller column).
    """

    name: str
    field: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(f"party role name {self.name!r} must be lower-case letters, digits or '_'")
        if self.field not in _CONTRACT_PARTY_FIELDS and not (
            self.field.startswith("extras.") and _NAME.match(self.field[7:])
        ):
            raise ConfigError(
                f"party role {self.name!r}: field {self.field!r} is neither a party field of the contract "
                f"({', '.join(sorted(_CONTRACT_PARTY_FIELDS))}) nor 'extras.<key>'"
            )


@dataclass(frozen=True)
class ExtraFeature:
    """An extra declared attribute (``event.extras[key]``) used as a feature.

    Numeric extras enter as their value; categorical ones as a smoothed finding rate of the category
    (from the reference tables) and a flag for a category never seen there.
    """

    key: str
    kind: Literal["numeric", "categorical"]

    def __post_init__(self) -> None:
        if not _NAME.match(self.key):
            raise ConfigError(f"extra attribute {self.key!r} must be lower-case letters, digits or '_'")
        if self.kind not in ("numeric", "categorical"):
            raise ConfigError(f"extra attribute {self.key!r}: kind must be 'numeric' or 'categorical'")


DEFAULT_ROLES = (
    PartyRole("consignee", "consignee_id"),
    PartyRole("notify_party", "notify_party_id"),
    PartyRole("declarant", "declarant_id"),
)


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that makes one feature set differ from another.

    The shipper is the keyed party (the Kafka key): its history is per-shipper state in the worker.
    Every other role in ``party_roles`` is profiled from the reference tables, because its events are
    spread over all partitions (DESIGN.md: state that is not partition-aligned comes from a table).
    """

    party_roles: tuple[PartyRole, ...] = DEFAULT_ROLES
    extras: tuple[ExtraFeature, ...] = ()
    source_countries: tuple[str, ...] = DEFAULT_SOURCE_COUNTRIES
    transit_countries: tuple[str, ...] = DEFAULT_TRANSIT_COUNTRIES
    smoothing: float = 30.0  # pseudo-labels pulling a rare category's rate towards the overall rate
    min_norm_count: int = 20  # shipments an HS code needs before its weight/value norm is trusted
    max_consignees: int = 128  # per-shipper capped sets: a few hundred bytes of state per shipper
    max_routes: int = 32
    max_origins: int = 32
    max_hs_codes: int = 64
    max_recent: int = 32  # declarations remembered per shipper for comparing amendments
    # The segment (port of loading, routing, HS chapter, reefer or dry) as categorical codes
    # (:mod:`features.segments`); off by default, so a configuration without it keeps its feature set.
    segment_codes: bool = False

    def __post_init__(self) -> None:
        names = [r.name for r in self.party_roles] + [f"extra_{e.key}" for e in self.extras]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"feature configuration names {', '.join(duplicates)} more than once")
        if "shipper" in (r.name for r in self.party_roles):
            raise ConfigError("'shipper' is the keyed party with its own history; do not list it as a role")
        if self.smoothing <= 0:
            raise ConfigError("smoothing must be positive")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the tables file and on the model card)."""
        return {
            "party_roles": [{"name": r.name, "field": r.field} for r in self.party_roles],
            "extras": [{"key": e.key, "kind": e.kind} for e in self.extras],
            "source_countries": list(self.source_countries),
            "transit_countries": list(self.transit_countries),
            "smoothing": self.smoothing,
            "min_norm_count": self.min_norm_count,
            "max_consignees": self.max_consignees,
            "max_routes": self.max_routes,
            "max_origins": self.max_origins,
            "max_hs_codes": self.max_hs_codes,
            "max_recent": self.max_recent,
            # Written only when on: the tables and cards of feature sets without it stay byte for byte.
            **({"segment_codes": True} if self.segment_codes else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Inverse of :meth:`to_dict`; ConfigError naming the problem."""
        try:
            return cls(
                party_roles=tuple(PartyRole(**r) for r in data["party_roles"]),
                extras=tuple(ExtraFeature(**e) for e in data["extras"]),
                source_countries=tuple(data["source_countries"]),
                transit_countries=tuple(data["transit_countries"]),
                smoothing=float(data["smoothing"]),
                min_norm_count=int(data["min_norm_count"]),
                max_consignees=int(data["max_consignees"]),
                max_routes=int(data["max_routes"]),
                max_origins=int(data["max_origins"]),
                max_hs_codes=int(data["max_hs_codes"]),
                max_recent=int(data["max_recent"]),
                segment_codes=bool(data.get("segment_codes", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"feature configuration is malformed: {exc!r}") from exc
