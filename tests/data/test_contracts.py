from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentgov.data.contracts import load_suite, profile, validate_file, write_suite
from agentgov.data.errors import DatasetUnreadable, SuiteInvalid

REFERENCE = (
    "subject,body,label,score,priority\n"
    "Invoice,where is my invoice,billing,0.5,1\n"
    "Refund,I was charged twice,refund,0.9,2\n"
    "Crash,the app crashes on start,technical,0.7,\n"
    "Invoice,please send a copy,billing,0.4,1\n"
    "Angry,I want a manager now,escalation,0.8,3\n"
    "Refund,money back please,refund,0.6,2\n"
    "Crash,blank screen,technical,0.2,1\n"
    "Invoice,wrong address on it,billing,0.3,1\n"
    "Refund,double charge,refund,0.95,2\n"
    "Angry,third time I write,escalation,0.85,3\n"
)


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    file = tmp_path / "reference.csv"
    file.write_text(REFERENCE)
    return file


@pytest.fixture
def suite_file(reference: Path, tmp_path: Path) -> Path:
    return write_suite(profile(reference, "tickets"), tmp_path / "suites" / "tickets.json")


def test_profile_proposes_types_nulls_ranges_values_and_lengths_as_ge_suite_json(suite_file: Path, reference: Path) -> None:
    suite = json.loads(suite_file.read_text())
    assert suite["name"] == "tickets" and suite["meta"]["great_expectations_version"] == "1.24.1"
    by = {(e["type"], e["kwargs"].get("column")): e["kwargs"] for e in suite["expectations"]}
    assert by[("expect_table_columns_to_match_set", None)]["column_set"] == ["subject", "body", "label", "score", "priority"]
    assert by[("expect_column_values_to_be_in_set", "label")]["value_set"] == ["billing", "escalation", "refund", "technical"]
    assert by[("expect_column_values_to_be_between", "score")] == {"column": "score", "min_value": 0.2, "max_value": 0.95}
    assert by[("expect_column_value_lengths_to_be_between", "body")] == {"column": "body", "min_value": 12, "max_value": 24}
    assert by[("expect_column_values_to_not_be_null", "priority")]["mostly"] == 0.9  # one null in ten
    assert "mostly" not in by[("expect_column_values_to_not_be_null", "score")]
    assert by[("expect_column_values_to_be_in_set", "priority")]["value_set"] == [1, 2, 3]
    assert by[("expect_column_values_to_be_in_type_list", "body")]["type_list"] == ["str"]
    # Great Expectations reads back exactly what was written, and the data it came from meets it.
    loaded = load_suite(suite_file)
    assert len(loaded.expectations) == len(suite["expectations"])
    for read, written in zip(loaded.to_json_dict()["expectations"], suite["expectations"], strict=True):
        assert read["type"] == written["type"] and read["kwargs"].items() <= written["kwargs"].items()  # GE omits defaults
    result = validate_file(reference, suite_file)
    assert result.passed and result.evaluated == len(suite["expectations"]) and result.rows == 10 and not result.failed


def test_validation_reports_each_failing_expectation_with_its_share_and_examples(suite_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        REFERENCE
        + "Spam,buy now,spam,7.5,1\n"
        + "Spam,,spam,0.5,9\n"
    )
    result = validate_file(bad, suite_file, dataset="data/bad.csv")
    assert not result.passed and result.dataset == "data/bad.csv" and result.rows == 12
    failed = {(f.expectation, f.column): f for f in result.failed}
    assert set(failed) == {
        ("expect_column_values_to_be_in_set", "subject"),
        ("expect_column_values_to_be_in_set", "label"),
        ("expect_column_values_to_be_between", "score"),
        ("expect_column_values_to_not_be_null", "body"),
        ("expect_column_value_lengths_to_be_between", "body"),  # "buy now" is shorter than any reference body
        ("expect_column_values_to_be_in_set", "priority"),
    }
    label = failed[("expect_column_values_to_be_in_set", "label")]
    assert label.examples == ("spam", "spam") and label.unexpected_share == pytest.approx(2 / 12, abs=1e-6)
    assert failed[("expect_column_values_to_be_between", "score")].examples == ("7.5",)
    assert failed[("expect_column_values_to_not_be_null", "body")].examples == ("null",)
    assert result.evaluated - len(result.failed) > 0


def test_a_table_level_failure_shows_what_was_observed(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n")
    suite = tmp_path / "s.json"
    suite.write_text(json.dumps({"name": "s", "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 5}},
    ]}))
    [failure] = validate_file(data, suite).failed
    assert failure.column is None and failure.unexpected_share is None and failure.examples == ("observed 1",)


def test_missing_columns_and_wrong_types_are_clear_errors_naming_the_file(suite_file: Path, tmp_path: Path) -> None:
    no_score = tmp_path / "no_score.csv"
    no_score.write_text("subject,body,label\nInvoice,x,billing\n")
    with pytest.raises(DatasetUnreadable, match=rf"^{no_score}: missing columns priority, score that the suite 'tickets' expects$"):
        validate_file(no_score, suite_file)
    text_score = tmp_path / "text_score.csv"
    text_score.write_text("subject,body,label,score,priority\nInvoice,x,billing,high,1\n")
    with pytest.raises(DatasetUnreadable, match=rf"^{text_score}: expect_column_values_to_be_between cannot check column 'score' \(wrong type\?\)"):
        validate_file(text_score, suite_file)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such suite file"),
        ("{not json", "line 1: not JSON"),
        ('{"expectations": []}', "not a Great Expectations suite"),
        ('{"name": "s", "expectations": [{"type": "expect_the_moon", "kwargs": {}}]}', r"expectation 1 \(expect_the_moon\) is not valid"),
        (
            '{"name": "s", "expectations": [{"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},'
            ' {"type": "expect_column_values_to_be_between", "kwargs": {"colum": "a", "min_value": 1}}]}',
            r"expectation 2 \(expect_column_values_to_be_between\) is not valid",
        ),
    ],
)
def test_a_bad_suite_file_is_named_in_the_error(tmp_path: Path, content: str | None, message: str) -> None:
    suite = tmp_path / "s.json"
    if content is not None:
        suite.write_text(content)
    with pytest.raises(SuiteInvalid, match=message) as caught:
        load_suite(suite)
    assert str(caught.value).startswith(str(suite))


def test_profile_does_not_overwrite_a_reviewed_suite_unless_forced(suite_file: Path, reference: Path) -> None:
    with pytest.raises(SuiteInvalid, match="exists; choose another --out or pass --force"):
        write_suite(profile(reference, "tickets"), suite_file)
    write_suite(profile(reference, "other"), suite_file, force=True)
    assert json.loads(suite_file.read_text())["name"] == "other"


def test_a_profiled_parquet_file_with_dates_booleans_and_categories_meets_its_own_suite(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "when": pd.date_range("2026-01-01", periods=50, freq="h"),
            "flag": [True, False] * 25,
            "channel": pd.Categorical(["chat", "email"] * 25),
            "tokens": range(50),
            "cost": [0.5] * 49 + [None],
        }
    )
    frame.to_parquet(tmp_path / "d.parquet")
    suite = write_suite(profile(tmp_path / "d.parquet", "d"), tmp_path / "d.json")
    result = validate_file(tmp_path / "d.parquet", suite)
    assert result.passed and result.evaluated == 14, result.failed
