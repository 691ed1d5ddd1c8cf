"""The mapping file: the documented example loads, and every mistake is named in the error."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from import_support import EXAMPLE_MAPPING, admin_frame, write_admin_csv
from models_support import small_world

from features.config import ExtraFeature, PartyRole
from models.importer import import_history, load_mapping, parse_mapping
from portrisk.errors import ConfigError


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE_MAPPING.read_text(encoding="utf-8"))


def test_the_example_mapping_declares_roles_and_extras_for_the_feature_code() -> None:
    mapping = load_mapping(EXAMPLE_MAPPING)
    config = mapping.feature_config()
    assert config.party_roles == (PartyRole("consignee", "consignee_id"), PartyRole("declarant", "declarant_id"),
                                  PartyRole("forwarder", "extras.forwarder"))
    assert config.extras == (ExtraFeature("douanekantoor", "categorical"), ExtraFeature("aantal_colli", "numeric"))
    assert mapping.extra_keys() == ("forwarder", "douanekantoor", "aantal_colli")
    assert mapping.source.delimiter == ";" and mapping.source.timezone == "Europe/Amsterdam"
    assert mapping.date_format("inspected_at") == "%d-%m-%Y" and mapping.date_format("eta") is None
    assert mapping.labels.selection_values["steekproef"] == "random"


def _broken(edit: Any) -> dict[str, Any]:
    doc = copy.deepcopy(example())
    edit(doc)
    return doc


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(kolommen={}), "unknown key 'kolommen'"),
    (lambda d: d["columns"].update(evnt_time="X"), "[columns]: unknown key 'evnt_time'; did you mean 'event_time'?"),
    (lambda d: d["columns"].pop("event_time"), "event_time is required"),
    (lambda d: (d["columns"].pop("mainport"), d["values"].pop("mainport")), "mainport is required"),
    (lambda d: d["parties"].pop("shipper"), "shipper is required"),
    (lambda d: d["labels"].pop("finding"), "finding is required"),
    (lambda d: d["extras"].update(colli={"column": "C", "kind": "count"}), "colli.kind: expected 'numeric'"),
    (lambda d: d["extras"].update(Colli={"column": "C", "kind": "numeric"}), "key 'Colli' must be lower-case"),
    (lambda d: d["parties"].update(importer={"column": "I", "field": "shipper_id"}), "only the 'shipper' role"),
    (lambda d: d["parties"].update(koper={"column": "K", "field": "consignee_id"}), "consignee_id is filled by more"),
    (lambda d: d["source"].update(delimiter=";;"), "delimiter: expected one character"),
    (lambda d: d["source"].update(timezone="Europe/Atlantis"), "unknown time zone 'Europe/Atlantis'"),
    (lambda d: d["source"]["date_formats"].update(arrival="%d"), "date_formats: unknown key 'arrival'"),
    (lambda d: d["labels"]["selection_values"].update(tipoff=["tip"]), "unknown key 'tipoff'"),
    (lambda d: d["values"].update(eta={"x": "y"}), "[values.eta]: recodes a field that [columns] does not map"),
    (lambda d: d["extras"].update({f"x{i}": {"column": "C", "kind": "numeric"} for i in range(30)}),
     "33 extra attributes; the contract carries 32"),
])
def test_mapping_mistakes_are_named(edit: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mapping(_broken(edit), "m.toml")
    assert message in str(caught.value)


def test_a_mapping_that_names_a_column_the_file_lacks_fails_before_reading_naming_it(tmp_path: Path) -> None:
    csv = tmp_path / "aangiften.csv"
    write_admin_csv(admin_frame(small_world()).head(50), csv)
    doc = _broken(lambda d: d["columns"].update(gross_weight_kg="BRUTO_MASSA", eta="AANKOMST"))
    with pytest.raises(ConfigError) as caught:
        import_history(csv, parse_mapping(doc, "m.toml"), tmp_path / "history")
    message = str(caught.value)
    assert "[columns] gross_weight_kg = 'BRUTO_MASSA': no such column (did you mean 'BRUTOMASSA'?)" in message
    assert "[columns] eta = 'AANKOMST': no such column" in message
    assert "AANGIFTENUMMER" in message  # the file's columns are listed
    assert not (tmp_path / "history").exists() and list(tmp_path.iterdir()) == [csv]


def test_a_broken_toml_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("[columns\nevent_id = 'X'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_mapping(path)
    with pytest.raises(ConfigError, match="cannot read mapping"):
        load_mapping(tmp_path / "missing.toml")
