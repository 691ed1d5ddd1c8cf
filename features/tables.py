"""Reference tables: what the feature code knows beyond one shipper's history, frozen with the model.

Origin, commodity, lane and route statistics and the profiles of consignees and other parties are not
partition-aligned (DESIGN.md), so they are built offline from labelled history (``models.tables``),
saved beside the model (``tables.json.gz``) and read in full by every worker. A model and its tables are
one version: the model was trained on features computed with exactly these tables.

Rates are smoothed target encodings of the drug-finding rate among inspected containers:
``(findings + m * prior) / (inspections + m)``, with ``m`` = ``config.smoothing``; a key never seen
gets the prior, and a separate novelty feature says it was never seen.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from features.config import FeatureConfig
from portrisk.errors import DataError

TABLES_FILE = "tables.json.gz"
TABLES_FORMAT = 3

# Names of the target encodings the feature code looks up (extras add "extra_<key>").
ENCODINGS = ("origin_country", "origin_port", "hs_chapter", "hs_heading", "lane_commodity", "route", "hub",
             "route_commodity", "vessel")
# An HS norm: mean and standard deviation of log gross weight, of log value per kg, and the reefer share.
HsNorm = tuple[float, float, float, float, float]
# A party profile: first seen (POSIX s), shipments in the window, smoothed finding rate.
PartyProfile = tuple[float, int, float]


@dataclass(frozen=True)
class ReferenceTables:
    """The versioned lookup tables of one model (see the module docstring).

    ``hs_norms`` is keyed by HS6, HS4 and HS2 codes alike (their lengths keep them apart); only codes
    with at least ``config.min_norm_count`` shipments are present, so a lookup falls back from the
    subheading to its heading and chapter. ``lane_routes`` maps a lane (``features.event.lane_key``) to
    the count of each transshipment sequence (``features.event.hubs_key``) seen on it, and
    ``route_first_seen`` to when each was first seen there (POSIX s): a route new to an old lane stays
    young for weeks, however much traffic it has since gathered.
    """

    config: FeatureConfig
    prior: float
    window_start: str
    window_end: str
    encodings: dict[str, dict[str, float]]
    volumes: dict[str, dict[str, int]]
    hs_norms: dict[str, HsNorm]
    lane_routes: dict[str, dict[str, int]]
    route_first_seen: dict[str, dict[str, float]]
    parties: dict[str, dict[str, PartyProfile]]
    summary: dict[str, Any] = field(default_factory=dict)
    # With ``config.segment_codes``: per kind of segment key, key -> code (:mod:`features.segments`).
    codes: dict[str, dict[str, int]] = field(default_factory=dict)
    # Derived at construction for O(1) lookups per event.
    lane_totals: dict[str, int] = field(init=False, repr=False, compare=False)
    lane_modes: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = [n for n in ENCODINGS if n not in self.encodings]
        missing += [f"extra_{e.key}" for e in self.config.extras
                    if e.kind == "categorical" and f"extra_{e.key}" not in self.encodings]
        missing += [f"parties.{r.name}" for r in self.config.party_roles if r.name not in self.parties]
        if self.config.segment_codes:
            from features.segments import SEGMENT_KINDS

            missing += [f"codes.{kind}" for kind in SEGMENT_KINDS if kind not in self.codes]
        if missing:
            raise DataError(f"reference tables lack {', '.join(missing)}")
        totals = {lane: sum(routes.values()) for lane, routes in self.lane_routes.items()}
        modes = {lane: _mode(routes) for lane, routes in self.lane_routes.items() if routes}
        object.__setattr__(self, "lane_totals", totals)
        object.__setattr__(self, "lane_modes", modes)

    def hs_norm(self, hs6: str, hs4: str, hs2: str) -> HsNorm | None:
        """The most specific trusted weight/value norm of an HS code, or None."""
        norms = self.hs_norms
        return norms.get(hs6) or norms.get(hs4) or norms.get(hs2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "format": TABLES_FORMAT,
            "config": self.config.to_dict(),
            "prior": self.prior,
            "window": {"start": self.window_start, "end": self.window_end},
            "encodings": self.encodings,
            "volumes": self.volumes,
            "hs_norms": {k: list(v) for k, v in self.hs_norms.items()},
            "lane_routes": self.lane_routes,
            "route_first_seen": self.route_first_seen,
            "parties": {role: {k: list(v) for k, v in ids.items()} for role, ids in self.parties.items()},
            "summary": self.summary,
            **({"codes": self.codes} if self.config.segment_codes else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceTables:
        """Inverse of :meth:`to_dict`; DataError for another format or a malformed document."""
        if data.get("format") != TABLES_FORMAT:
            raise DataError(f"reference tables: expected format {TABLES_FORMAT}, got {data.get('format')!r}")
        try:
            return cls(
                config=FeatureConfig.from_dict(data["config"]),
                prior=float(data["prior"]),
                window_start=data["window"]["start"],
                window_end=data["window"]["end"],
                encodings=data["encodings"],
                volumes=data["volumes"],
                hs_norms={k: (v[0], v[1], v[2], v[3], v[4]) for k, v in data["hs_norms"].items()},
                lane_routes=data["lane_routes"],
                route_first_seen=data["route_first_seen"],
                parties={role: {k: (v[0], int(v[1]), v[2]) for k, v in ids.items()}
                         for role, ids in data["parties"].items()},
                summary=data.get("summary", {}),
                codes={kind: {k: int(v) for k, v in keys.items()} for kind, keys in data.get("codes", {}).items()},
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise DataError(f"reference tables are malformed: {exc!r}") from exc

    def to_bytes(self) -> bytes:
        """Deterministic gzip-compressed JSON (same tables, same bytes: the model card checksums them)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceTables:
        """Inverse of :meth:`to_bytes`."""
        try:
            document = json.loads(gzip.decompress(data))
        except (OSError, EOFError, ValueError) as exc:
            raise DataError(f"reference tables are not gzip-compressed JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise DataError("reference tables: expected a JSON object")
        return cls.from_dict(document)

    @property
    def digest(self) -> str:
        """Short sha256 of the serialized tables (identifies a tables version in logs and cards)."""
        return hashlib.sha256(self.to_bytes()).hexdigest()[:16]


def _mode(counts: dict[str, int]) -> str:
    """The most frequent key; ties go to the larger key so the choice never depends on dict order."""
    return max(counts.items(), key=lambda item: (item[1], item[0]))[0]


def load_tables(path: str | Path) -> ReferenceTables:
    """Read a tables file, or ``tables.json.gz`` inside a model directory; DataError when unreadable."""
    target = Path(path)
    if target.is_dir():
        target = target / TABLES_FILE
    try:
        raw = target.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read reference tables {target}: {exc}") from exc
    return ReferenceTables.from_bytes(raw)
