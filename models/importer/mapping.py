"""The mapping file: which column of an administration's file fills which part of a v1 manifest event.

A mapping is TOML (``config/mapping.example.toml`` documents every key). It is checked twice, each time
with an error that names the offending key or column: on load (:func:`parse_mapping` — unknown
sections, fields and kinds, missing required entries) and against the file's header
(:meth:`Mapping.check_columns` — a mapped column that the file does not have).
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from features.config import ExtraFeature, FeatureConfig, PartyRole
from models.importer.sections import (
    CONTRACT_PARTIES,
    TIME_FIELDS,
    Labels,
    Source,
    parse_extras,
    parse_labels,
    parse_parties,
    parse_source,
    section,
    text,
    unknown,
)
from portrisk.errors import ConfigError

__all__ = ["CONTRACT_PARTIES", "FIELD_KINDS", "TIME_FIELDS", "Labels", "Mapping", "Source", "load_mapping",
           "parse_mapping"]

Kind = Literal["id", "text", "code", "time", "number", "bool", "list", "hs"]

# Contract fields a column may fill, and how its text is parsed. Parties have their own section.
FIELD_KINDS: dict[str, Kind] = {
    "event_id": "id", "event_time": "time", "mainport": "code", "transport_mode": "code",
    "container_id": "id", "container_type": "id", "bill_of_lading": "id", "hs_code": "hs",
    "goods_description": "text", "gross_weight_kg": "number", "declared_value_eur": "number",
    "port_of_loading": "id", "transshipment_ports": "list", "vessel_imo": "id", "voyage": "id",
    "eta": "time", "is_amendment": "bool", "amends_event_id": "id",
}
MAX_EXTRAS = 32  # the contract's limit on extras per event
_SECTIONS = ("source", "columns", "constants", "values", "parties", "extras", "labels", "features")
_FEATURE_KEYS = ("source_countries", "transit_countries", "smoothing", "min_norm_count")


@dataclass(frozen=True)
class Mapping:
    """A validated mapping (see the module docstring)."""

    source: Source
    columns: dict[str, str]  # contract field → source column
    constants: dict[str, str]  # contract field → the value every row gets
    values: dict[str, dict[str, str]]  # contract field → {source value: contract value}
    parties: dict[str, tuple[str, str]]  # role → (source column, contract field or "extras.<role>")
    extras: dict[str, tuple[str, Literal["numeric", "categorical"]]]  # key → (source column, kind)
    labels: Labels
    features: dict[str, Any]
    document: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def date_format(self, time_field: str) -> str | None:
        """The format given for a time field (``event_time``, ``eta``, ``inspected_at``); None: detect."""
        return self.source.date_formats.get(time_field, self.source.date_format)

    def source_columns(self) -> dict[str, str]:
        """Every mapped source column with the mapping key that names it (for the header check)."""
        named = {f"[columns] {k}": c for k, c in self.columns.items()}
        named |= {f"[parties] {role}": column for role, (column, _) in self.parties.items()}
        named |= {f"[extras] {key}": column for key, (column, _) in self.extras.items()}
        label_columns = {"finding": self.labels.finding, "inspected": self.labels.inspected,
                         "severity": self.labels.severity, "inspected_at": self.labels.inspected_at,
                         "selection": self.labels.selection}
        named |= {f"[labels] {k}": c for k, c in label_columns.items() if c is not None}
        return named

    def check_columns(self, header: Iterable[str], where: str) -> None:
        """ConfigError naming each mapped column that ``header`` (the file's columns) lacks."""
        present = list(header)
        missing = [(key, column) for key, column in self.source_columns().items() if column not in present]
        if not missing:
            return
        lines = []
        for key, column in missing:
            close = difflib.get_close_matches(column, present, n=1)
            lines.append(f"{key} = {column!r}: no such column" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(f"mapping does not fit {where}: " + "; ".join(lines)
                          + f". Its columns are: {', '.join(present)}")

    def feature_config(self) -> FeatureConfig:
        """The feature configuration this mapping supports: its party roles and extras."""
        roles = tuple(PartyRole(name, target) for name, (_, target) in self.parties.items() if name != "shipper")
        extras = tuple(ExtraFeature(key, kind) for key, (_, kind) in self.extras.items())
        return FeatureConfig(party_roles=roles, extras=extras, **self.features)

    def extra_keys(self) -> tuple[str, ...]:
        """Keys an event's ``extras`` may hold: party roles without a contract field, then extras."""
        return tuple(t[7:] for _, t in self.parties.values() if t.startswith("extras.")) + tuple(self.extras)


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; ConfigError naming the problem."""
    target = Path(path)
    try:
        document = tomllib.loads(target.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read mapping {target}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"mapping {target} is not valid TOML: {exc}") from exc
    return parse_mapping(document, str(target))


def parse_mapping(doc: AnyMapping[str, Any], name: str = "mapping") -> Mapping:
    """Validate a parsed TOML document (see ``config/mapping.example.toml``)."""
    for key in doc:
        if key not in _SECTIONS:
            raise unknown(name, key, _SECTIONS)
    source = parse_source(section(doc, "source", name), f"{name} [source]")
    columns = {}
    for key, column in section(doc, "columns", name).items():
        if key not in FIELD_KINDS:
            raise unknown(f"{name} [columns]", key, FIELD_KINDS)
        columns[key] = text(column, f"{name} [columns] {key}")
    constants = {}
    for key, value in section(doc, "constants", name).items():
        textual = [k for k, v in FIELD_KINDS.items() if v in ("code", "id", "text")]
        if key not in textual:
            raise unknown(f"{name} [constants]", key, textual)
        if key in columns:
            raise ConfigError(f"{name}: {key} is given both as a column and as a constant")
        constants[key] = text(value, f"{name} [constants] {key}")
    values = {}
    for key, recode in section(doc, "values", name).items():
        if key not in columns:
            raise ConfigError(f"{name} [values.{key}]: recodes a field that [columns] does not map")
        if not isinstance(recode, dict):
            raise ConfigError(f"{name} [values.{key}] must be a table of source value = contract value")
        values[key] = {str(k): text(v, f"{name} [values.{key}] {k}") for k, v in recode.items()}
    parties = parse_parties(section(doc, "parties", name), f"{name} [parties]")
    extras = parse_extras(section(doc, "extras", name), f"{name} [extras]")
    labels = parse_labels(section(doc, "labels", name), f"{name} [labels]")
    features = section(doc, "features", name)
    for key in features:
        if key not in _FEATURE_KEYS:
            raise unknown(f"{name} [features]", key, _FEATURE_KEYS)
    features = {k: tuple(v) if isinstance(v, list) else v for k, v in features.items()}

    for required in ("event_id", "event_time"):
        if required not in columns:
            raise ConfigError(f"{name} [columns]: {required} is required (the column holding it)")
    if "mainport" not in columns and "mainport" not in constants:
        raise ConfigError(f"{name}: mainport is required, as [columns] mainport or [constants] mainport")
    clash = set(extras) & {t[7:] for _, t in parties.values() if t.startswith("extras.")}
    if clash:
        raise ConfigError(f"{name}: {', '.join(sorted(clash))} is both a party role and an extra attribute")
    mapping = Mapping(source, columns, constants, values, parties, extras, labels, features, dict(doc))
    if len(mapping.extra_keys()) > MAX_EXTRAS:
        raise ConfigError(f"{name}: {len(mapping.extra_keys())} extra attributes; the contract carries {MAX_EXTRAS}")
    try:
        mapping.feature_config()  # the feature code's own checks (names, duplicates), raised now
    except TypeError as exc:
        raise ConfigError(f"{name} [features]: {exc}") from exc
    return mapping
