"""The importer's parts on small inputs: detection, parsers, duplicate ids, line numbers, label metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from models.evaluation import evaluate_labelled
from models.importer import parse
from models.importer.reader import _record_numbers
from models.importer.seen import SeenIds, id_hashes
from models.importer.sniff import detect_date_format, detect_delimiter, detect_encoding
from models.metrics import expected_hits
from portrisk.errors import DataError


def test_encoding_and_delimiter_are_detected(tmp_path: Path) -> None:
    text = "nummer;omschrijving;land\n1;café crème;FR\n2;bananen;EC\n"
    for encoding, expected in (("utf-8", "utf-8"), ("cp1252", "cp1252"), ("utf-8-sig", "utf-8-sig")):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        assert detect_encoding(path) == expected
        assert detect_delimiter(path, expected) == ";"
    (tmp_path / "tab.csv").write_text("a\tb\tc\n1\t2\t3\n", encoding="utf-8")
    assert detect_delimiter(tmp_path / "tab.csv", "utf-8") == "\t"


@pytest.mark.parametrize(("values", "expected"), [
    (["2024-03-01T10:15:00Z", "2024-03-02T11:00:00.250+01:00"], "ISO8601"),
    (["01-03-2024 10:15:00", "13-03-2024 11:00:00"], "%d-%m-%Y %H:%M:%S"),
    (["01/03/2024", "13/03/2024"], "%d/%m/%Y"),
    (["03/01/2024", "03/13/2024"], "%m/%d/%Y"),  # a 13th month proves the US order
    (["01.03.2024 10:15", "31.12.2024 23:59"], "%d.%m.%Y %H:%M"),
    (["20240301", "20241231"], "ISO8601"),  # the basic form of ISO 8601
])
def test_date_formats_are_detected_day_first(values: list[str], expected: str) -> None:
    assert detect_date_format(pd.Series(values), "datum") == expected


def test_an_unknown_date_format_asks_for_the_mapping() -> None:
    with pytest.raises(DataError, match="set \\[source\\] date_format"):
        detect_date_format(pd.Series(["maandag", "dinsdag"]), "datum")


def test_local_times_become_utc_and_unparseable_ones_are_flagged() -> None:
    parser = parse.TimeParser("event_time", None, "Europe/Amsterdam")
    parsed, failed = parser(pa.array(["01-07-2024 12:00:00", "", "31-02-2024 10:00:00", "01-01-2024 12:00:00"]))
    assert parsed.to_pylist()[0].isoformat() == "2024-07-01T10:00:00+00:00"  # summer time: UTC+2
    assert parsed.to_pylist()[3].isoformat() == "2024-01-01T11:00:00+00:00"  # winter time: UTC+1
    assert parsed[1].as_py() is None and failed.tolist() == [False, False, True, False]


def test_parsers_keep_missing_missing() -> None:
    numbers, failed = parse.number(pa.array(["1.250,5", "", None, "veel", "-3"]), decimal=",", thousands=".")
    assert numbers.to_pylist() == [1250.5, None, None, None, -3.0] and failed.tolist() == [0, 0, 0, 1, 0]
    flags, failed = parse.boolean(pa.array(["J", "nee", "", "misschien"]), ("j",), ("nee",))
    assert flags.to_pylist() == [True, False, None, None] and failed.tolist() == [0, 0, 0, 1]
    assert parse.hs_code(pa.array(["0803.90", "80390", "08039010", "", "2709 00"])).to_pylist() == \
        ["080390", "080390", "080390", None, "270900"]
    assert parse.lists(pa.array(["esalg | paonx", "", None]), "|").to_pylist() == [["ESALG", "PAONX"], [], []]
    assert parse.text(pa.array([" 00123 ", ""])).to_pylist() == \
        ["00123", None]
    assert parse.text(pa.array([1234.0, None])).to_pylist() == ["1234", None]  # an id through a float column
    assert parse.text(pa.array(["NLRTM", "nlrtm", "x"]), {"NLRTM": "rotterdam"}).to_pylist() == \
        ["rotterdam", "rotterdam", "x"]


def test_extras_become_json_objects_without_the_missing_keys() -> None:
    import orjson

    out = parse.extras_json({"kantoor": pa.array(['RTM "1"', None, "AMS"]), "colli": pa.array([3.0, 2.5, None])}, 3)
    assert [orjson.loads(v) for v in out.to_pylist()] == [{"kantoor": 'RTM "1"', "colli": 3}, {"colli": 2.5},
                                                          {"kantoor": "AMS"}]
    assert parse.extras_json({}, 2).to_pylist() == ["{}", "{}"]


def test_seen_ids_find_repeats_across_many_adds() -> None:
    seen = SeenIds()
    ids = [f"{i:012d}" for i in range(5000)]
    for start in range(0, 5000, 700):
        hashes = id_hashes(pa.array(ids[start:start + 700]))
        assert not seen.contains(hashes).any()
        seen.add(hashes)
    assert len(seen) == 5000
    probe = id_hashes(pa.array(["000000000042", "nieuw", "000000004999"]))
    assert seen.contains(probe).tolist() == [True, False, True]


def test_record_numbers_pass_over_rejected_records() -> None:
    skipped = [4, 5, 9, 30]
    numbers, following = _record_numbers(2, 6, skipped)
    assert numbers.tolist() == [2, 3, 6, 7, 8, 10] and following == 11 and skipped == [30]


def test_expected_hits_break_ties_at_random_in_expectation() -> None:
    positive = np.array([True, False, False, True])
    assert expected_hits(np.array([0.9, 0.5, 0.5, 0.5]), positive, 2) == pytest.approx(1 + 1 / 3)
    assert expected_hits(np.array([np.nan, 0.1, 0.2, 0.3]), positive, 1) == 1.0  # NaN ranks last
    table = pd.DataFrame({"score": [0.9, 0.8, 0.1, 0.2], "finding": [True, False, False, True],
                          "shipper": [0.5, 0.5, 0.5, 0.5]})
    report = evaluate_labelled(table, ["shipper"], (25.0, 50.0))
    first, second = report["rates"]  # type: ignore[index]
    assert first["precision"] == 1.0 and first["baselines"]["shipper"]["precision"] == 0.5
    assert first["baselines"]["shipper"]["lift"] == 2.0 and second["recall"] == 0.5
    assert report["roc_auc"] == 0.75 and report["base_rate"] == 0.5
