"""Compiled analyst rules: the types, and the compiler from a rules file's text (format: :mod:`scoring.rules`).

Conditions are compiled once per load into closures over frozensets, indexed by port, so evaluating an
event costs a few set look-ups per rule of its port.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from features.contract import ManifestEvent
from portrisk.errors import ConfigError

Action = Literal["force_scan", "suppress"]
Predicate = Callable[[ManifestEvent, float], bool]
_RULE_KEYS = frozenset({"id", "description", "action", "ports", "valid_from", "valid_until", "enabled", "when"})
_PARTY_FIELDS = {"shipper_in": ("shipper_id",), "consignee_in": ("consignee_id",),
                 "declarant_in": ("declarant_id",), "notify_party_in": ("notify_party_id",),
                 "party_in": ("shipper_id", "consignee_id", "declarant_id", "notify_party_id")}
_CONDITIONS = frozenset({*_PARTY_FIELDS, "port_of_loading", "origin_country", "transshipment_port",
                         "transshipment_country", "hs_prefix", "reefer", "amendment", "transport_mode",
                         "score_at_least", "score_at_most"})


@dataclass(frozen=True)
class RuleHit:
    """One rule that matched an event: its id, action and a human-readable reason."""

    rule_id: str
    action: Action
    reason: str


@dataclass(frozen=True)
class Rule:
    """A compiled rule; ``conditions`` pairs each predicate with its text for reasons."""

    id: str
    description: str
    action: Action
    ports: frozenset[str] | None
    valid_from: datetime | None
    valid_until: datetime | None
    conditions: tuple[tuple[Predicate, str], ...]

    def hit(self, event: ManifestEvent, score: float) -> RuleHit | None:
        """The hit when this rule matches ``event`` with ``score`` (port scope is checked by the caller)."""
        t = event.event_time
        if self.valid_from is not None and t < self.valid_from:
            return None
        if self.valid_until is not None and t >= self.valid_until:
            return None
        for predicate, _ in self.conditions:
            if not predicate(event, score):
                return None
        return RuleHit(self.id, self.action, f"{self.description} ({'; '.join(c for _, c in self.conditions)})")


class RuleSet:
    """Compiled rules indexed by port, and the watchlists they use."""

    def __init__(self, rules: Iterable[Rule], watchlists: Mapping[str, frozenset[str]], fingerprint: str = "") -> None:
        self.rules = tuple(rules)
        self.watchlists = dict(watchlists)
        self.fingerprint = fingerprint
        self._global = tuple(r for r in self.rules if r.ports is None)
        ports = {p for r in self.rules if r.ports for p in r.ports}
        # File order is kept within a port, so reasons come out in the order analysts wrote the rules.
        self._by_port = {p: tuple(r for r in self.rules if r.ports is None or p in r.ports) for p in ports}

    def evaluate(self, event: ManifestEvent, score: float, port: str | None = None) -> list[RuleHit]:
        """Every rule of ``port`` (default: the event's mainport) that matches."""
        rules = self._by_port.get(port or event.mainport, self._global)
        hits = []
        for rule in rules:
            hit = rule.hit(event, score)
            if hit is not None:
                hits.append(hit)
        return hits

FileStat = tuple[int, int, int] | None
WatchlistFiles = list[tuple[Path, FileStat]]

def parse_rules(text: str, base_dir: Path, *, source: str = "<rules>") -> tuple[RuleSet, WatchlistFiles]:
    """Compile a rules file's text (ConfigError if bad); returns the rule set and the watchlist files it
    read, each with its stat taken just before reading."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    _no_unknown(data, {"version", "watchlists", "watchlist_files", "rule"}, source)
    if data.get("version") != 1:
        raise ConfigError(f"{source}: 'version = 1' is required (got {data.get('version')!r})")
    watchlists: dict[str, frozenset[str]] = {}
    for name, ids in _table(data, "watchlists", source).items():
        watchlists[name] = _strings(ids, f"{source}: watchlists.{name}")
    files: WatchlistFiles = []
    for name, rel in _table(data, "watchlist_files", source).items():
        if name in watchlists:
            raise ConfigError(f"{source}: watchlist {name!r} is defined twice")
        path = base_dir / str(rel)
        files.append((path, stat(path)))
        watchlists[name] = _read_watchlist(path, source, name)
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("rule", [])):
        rule = _compile_rule(raw, watchlists, f"{source}: rule #{i + 1}")
        if rule is None:
            continue
        if rule.id in seen:
            raise ConfigError(f"{source}: duplicate rule id {rule.id!r}")
        seen.add(rule.id)
        rules.append(rule)
    return RuleSet(rules, watchlists, hashlib.sha256(text.encode()).hexdigest()[:16]), files

def load_rules(path: Path) -> tuple[RuleSet, WatchlistFiles]:
    """Read and compile the rules file at ``path`` (ConfigError if unreadable or invalid)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"rules file {path}: cannot read: {exc}") from exc
    return parse_rules(text, path.parent, source=str(path))


def stat(path: Path) -> FileStat:
    """(inode, mtime in ns, size) of a file, or None if it cannot be stat'ed: what hot reload compares."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)  # inode: editors replace files by rename


# -- compiling ----------------------------------------------------------------------------------------
def _compile_rule(raw: Any, watchlists: Mapping[str, frozenset[str]], where: str) -> Rule | None:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a rule must be a table")
    _no_unknown(raw, _RULE_KEYS, where)
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise ConfigError(f"{where}: 'id' (a non-empty string) is required")
    where = f"{where} ({rule_id})"
    if raw.get("action") not in ("force_scan", "suppress"):
        raise ConfigError(f"{where}: action must be 'force_scan' or 'suppress', got {raw.get('action')!r}")
    if not raw.get("enabled", True):
        return None
    when = raw.get("when")
    if not isinstance(when, dict) or not when:
        raise ConfigError(f"{where}: 'when' must hold at least one condition")
    _no_unknown(when, _CONDITIONS, f"{where}: when")
    conditions = tuple(_condition(key, value, watchlists, f"{where}: when.{key}") for key, value in when.items())
    valid_from, valid_until = _time(raw.get("valid_from"), where), _time(raw.get("valid_until"), where)
    if valid_from and valid_until and valid_from >= valid_until:
        raise ConfigError(f"{where}: valid_from must be before valid_until")
    ports = _strings(raw["ports"], f"{where}: ports") if "ports" in raw else None
    return Rule(rule_id, str(raw.get("description", rule_id)), raw["action"], ports, valid_from, valid_until,
                conditions)


def _condition(key: str, value: Any, watchlists: Mapping[str, frozenset[str]], where: str) -> tuple[Predicate, str]:
    if key in _PARTY_FIELDS:
        names = [value] if isinstance(value, str) else sorted(_strings(value, where))
        missing = [n for n in names if n not in watchlists]
        if missing:
            raise ConfigError(f"{where}: unknown watchlist(s) {missing}; defined: {sorted(watchlists)}")
        ids = frozenset().union(*(watchlists[n] for n in names))
        attrs = _PARTY_FIELDS[key]
        party = key.removesuffix("_in").replace("_", " ")
        return (lambda e, s: any(getattr(e, a) in ids for a in attrs)), f"{party} on watchlist {', '.join(names)}"
    if key in ("reefer", "amendment"):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false")
        if key == "reefer":
            return (lambda e, s: e.is_reefer == value), "reefer" if value else "not a reefer"
        return (lambda e, s: e.is_amendment == value), "amended declaration" if value else "not an amendment"
    if key == "transport_mode":
        if value not in ("sea", "air"):
            raise ConfigError(f"{where}: must be 'sea' or 'air'")
        return (lambda e, s: e.transport_mode == value), f"{value} cargo"
    if key in ("score_at_least", "score_at_most"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ConfigError(f"{where}: must be a number in [0, 1]")
        bound = float(value)
        if key == "score_at_least":
            return (lambda e, s: s >= bound), f"score >= {bound:g}"
        return (lambda e, s: s <= bound), f"score <= {bound:g}"
    items = _strings(value, where)
    shown = ", ".join(sorted(items)[:5]) + (", ..." if len(items) > 5 else "")
    if key == "port_of_loading":
        return (lambda e, s: e.port_of_loading in items), f"loaded at {shown}"
    if key == "origin_country":
        return (lambda e, s: e.port_of_loading[:2] in items), f"origin country {shown}"
    if key == "transshipment_port":
        return (lambda e, s: any(p in items for p in e.transshipment_ports)), f"transshipped via {shown}"
    if key == "transshipment_country":
        return (lambda e, s: any(p[:2] in items for p in e.transshipment_ports)), f"transshipped via {shown}"
    prefixes = tuple(sorted(items))  # hs_prefix; str.startswith takes a tuple and loops in C
    return (lambda e, s: e.hs_code.startswith(prefixes)), f"HS code {shown}*"


def _read_watchlist(path: Path, source: str, name: str) -> frozenset[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: watchlist {name!r}: cannot read {path}: {exc}") from exc
    return frozenset(s for line in lines if (s := line.split("#", 1)[0].strip()))


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigError(f"{where}: validity times need a UTC offset, e.g. 2026-01-01T00:00:00Z")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ConfigError(f"{where}: validity times must be TOML dates or date-times, got {value!r}")


def _strings(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: must be a list of non-empty strings")
    return frozenset(value)


def _table(data: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{key}] must be a table")
    return table


def _no_unknown(data: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
