"""Analyst rules: conditions, force/suppress, port scope, validity, watchlists, hot reload, broken files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from features.contract import ManifestEvent, decode_manifest
from portrisk.errors import ConfigError
from scoring.rules import RuleBook, load_rules, parse_rules

BASE: dict[str, Any] = {
    "schema_version": 1, "event_id": "ev-1", "event_time": "2026-02-01T10:00:00Z", "mainport": "rotterdam",
    "transport_mode": "sea", "container_id": "CSQU3054383", "container_type": "45R1",
    "bill_of_lading": "MAEU123456789", "shipper_id": "EC0991234567001", "consignee_id": "NL123456789",
    "hs_code": "080390", "goods_description": "fresh bananas", "gross_weight_kg": 21_000.0,
    "declared_value_eur": 15_000.0, "port_of_loading": "ECGYE", "vessel_imo": "9074729", "voyage": "024E",
    "eta": "2026-02-15T06:00:00Z",
}
PORTS = {"rotterdam", "vlissingen", "schiphol"}
EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "rules.example.toml"


def event(**changes: Any) -> ManifestEvent:
    return decode_manifest(orjson.dumps({**BASE, **changes}), PORTS)


def rules(body: str, tmp_path: Path | None = None) -> Any:
    return parse_rules("version = 1\n" + body, tmp_path or Path("."))[0]


def ids(hits: list[Any]) -> list[str]:
    return [h.rule_id for h in hits]


def test_conditions_are_anded_and_lists_are_ored() -> None:
    rs = rules("""
[[rule]]
id = "ec-reefer-bananas"
description = "Ecuadorian banana reefers"
action = "force_scan"
when = { origin_country = ["EC", "CO"], reefer = true, hs_prefix = ["0803", "0804"] }
""")
    assert ids(rs.evaluate(event(), 0.1)) == ["ec-reefer-bananas"]
    assert ids(rs.evaluate(event(port_of_loading="COCTG", hs_code="080430"), 0.1)) == ["ec-reefer-bananas"]
    assert rs.evaluate(event(container_type="45G1"), 0.1) == []  # not a reefer
    assert rs.evaluate(event(hs_code="090111"), 0.1) == []  # coffee
    assert rs.evaluate(event(port_of_loading="CNSHA"), 0.1) == []


def test_each_condition_kind() -> None:
    rs = rules("""
[watchlists]
bad = ["NL123456789"]
[[rule]]
id = "pol"
action = "force_scan"
when = { port_of_loading = ["ECPBO"] }
[[rule]]
id = "via"
action = "force_scan"
when = { transshipment_port = ["PAMIT"] }
[[rule]]
id = "via-country"
action = "force_scan"
when = { transshipment_country = ["JM"] }
[[rule]]
id = "amended"
action = "force_scan"
when = { amendment = true }
[[rule]]
id = "consignee"
action = "force_scan"
when = { consignee_in = "bad" }
[[rule]]
id = "high"
action = "force_scan"
when = { score_at_least = 0.9 }
[[rule]]
id = "low-air"
action = "suppress"
when = { score_at_most = 0.05, transport_mode = "air" }
""")
    plain = {"consignee_id": "NL000000042"}
    assert rs.evaluate(event(**plain), 0.5) == []
    assert ids(rs.evaluate(event(**plain, port_of_loading="ECPBO"), 0.5)) == ["pol"]
    assert ids(rs.evaluate(event(**plain, transshipment_ports=["ESALG", "PAMIT"]), 0.5)) == ["via"]
    assert ids(rs.evaluate(event(**plain, transshipment_ports=["JMKIN"]), 0.5)) == ["via-country"]
    assert ids(rs.evaluate(event(**plain, is_amendment=True, amends_event_id="ev-0"), 0.5)) == ["amended"]
    assert ids(rs.evaluate(event(), 0.5)) == ["consignee"]
    assert ids(rs.evaluate(event(**plain), 0.95)) == ["high"]
    air = {"mainport": "schiphol", "transport_mode": "air", "container_id": "RKN12345KL", "container_type": "RKN",
           "bill_of_lading": "074-12345675", "vessel_imo": None, "voyage": "KL0752", "gross_weight_kg": 900.0,
           "eta": "2026-02-01T22:00:00Z"}
    assert ids(rs.evaluate(event(**plain, **air), 0.01)) == ["low-air"]
    assert rs.evaluate(event(**plain), 0.01) == []  # sea


def test_hits_carry_action_and_a_reason_naming_the_conditions() -> None:
    rs = rules("""
[[rule]]
id = "r1"
description = "campaign X"
action = "suppress"
when = { origin_country = ["EC"], score_at_most = 0.3 }
""")
    (hit,) = rs.evaluate(event(), 0.2)
    assert hit.action == "suppress"
    assert hit.reason.startswith("campaign X (") and "origin country EC" in hit.reason and "score <= 0.3" in hit.reason


def test_port_scope_and_validity_window_use_event_port_and_event_time() -> None:
    rs = rules("""
[[rule]]
id = "scoped"
action = "force_scan"
ports = ["vlissingen"]
valid_from = 2026-01-01T00:00:00Z
valid_until = 2026-03-01
when = { origin_country = ["EC"] }
[[rule]]
id = "everywhere"
action = "force_scan"
when = { reefer = true }
""")
    assert ids(rs.evaluate(event(), 0.1)) == ["everywhere"]  # rotterdam: out of scope
    assert ids(rs.evaluate(event(mainport="vlissingen"), 0.1)) == ["scoped", "everywhere"]
    assert ids(rs.evaluate(event(), 0.1, port="vlissingen")) == ["scoped", "everywhere"]
    late = {"mainport": "vlissingen", "event_time": "2026-03-01T00:00:00Z", "eta": "2026-03-10T00:00:00Z"}
    assert ids(rs.evaluate(event(**late), 0.1)) == ["everywhere"]  # valid_until is exclusive
    early = {"mainport": "vlissingen", "event_time": "2025-12-31T23:59:59Z", "eta": "2026-01-10T00:00:00Z"}
    assert ids(rs.evaluate(event(**early), 0.1)) == ["everywhere"]


def test_watchlists_inline_and_from_files_match_any_named_party(tmp_path: Path) -> None:
    (tmp_path / "aeo.txt").write_text("# trusted\nNL123456789\n\nBE0000001  # comment\n")
    rs = rules("""
[watchlists]
suspects = ["EC0991234567001"]
[watchlist_files]
aeo = "aeo.txt"
[[rule]]
id = "suspect-shipper"
action = "force_scan"
when = { shipper_in = "suspects" }
[[rule]]
id = "any-aeo"
action = "suppress"
when = { party_in = ["aeo"] }
[[rule]]
id = "declarant"
action = "force_scan"
when = { declarant_in = ["suspects", "aeo"] }
""", tmp_path)
    assert rs.watchlists["aeo"] == frozenset({"NL123456789", "BE0000001"})
    assert ids(rs.evaluate(event(), 0.1)) == ["suspect-shipper", "any-aeo"]  # consignee on aeo
    other = {"shipper_id": "CN000000001", "consignee_id": "DE000000001"}
    assert rs.evaluate(event(**other), 0.1) == []
    assert ids(rs.evaluate(event(**other, notify_party_id="BE0000001"), 0.1)) == ["any-aeo"]
    assert ids(rs.evaluate(event(**other, declarant_id="BE0000001"), 0.1)) == ["any-aeo", "declarant"]


def test_disabled_rules_are_skipped_and_the_example_file_loads() -> None:
    rs, files = load_rules(EXAMPLE)
    assert "schiphol-roses-test" not in [r.id for r in rs.rules]
    assert {r.action for r in rs.rules} == {"force_scan", "suppress"}
    assert len(files) == 1 and "NL000000010" in rs.watchlists["trusted_traders"]
    assert ids(rs.evaluate(event(shipper_id="BE000000002"), 0.0)) == ["suspect-party"]


@pytest.mark.parametrize(("body", "message"), [
    ("[[rule]]\nid = 'a'\naction = 'scan'\nwhen = { reefer = true }", "action"),
    ("[[rule]]\nid = 'a'\naction = 'force_scan'", "at least one condition"),
    ("[[rule]]\nid = 'a'\naction = 'force_scan'\nwhen = { refeer = true }", "unknown key"),
    ("[[rule]]\nid = 'a'\naction = 'force_scan'\nwhen = { shipper_in = 'nope' }", "unknown watchlist"),
    ("[[rule]]\nid = 'a'\naction = 'force_scan'\nwhen = { score_at_least = 2 }", "[0, 1]"),
    ("[[rule]]\nid = 'a'\naction = 'force_scan'\nwhen = { reefer = true }\n"
     "[[rule]]\nid = 'a'\naction = 'suppress'\nwhen = { reefer = true }", "duplicate"),
    ("[[rule]]\nid = 'a'\naction = 'force_scan'\nvalid_from = 2026-01-01T00:00:00\nwhen = { reefer = true }",
     "UTC offset"),
    ("[[rule]]\nid = 'a'\naction = 'force_scan'\nwhen = { origin_country = 'EC' }", "list"),
    ("[rule", "not valid TOML"),
])
def test_invalid_files_are_config_errors_that_say_what_is_wrong(body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        rules(body)
    with pytest.raises(ConfigError, match="version"):
        parse_rules("[[rule]]\nid = 'a'\naction = 'force_scan'\nwhen = { reefer = true }", Path("."))


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


RULE_A = "version = 1\n[[rule]]\nid = 'a'\naction = 'force_scan'\nwhen = { reefer = true }\n"
RULE_B = "version = 1\n[[rule]]\nid = 'b'\naction = 'suppress'\nwhen = { origin_country = ['EC'] }\n"


def write(path: Path, text: str) -> None:
    """Write and move the mtime forward, as a later edit would (file systems may have coarse mtimes)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_hot_reload_picks_up_a_changed_file_at_most_every_interval(tmp_path: Path) -> None:
    path, clock = tmp_path / "rules.toml", Clock()
    write(path, RULE_A)
    book = RuleBook(path, check_interval_s=5.0, clock=clock)
    assert ids(book.evaluate(event(), 0.1)) == ["a"]
    write(path, RULE_B)
    clock.t = 4.0
    assert not book.maybe_reload()  # too soon: not even a stat
    assert ids(book.evaluate(event(), 0.1)) == ["a"]
    clock.t = 5.0
    assert book.maybe_reload()
    assert [(h.rule_id, h.action) for h in book.evaluate(event(), 0.1)] == [("b", "suppress")]
    clock.t = 10.0
    assert not book.maybe_reload()  # unchanged file: nothing to do
    assert book.reloads == 1 and book.reload_errors == 0


def test_a_broken_or_missing_file_keeps_the_previous_rules_and_is_reported_once(tmp_path: Path) -> None:
    path, clock, errors = tmp_path / "rules.toml", Clock(), list[str]()
    write(path, RULE_A)
    book = RuleBook(path, check_interval_s=1.0, clock=clock, on_reload_error=errors.append)
    fingerprint = book.fingerprint
    write(path, RULE_A.replace("reefer = true", "reefer = maybe"))
    clock.t = 1.0
    assert not book.maybe_reload()
    assert ids(book.evaluate(event(), 0.1)) == ["a"] and book.fingerprint == fingerprint
    assert book.reload_errors == 1 and len(errors) == 1 and "not valid TOML" in (book.last_error or "")
    clock.t = 2.0
    book.maybe_reload()
    assert book.reload_errors == 1  # the same broken file is not reported again
    path.unlink()
    clock.t = 3.0
    book.maybe_reload()
    assert book.reload_errors == 2 and ids(book.evaluate(event(), 0.1)) == ["a"]
    write(path, RULE_B)
    clock.t = 4.0
    assert book.maybe_reload() and book.last_error is None
    assert ids(book.evaluate(event(), 0.1)) == ["b"]


def test_a_changed_watchlist_file_alone_triggers_a_reload(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "rules.toml")
    (tmp_path / "watchlists").mkdir()
    wl = tmp_path / "watchlists" / "trusted_traders.example.txt"
    write(wl, "NL000000010\n")
    clock = Clock()
    book = RuleBook(tmp_path / "rules.toml", check_interval_s=1.0, clock=clock)
    trusted = event(shipper_id="NL000000099", port_of_loading="CNSHA")
    assert book.evaluate(trusted, 0.1) == []
    write(wl, "NL000000010\nNL000000099\n")
    clock.t = 1.0
    assert book.maybe_reload()
    assert ids(book.evaluate(trusted, 0.1)) == ["trusted-trader-low-score"]


def test_a_broken_file_at_start_raises_unless_told_to_start_empty(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    write(path, "version = 2\n")
    with pytest.raises(ConfigError, match="version"):
        RuleBook(path)
    book = RuleBook(path, strict_start=False)
    assert book.rules.rules == () and book.reload_errors == 1
