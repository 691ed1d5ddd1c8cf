"""The sections of a mapping file that are more than a table of names: how to read the source, the
parties, the extra attributes and the labels. Each is checked key by key, and an error names the section
and key (``m.toml [labels] delay_days: ...``) so an administration can fix its file without reading code.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from features.contract import InspectionOutcome
from portrisk.errors import ConfigError

CONTRACT_PARTIES = {"shipper": "shipper_id", "consignee": "consignee_id", "notify_party": "notify_party_id",
                    "declarant": "declarant_id"}
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_SOURCE_KEYS = ("encoding", "delimiter", "decimal", "thousands", "date_format", "date_formats", "timezone",
                "list_separator", "true_values", "false_values", "max_bad_rows")
TIME_FIELDS = ("event_time", "eta", "inspected_at")
_LABEL_KEYS = ("inspected", "finding", "severity", "minor_severities", "inspected_at", "selection",
               "selection_values", "delay_days")
# The outcome contract's selection values (features.contract.InspectionOutcome), not a copy of them.
SELECTIONS: tuple[str, ...] = get_args(get_args(InspectionOutcome.model_fields["selection"].annotation)[0])
TRUE_VALUES = ("1", "y", "yes", "j", "ja", "true", "t", "waar", "x")
FALSE_VALUES = ("0", "n", "no", "nee", "false", "f", "onwaar")


@dataclass(frozen=True)
class Source:
    """How to read the file; ``None`` means detect (encoding, delimiter, date formats)."""

    encoding: str | None = None
    delimiter: str | None = None
    decimal: str = "."
    thousands: str | None = None
    date_format: str | None = None  # every time column
    date_formats: dict[str, str] = field(default_factory=dict)  # per time field, over date_format
    timezone: str = "UTC"
    list_separator: str = ">"
    true_values: tuple[str, ...] = TRUE_VALUES
    false_values: tuple[str, ...] = FALSE_VALUES
    max_bad_rows: int = 1000


@dataclass(frozen=True)
class Labels:
    """Where the inspection results are. ``inspected`` absent: a row with a finding value was inspected."""

    finding: str
    inspected: str | None = None
    severity: str | None = None
    minor_severities: tuple[str, ...] = ()
    inspected_at: str | None = None
    selection: str | None = None
    selection_values: dict[str, str] = field(default_factory=dict)  # source value (lower case) → selection
    delay_days: float = 7.0


def unknown(where: str, key: str, allowed: Iterable[str]) -> ConfigError:
    options = sorted(allowed)
    close = difflib.get_close_matches(key, options, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ConfigError(f"{where}: unknown key {key!r}; {hint}expected one of {', '.join(options)}")


def section(doc: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    return dict(value)


def text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def texts(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(str(v).strip().lower() for v in value)


def parse_source(table: dict[str, Any], where: str) -> Source:
    for key in table:
        if key not in _SOURCE_KEYS:
            raise unknown(where, key, _SOURCE_KEYS)
    options: dict[str, Any] = {}
    for key in ("encoding", "date_format", "timezone", "list_separator"):
        if key in table:
            options[key] = text(table[key], f"{where} {key}")
    for key in ("delimiter", "decimal", "thousands"):
        if key in table:
            value = text(table[key], f"{where} {key}").replace("\\t", "\t")
            if len(value) != 1:
                raise ConfigError(f"{where} {key}: expected one character, got {value!r}")
            options[key] = value
    for key in ("true_values", "false_values"):
        if key in table:
            options[key] = texts(table[key], f"{where} {key}")
    if "date_formats" in table:
        formats = table["date_formats"]
        if not isinstance(formats, dict):
            raise ConfigError(f"{where} date_formats: expected a table of time field = format")
        for key in formats:
            if key not in TIME_FIELDS:
                raise unknown(f"{where} date_formats", key, TIME_FIELDS)
        options["date_formats"] = {k: text(v, f"{where} date_formats.{k}") for k, v in formats.items()}
    if "max_bad_rows" in table:
        if not isinstance(table["max_bad_rows"], int) or table["max_bad_rows"] < 0:
            raise ConfigError(f"{where} max_bad_rows: expected a whole number >= 0")
        options["max_bad_rows"] = table["max_bad_rows"]
    if "timezone" in options:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(options["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"{where} timezone: unknown time zone {options['timezone']!r}") from exc
    return Source(**options)


def parse_parties(table: dict[str, Any], where: str) -> dict[str, tuple[str, str]]:
    parties: dict[str, tuple[str, str]] = {}
    for role, spec in table.items():
        if not _KEY.match(role):
            raise ConfigError(f"{where}: role {role!r} must be lower-case letters, digits or '_'")
        if isinstance(spec, dict):
            strange = set(spec) - {"column", "field"}
            if strange:
                raise unknown(f"{where} {role}", sorted(strange)[0], ("column", "field"))
            column = text(spec.get("column"), f"{where} {role}.column")
            target = text(spec.get("field", CONTRACT_PARTIES.get(role, f"extras.{role}")), f"{where} {role}.field")
        else:
            column = text(spec, f"{where} {role}")
            target = CONTRACT_PARTIES.get(role, f"extras.{role}")
        if target != "shipper_id" and target not in CONTRACT_PARTIES.values() and target != f"extras.{role}":
            raise ConfigError(f"{where} {role}: field must be one of {', '.join(CONTRACT_PARTIES.values())} "
                              f"or 'extras.{role}', got {target!r}")
        if (role == "shipper") != (target == "shipper_id"):
            raise ConfigError(f"{where} {role}: only the 'shipper' role fills shipper_id (the keyed party)")
        parties[role] = (column, target)
    if "shipper" not in parties:
        raise ConfigError(f"{where}: shipper is required (the column of the shipper or seller id)")
    targets = [t for _, t in parties.values()]
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise ConfigError(f"{where}: {', '.join(doubled)} is filled by more than one role")
    return parties


def parse_extras(table: dict[str, Any], where: str) -> dict[str, tuple[str, Literal["numeric", "categorical"]]]:
    extras: dict[str, tuple[str, Literal["numeric", "categorical"]]] = {}
    for key, spec in table.items():
        if not _KEY.match(key):
            raise ConfigError(f"{where}: key {key!r} must be lower-case letters, digits or '_' (max 48)")
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} {key}: expected {{ column = \"...\", kind = \"numeric\" | \"categorical\" }}")
        strange = set(spec) - {"column", "kind"}
        if strange:
            raise unknown(f"{where} {key}", sorted(strange)[0], ("column", "kind"))
        kind = spec.get("kind")
        if kind not in ("numeric", "categorical"):
            raise ConfigError(f"{where} {key}.kind: expected 'numeric' or 'categorical', got {kind!r}")
        extras[key] = (text(spec.get("column"), f"{where} {key}.column"), kind)
    return extras


def parse_labels(table: dict[str, Any], where: str) -> Labels:
    for key in table:
        if key not in _LABEL_KEYS:
            raise unknown(where, key, _LABEL_KEYS)
    if "finding" not in table:
        raise ConfigError(f"{where}: finding is required (the column saying whether an inspection found "
                          "anything); without labels there is nothing to train on")
    options: dict[str, Any] = {"finding": text(table["finding"], f"{where} finding")}
    for key in ("inspected", "severity", "inspected_at", "selection"):
        if key in table:
            options[key] = text(table[key], f"{where} {key}")
    if "minor_severities" in table:
        if "severity" not in options:
            raise ConfigError(f"{where} minor_severities: needs a severity column")
        options["minor_severities"] = texts(table["minor_severities"], f"{where} minor_severities")
    if "selection_values" in table:
        spec = table["selection_values"]
        if not isinstance(spec, dict) or "selection" not in options:
            raise ConfigError(f"{where} selection_values: a table of selection = [source values], with a "
                              "selection column")
        recode: dict[str, str] = {}
        for selection, sources in spec.items():
            if selection not in SELECTIONS:
                raise unknown(f"{where} selection_values", selection, SELECTIONS)
            recode |= {value: selection for value in texts(sources, f"{where} selection_values.{selection}")}
        options["selection_values"] = recode
    if "delay_days" in table:
        delay = table["delay_days"]
        if not isinstance(delay, int | float) or delay <= 0:
            raise ConfigError(f"{where} delay_days: expected a positive number of days")
        options["delay_days"] = float(delay)
    return Labels(**options)
