"""Tests for watch_pandas._params: definitions, validation, wire shapes, dynamic dates."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from _samples import sample_body

from watch_pandas._params import (
    DYNAMIC_RANGE_TOKENS,
    MultiValues,
    ParameterDefinition,
    adhoc_parameters,
    cache_key,
    collect_pairs,
    parse_definitions,
    placeholders,
    resolve_dynamic,
    resolve_parameters,
    to_wire,
)
from watch_pandas.errors import ParameterError, WatchError

# A Wednesday; 2024 is a leap year.
NOW = datetime(2024, 3, 13, 14, 25, 36)


def _sample_definitions(name: str) -> list[ParameterDefinition]:
    body = sample_body(name)
    return parse_definitions(body["options"]["parameters"])


def _definition(kind: str, default: object = None, **extra: object) -> ParameterDefinition:
    raw = {"name": "p", "title": "P", "type": kind, "value": default, **extra}
    return ParameterDefinition.from_json(raw)


def _error_for(definition: ParameterDefinition, value: object, **kwargs: object) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        to_wire(definition, value, now=NOW, **kwargs)
    return info.value


# --- definitions from the recorded server samples -------------------------------------------


@pytest.fixture
def demo_params() -> list[ParameterDefinition]:
    return _sample_definitions("06-query-demo-params.json")


@pytest.fixture
def ranges_multi() -> list[ParameterDefinition]:
    return _sample_definitions("06-query-example-ranges-multi.json")


def test_sample_definitions_are_parsed(demo_params, ranges_multi):
    start_date, min_price, flag, label = demo_params
    assert (start_date.name, start_date.title, start_date.type) == (
        "start_date",
        "Start date",
        "date",
    )
    assert min_price.default == 10 and min_price.type == "number"
    assert flag.enum_options == ("0", "1") and not flag.is_multi
    assert label.type == "text" and label.default == "item"

    period, kinds = ranges_multi
    assert period.is_range and period.is_date_like and not period.is_multi
    assert kinds.enum_options == ("a", "b", "c")
    assert kinds.multi == MultiValues(prefix="'", suffix="'", separator=",")
    assert kinds.is_multi and not kinds.is_date_like

    (dropdown,) = _sample_definitions("06-query-example-dropdown.json")
    assert dropdown.type == "query" and dropdown.query_id == 8 and dropdown.default == "1"


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (
            "06-query-demo-params.json",
            {"start_date": "2024-03-01", "min_price": 10, "flag": "1", "label": "item"},
        ),
        (
            "06-query-example-ranges-multi.json",
            {"period": {"start": "2024-02-01", "end": "2024-03-01"}, "kinds": ["a", "c"]},
        ),
        ("06-query-example-seconds.json", {"since": "2024-01-10 12:00:00"}),
        ("06-query-example-dropdown.json", {"f": "1"}),
    ],
)
def test_saved_defaults_of_samples_fill_every_parameter(sample, expected):
    assert resolve_parameters(_sample_definitions(sample), now=NOW) == expected


def test_given_values_override_defaults_and_are_converted(demo_params):
    wire = resolve_parameters(
        demo_params,
        {"start_date": date(2024, 1, 1), "min_price": "50", "flag": 0},
        now=NOW,
    )
    assert wire == {"start_date": "2024-01-01", "min_price": 50, "flag": "0", "label": "item"}


def test_sample_19_bad_enum_option_is_caught_before_the_server(demo_params):
    # The recorded server answered 400 "incompatible with their definitions: flag".
    with pytest.raises(ParameterError) as info:
        resolve_parameters(demo_params, {"flag": "2"}, now=NOW, query_id=2)
    error = info.value
    assert (error.name, error.value, error.query_id) == ("flag", "2", 2)
    assert error.allowed == "one of '0', '1'"
    message = str(error)
    assert "'flag'" in message and "query 2" in message
    assert "Given: '2'" in message and "'0', '1'" in message


def test_parameter_error_is_a_watch_error_and_value_error(demo_params):
    with pytest.raises(WatchError):
        resolve_parameters(demo_params, {"flag": "9"}, now=NOW)
    with pytest.raises(ValueError):
        resolve_parameters(demo_params, {"flag": "9"}, now=NOW)


def test_wire_dict_is_plain_json(demo_params, ranges_multi):
    wire = resolve_parameters(
        demo_params + ranges_multi,
        {
            "min_price": np.int64(7),
            "start_date": pd.Timestamp("2024-02-02"),
            "period": (np.datetime64("2024-01-01"), date(2024, 1, 31)),
            "kinds": ("b", "a"),
        },
        now=NOW,
    )
    assert json.loads(json.dumps(wire)) == wire
    assert type(wire["min_price"]) is int


# --- names ---------------------------------------------------------------------------------


def test_unknown_name_suggests_the_close_one(demo_params):
    with pytest.raises(ParameterError) as info:
        resolve_parameters(demo_params, {"min_prce": 3}, now=NOW, query_id=2)
    message = str(info.value)
    assert info.value.name == "min_prce"
    assert "Did you mean 'min_price'?" in message
    for known in ("start_date", "min_price", "flag", "label"):
        assert repr(known) in message
    assert "query 2" in message


def test_unknown_name_without_close_match_lists_known_names(demo_params):
    with pytest.raises(ParameterError) as info:
        resolve_parameters(demo_params, {"zzz": 1}, now=NOW)
    assert "Did you mean" not in str(info.value)
    assert "'start_date', 'min_price', 'flag', 'label'" in str(info.value)


def test_any_name_for_a_query_without_parameters_is_unknown():
    with pytest.raises(ParameterError, match="takes no parameters"):
        resolve_parameters([], {"x": 1})


# --- missing values and saved defaults -------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["number", "enum", "date", "date-range", "datetime-local", "query"]
)
@pytest.mark.parametrize("default", [None, ""])
def test_no_saved_default_and_not_given_is_missing(kind, default):
    definition = _definition(kind, default, enumOptions="a\nb")
    with pytest.raises(ParameterError) as info:
        resolve_parameters([definition], now=NOW, query_id=5)
    assert "missing value" in str(info.value)
    assert info.value.name == "p" and info.value.query_id == 5
    assert info.value.allowed == definition.describe_allowed()


def test_multi_enum_with_empty_saved_default_is_missing():
    definition = _definition("enum", [], enumOptions="a\nb", multiValuesOptions={})
    with pytest.raises(ParameterError, match="missing value"):
        resolve_parameters([definition], now=NOW)


def test_text_without_default_is_sent_as_empty_string():
    assert resolve_parameters([_definition("text", None)]) == {"p": ""}
    assert resolve_parameters([_definition("text", "")]) == {"p": ""}


def test_missing_value_can_be_given():
    assert resolve_parameters([_definition("number", None)], {"p": 3}) == {"p": 3}


def test_invalid_saved_default_says_so():
    definition = _definition("enum", "gone", enumOptions="a\nb")
    with pytest.raises(ParameterError) as info:
        resolve_parameters([definition], now=NOW)
    assert "Invalid saved default for parameter 'p'" in str(info.value)
    assert "'gone'" in str(info.value)


def test_none_given_is_refused_with_a_hint():
    with pytest.raises(ParameterError, match="leave the name out"):
        resolve_parameters([_definition("number", 1)], {"p": None})
    with pytest.raises(ParameterError, match="pass '' for an empty string"):
        resolve_parameters([_definition("text", "x")], {"p": None})


# --- text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [("abc", "abc"), ("", ""), (42, "42"), ("ü'\n", "ü'\n"), (np.int64(42), "42")],
)
def test_text_values(value, wire):
    assert to_wire(_definition("text"), value) == wire


@pytest.mark.parametrize("value", [1.5, True, Decimal("1"), b"abc", ["a"]])
def test_text_refuses_non_strings(value):
    error = _error_for(_definition("text"), value)
    assert "takes a str" in str(error) and type(value).__name__ in str(error)
    assert error.value is value and error.allowed == "a string"


def test_text_pattern_full_match():
    definition = _definition("text-pattern", "AB-1", regex=r"[A-Z]{2}-\d+")
    assert to_wire(definition, "XY-42") == "XY-42"
    error = _error_for(definition, "XY-42x")  # a prefix match is not enough
    assert "does not fully match" in str(error)
    assert r"'[A-Z]{2}-\\d+'" in error.allowed


def test_text_pattern_with_broken_regex_is_reported():
    error = _error_for(_definition("text-pattern", regex="(["), "x")
    assert "not a valid regex" in str(error)


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (5, 5),
        (-2.5, -2.5),
        ("50", 50),
        (" 7 ", 7),
        ("1e3", 1000),
        ("0.25", 0.25),
        (Decimal("1.50"), 1.5),
        (Decimal("12345678901234567890.123456789"), "12345678901234567890.123456789"),
        (2**70, 2**70),
        (np.int64(9), 9),
        (np.float32(0.5), 0.5),
    ],
)
def test_number_values(value, wire):
    result = to_wire(_definition("number"), value)
    assert result == wire and type(result) is type(wire)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (True, "bool"),
        (float("nan"), "NaN"),
        (float("inf"), "NaN and infinity"),
        ("nan", "NaN"),
        (Decimal("Infinity"), "NaN"),
        ("abc", "not a number"),
        ("", "not a number"),
        ([1], "list"),
        (date(2024, 1, 1), "date"),
    ],
)
def test_number_refusals(value, problem):
    error = _error_for(_definition("number"), value, query_id=7)
    message = str(error)
    assert problem in message
    assert "'p'" in message and "query 7" in message and "Allowed: a number" in message


# --- enums and dropdowns -------------------------------------------------------------------


@pytest.fixture
def enum_single() -> ParameterDefinition:
    return _definition("enum", "1", enumOptions="1\n2\nthree")


@pytest.fixture
def enum_multi() -> ParameterDefinition:
    return _definition(
        "enum",
        ["1"],
        enumOptions="1\n2\nthree",
        multiValuesOptions={"prefix": '"', "suffix": '"', "separator": ","},
    )


def test_enum_single_values(enum_single):
    assert to_wire(enum_single, "three") == "three"
    assert to_wire(enum_single, 2) == "2"
    assert to_wire(enum_single, np.int32(1)) == "1"


def test_enum_option_not_listed(enum_single):
    error = _error_for(enum_single, "four", query_id=3)
    assert "'four' is not one of the options" in str(error)
    assert error.allowed == "one of '1', '2', 'three'"


def test_enum_single_refuses_a_list(enum_single):
    error = _error_for(enum_single, ["1", "2"])
    assert "single value, not a list" in str(error)


@pytest.mark.parametrize("value", [1.0, True, None])
def test_enum_refuses_other_types(enum_single, value):
    with pytest.raises(ParameterError):
        to_wire(enum_single, value)


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (["three", "1"], ["three", "1"]),
        (("2",), ["2"]),
        ([1, "2"], ["1", "2"]),
        ("three", ["three"]),
        (2, ["2"]),
        (["it's"], None),
    ],
)
def test_enum_multi_values(enum_multi, value, wire):
    if wire is None:
        with pytest.raises(ParameterError, match="is not one of the options"):
            to_wire(enum_multi, value)
    else:
        assert to_wire(enum_multi, value) == wire


def test_enum_multi_accepts_arrays_and_series(enum_multi):
    assert to_wire(enum_multi, np.array(["2", "three"])) == ["2", "three"]
    assert to_wire(enum_multi, pd.Series([1, 2]).unique()) == ["1", "2"]
    assert to_wire(enum_multi, pd.Series(["three"])) == ["three"]


def test_enum_multi_with_quote_in_options():
    definition = _definition(
        "enum", ["it's"], enumOptions="it's\nplain", multiValuesOptions={"prefix": "'"}
    )
    assert definition.multi == MultiValues(prefix="'", suffix="", separator=",")
    assert resolve_parameters([definition], {"p": ["plain", "it's"]}) == {"p": ["plain", "it's"]}


def test_enum_multi_refusals(enum_multi):
    assert "at least one value" in str(_error_for(enum_multi, []))
    assert "pass a list" in str(_error_for(enum_multi, {"1", "2"}))
    error = _error_for(enum_multi, ["1", "nine"])
    assert "'nine' is not one of the options" in str(error)
    assert error.allowed == "a list of values, each one of '1', '2', 'three'"


def test_a_query_dropdown_without_a_source_query_is_left_to_the_server():
    """No queryId: the only list at hand (the query's own /dropdown) is the wrong one."""
    definition = _definition("query", "a")
    asked = []

    def options(d):
        asked.append(d.name)
        return ["1"]

    assert resolve_parameters([definition], {"p": "7"}, dropdown_options=options) == {"p": "7"}
    assert asked == []


def test_query_dropdown_checks_callback_options_once():
    definition = _definition("query", "a", queryId=8)
    calls = []

    def options(defn: ParameterDefinition) -> list[object]:
        calls.append(defn.query_id)
        return ["a", "b", 3]

    assert resolve_parameters([definition], {"p": 3}, dropdown_options=options) == {"p": "3"}
    assert calls == [8]
    with pytest.raises(ParameterError) as info:
        resolve_parameters([definition], {"p": "z"}, dropdown_options=options, query_id=10)
    assert info.value.allowed == "one of 'a', 'b', '3'"
    assert "query 10" in str(info.value)


def test_query_dropdown_without_callback_skips_membership():
    definition = _definition("query", "a", queryId=8)
    assert resolve_parameters([definition], {"p": "anything"}) == {"p": "anything"}
    assert definition.describe_allowed() == "a value of dropdown query 8"


def test_query_dropdown_multi():
    definition = _definition("query", ["a"], queryId=8, multiValuesOptions={"prefix": "'"})
    wire = resolve_parameters([definition], {"p": ["b", "a"]}, dropdown_options=lambda d: "ab")
    assert wire == {"p": ["b", "a"]}


# --- single dates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        date(2024, 1, 5),
        datetime(2024, 1, 5),
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-01-05", tz="Asia/Tokyo"),
        np.datetime64("2024-01-05"),
        np.datetime64("2024-01-05T00:00:00.000000000"),
        "2024-01-05",
        " 2024-01-05 ",
        "2024-01-05T00:00",
        "2024-01-05 00:00:00",
    ],
)
def test_date_accepts_natural_values(value):
    assert to_wire(_definition("date"), value) == "2024-01-05"


def test_date_far_future_survives():
    assert to_wire(_definition("date"), date(9999, 12, 31)) == "9999-12-31"
    assert to_wire(_definition("date"), np.datetime64("9999-12-31")) == "9999-12-31"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (datetime(2024, 1, 5, 10, 0), "has a time of day"),
        (pd.Timestamp("2024-01-05 00:00:00.000000001"), "has a time of day"),
        ("2024-13-45", "not a real date"),
        ("2024-02-30", "not a real date"),
        ("05/01/2024", "not in a recognised format"),
        ("2024-1-5", "not in a recognised format"),
        (20240105, "is a int"),
        (pd.NaT, "NaT"),
        (np.datetime64("NaT"), "NaT"),
        ("d_last_7_days", "not a dynamic value"),
    ],
)
def test_date_refusals_name_the_format(value, problem):
    error = _error_for(_definition("date"), value, query_id=4)
    message = str(error)
    assert problem in message
    assert "YYYY-MM-DD" in message and "'p'" in message and "query 4" in message
    assert "YYYY-MM-DD" in error.allowed


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (datetime(2024, 1, 5, 10, 30), "2024-01-05 10:30"),
        (date(2024, 1, 5), "2024-01-05 00:00"),
        ("2024-01-05T10:30", "2024-01-05 10:30"),
        ("2024-01-05 10:30:00", "2024-01-05 10:30"),
        ("2024-01-05T10:30:00.000Z", "2024-01-05 10:30"),
        (pd.Timestamp("2024-01-05 10:30"), "2024-01-05 10:30"),
        (np.datetime64("2024-01-05T10:30"), "2024-01-05 10:30"),
        # tz-aware: its own wall time, no conversion
        (datetime(2024, 1, 5, 10, 30, tzinfo=timezone(timedelta(hours=5))), "2024-01-05 10:30"),
        (pd.Timestamp("2024-01-05 10:30", tz="America/New_York"), "2024-01-05 10:30"),
        ("2024-01-05T10:30+02:00", "2024-01-05 10:30"),
    ],
)
def test_datetime_local_values(value, wire):
    assert to_wire(_definition("datetime-local"), value) == wire


@pytest.mark.parametrize(
    "value", [datetime(2024, 1, 5, 10, 30, 15), "2024-01-05 10:30:15", "2024-01-05T10:30:00.5"]
)
def test_datetime_local_refuses_to_drop_seconds(value):
    error = _error_for(_definition("datetime-local"), value)
    message = str(error)
    assert "has seconds" in message and "datetime-with-seconds" in message
    assert "YYYY-MM-DD HH:mm" in error.allowed


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (datetime(2024, 1, 5, 10, 30, 15), "2024-01-05 10:30:15"),
        ("2024-01-05 10:30:15", "2024-01-05 10:30:15"),
        ("2024-01-05T10:30:15.000", "2024-01-05 10:30:15"),
        ("2024-01-05T10:30", "2024-01-05 10:30:00"),
        (date(2024, 1, 5), "2024-01-05 00:00:00"),
        (pd.Timestamp("2024-01-05 10:30:15"), "2024-01-05 10:30:15"),
    ],
)
def test_datetime_with_seconds_values(value, wire):
    assert to_wire(_definition("datetime-with-seconds"), value) == wire


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 1, 5, 10, 30, 15, 500),
        pd.Timestamp("2024-01-05 10:30:15.000000001"),
        np.datetime64("2024-01-05T10:30:15.000000001"),
        "2024-01-05 10:30:15.25",
        "2024-01-05 10:30:15.000000001",
    ],
)
def test_datetime_with_seconds_refuses_fractions(value):
    error = _error_for(_definition("datetime-with-seconds"), value)
    assert "fraction of a second" in str(error)


@pytest.mark.parametrize(
    "value", ["2024-01-05 25:00", "2024-01-05 10:61:00", "2024-01-05 10:30:60"]
)
def test_impossible_times(value):
    error = _error_for(_definition("datetime-with-seconds"), value)
    assert "not a real date and time" in str(error)
    assert "YYYY-MM-DD HH:mm:ss" in str(error)


# --- ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        ("2024-01-01", "2024-01-31"),
        [date(2024, 1, 1), date(2024, 1, 31)],
        {"start": pd.Timestamp("2024-01-01"), "end": np.datetime64("2024-01-31")},
        (date(2024, 1, 1), "2024-01-31T00:00:00"),
    ],
)
def test_date_range_values(value):
    wire = to_wire(_definition("date-range"), value)
    assert wire == {"start": "2024-01-01", "end": "2024-01-31"}


def test_range_from_pandas_values():
    index = pd.to_datetime(["2024-01-01 08:00", "2024-01-02 17:45"])
    assert to_wire(_definition("datetime-range"), index) == {
        "start": "2024-01-01 08:00",
        "end": "2024-01-02 17:45",
    }
    days = np.array(["2024-01-01", "2024-01-31"], dtype="datetime64[D]")
    assert to_wire(_definition("date-range"), days) == {"start": "2024-01-01", "end": "2024-01-31"}


def test_single_day_range_is_fine():
    assert to_wire(_definition("date-range"), ("2024-01-01", "2024-01-01")) == {
        "start": "2024-01-01",
        "end": "2024-01-01",
    }


def test_datetime_range_types():
    pair = (datetime(2024, 1, 1, 8, 0), pd.Timestamp("2024-01-02 17:45"))
    assert to_wire(_definition("datetime-range"), pair) == {
        "start": "2024-01-01 08:00",
        "end": "2024-01-02 17:45",
    }
    assert to_wire(_definition("datetime-range-with-seconds"), pair) == {
        "start": "2024-01-01 08:00:00",
        "end": "2024-01-02 17:45:00",
    }


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        (
            "date-range",
            ("2024-02-01", "2024-01-01"),
            "start 2024-02-01 is after the end 2024-01-01",
        ),
        ("datetime-range", ("2024-01-01 10:00", "2024-01-01 09:59"), "is after the end"),
        ("date-range", ("2024-01-01",), "(start, end) pair"),
        ("date-range", ("2024-01-01", "2024-01-02", "2024-01-03"), "(start, end) pair"),
        ("date-range", "2024-01-01", "(start, end) pair"),
        ("date-range", {"start": "2024-01-01"}, "exactly the keys 'start' and 'end'"),
        ("date-range", {"from": "2024-01-01", "to": "2024-01-02"}, "exactly the keys"),
        ("date-range", ("2024-01-01", "2024-02-30"), "the end is not a real date"),
        ("datetime-range", (datetime(2024, 1, 1, 0, 0, 1), "2024-01-02"), "the start has seconds"),
        ("date-range", "d_now", "not a dynamic value"),
        ("date-range", "d_next_week", "not a dynamic value"),
    ],
)
def test_range_refusals(kind, value, problem):
    error = _error_for(_definition(kind), value, query_id=9)
    message = str(error)
    assert problem in message
    assert "'p'" in message and "query 9" in message and "(start, end) pair" in error.allowed


# --- dynamic values ------------------------------------------------------------------------

# Expected by hand for NOW = Wednesday 2024-03-13 14:25:36, weeks starting on Sunday.
EXPECTED_DATE_RANGES = {
    "d_today": ("2024-03-13", "2024-03-13"),
    "d_yesterday": ("2024-03-12", "2024-03-12"),
    "d_this_week": ("2024-03-10", "2024-03-16"),
    "d_this_month": ("2024-03-01", "2024-03-31"),
    "d_this_year": ("2024-01-01", "2024-12-31"),
    "d_last_week": ("2024-03-03", "2024-03-09"),
    "d_last_month": ("2024-02-01", "2024-02-29"),
    "d_last_year": ("2023-01-01", "2023-12-31"),
    "d_last_hour": ("2024-03-13", "2024-03-13"),
    "d_last_8_hours": ("2024-03-13", "2024-03-13"),
    "d_last_24_hours": ("2024-03-12", "2024-03-13"),
    "d_last_7_days": ("2024-03-06", "2024-03-13"),
    "d_last_14_days": ("2024-02-28", "2024-03-13"),
    "d_last_30_days": ("2024-02-12", "2024-03-13"),
    "d_last_60_days": ("2024-01-13", "2024-03-13"),
    "d_last_90_days": ("2023-12-14", "2024-03-13"),
    "d_last_12_months": ("2023-03-13", "2024-03-13"),
    "d_last_2_years": ("2022-03-13", "2024-03-13"),
    "d_last_3_years": ("2021-03-13", "2024-03-13"),
    "d_last_10_years": ("2014-03-13", "2024-03-13"),
}

EXPECTED_SECOND_RANGES = {
    "d_today": ("2024-03-13 00:00:00", "2024-03-13 23:59:59"),
    "d_this_week": ("2024-03-10 00:00:00", "2024-03-16 23:59:59"),
    "d_last_month": ("2024-02-01 00:00:00", "2024-02-29 23:59:59"),
    "d_last_hour": ("2024-03-13 13:25:36", "2024-03-13 14:25:36"),
    "d_last_8_hours": ("2024-03-13 06:25:36", "2024-03-13 14:25:36"),
    "d_last_24_hours": ("2024-03-12 14:25:36", "2024-03-13 14:25:36"),
    "d_last_7_days": ("2024-03-06 00:00:00", "2024-03-13 23:59:59"),
}


def test_every_range_token_has_an_expectation():
    assert set(EXPECTED_DATE_RANGES) == set(DYNAMIC_RANGE_TOKENS)


@pytest.mark.parametrize(("token", "expected"), sorted(EXPECTED_DATE_RANGES.items()))
def test_dynamic_date_ranges(token, expected):
    start, end = expected
    assert resolve_dynamic(token, _definition("date-range"), now=NOW) == {
        "start": start,
        "end": end,
    }


@pytest.mark.parametrize(("token", "expected"), sorted(EXPECTED_SECOND_RANGES.items()))
def test_dynamic_datetime_ranges_with_seconds(token, expected):
    start, end = expected
    definition = _definition("datetime-range-with-seconds")
    assert resolve_dynamic(token, definition, now=NOW) == {"start": start, "end": end}


def test_dynamic_minute_range_truncates_like_the_web_ui():
    definition = _definition("datetime-range")
    assert resolve_dynamic("d_last_hour", definition, now=NOW) == {
        "start": "2024-03-13 13:25",
        "end": "2024-03-13 14:25",
    }
    assert resolve_dynamic("d_yesterday", definition, now=NOW) == {
        "start": "2024-03-12 00:00",
        "end": "2024-03-12 23:59",
    }


def test_week_starts_on_sunday_even_on_a_sunday():
    sunday = datetime(2024, 3, 17, 9, 0)
    definition = _definition("date-range")
    assert resolve_dynamic("d_this_week", definition, now=sunday) == {
        "start": "2024-03-17",
        "end": "2024-03-23",
    }
    assert resolve_dynamic("d_last_week", definition, now=sunday) == {
        "start": "2024-03-10",
        "end": "2024-03-16",
    }


@pytest.mark.parametrize(
    ("now", "token", "start"),
    [
        (datetime(2024, 3, 31, 12), "d_last_month", "2024-02-01"),
        (datetime(2024, 2, 29, 12), "d_last_2_years", "2022-02-28"),
        (datetime(2024, 2, 29, 12), "d_last_12_months", "2023-02-28"),
        (datetime(2024, 1, 10, 12), "d_last_month", "2023-12-01"),
        (datetime(2024, 1, 1, 0, 30), "d_last_hour", "2023-12-31"),
    ],
)
def test_dynamic_month_and_year_arithmetic_clamps(now, token, start):
    assert resolve_dynamic(token, _definition("date-range"), now=now)["start"] == start


@pytest.mark.parametrize(
    ("kind", "token", "wire"),
    [
        ("date", "d_now", "2024-03-13"),
        ("date", "d_yesterday", "2024-03-12"),
        ("datetime-local", "d_now", "2024-03-13 14:25"),
        ("datetime-local", "d_yesterday", "2024-03-12 14:25"),
        ("datetime-with-seconds", "d_now", "2024-03-13 14:25:36"),
        ("datetime-with-seconds", "d_yesterday", "2024-03-12 14:25:36"),
    ],
)
def test_dynamic_single_dates(kind, token, wire):
    assert resolve_dynamic(token, _definition(kind), now=NOW) == wire


def test_dynamic_uses_the_wall_time_of_an_aware_now():
    aware = datetime(2024, 3, 13, 23, 30, tzinfo=timezone(timedelta(hours=-8)))
    assert resolve_dynamic("d_now", _definition("date"), now=aware) == "2024-03-13"


def test_dynamic_saved_defaults_and_given_tokens_are_resolved():
    definitions = [
        _definition("date-range", "d_last_7_days"),
        ParameterDefinition.from_json({"name": "day", "type": "date", "value": "d_yesterday"}),
    ]
    assert resolve_parameters(definitions, now=NOW) == {
        "p": {"start": "2024-03-06", "end": "2024-03-13"},
        "day": "2024-03-12",
    }
    given = resolve_parameters(definitions, {"p": "d_this_month", "day": "d_now"}, now=NOW)
    assert given == {"p": {"start": "2024-03-01", "end": "2024-03-31"}, "day": "2024-03-13"}


def test_wrong_dynamic_token_lists_the_right_ones():
    with pytest.raises(ParameterError) as info:
        resolve_dynamic("d_last_7_days", _definition("date"), now=NOW)
    assert info.value.allowed == "one of d_now, d_yesterday"
    with pytest.raises(ParameterError) as info:
        resolve_dynamic("d_now", _definition("number"), now=NOW)
    assert "only date parameters" in info.value.allowed


def test_default_now_is_the_local_clock():
    before = date.today()
    wire = resolve_parameters([_definition("date", "d_now")])
    assert wire["p"] in {before.isoformat(), date.today().isoformat()}


# --- describe_allowed, unknown types, cache keys, error text --------------------------------


def test_describe_allowed_per_type():
    assert _definition("enum", enumOptions="a\nb").describe_allowed() == "one of 'a', 'b'"
    assert _definition("date").describe_allowed().startswith("a date as YYYY-MM-DD")
    assert "YYYY-MM-DD HH:mm:ss" in _definition("datetime-with-seconds").describe_allowed()
    assert "d_last_7_days" in _definition("datetime-range").describe_allowed()
    assert _definition("number").describe_allowed().startswith("a number")
    many = _definition("enum", enumOptions="\n".join(str(i) for i in range(30)))
    assert many.describe_allowed().endswith("(and 10 more)")


def test_properties_by_type():
    assert _definition("datetime-range-with-seconds").is_range
    assert not _definition("date").is_range and _definition("date").is_date_like
    assert not _definition("enum", enumOptions="a").is_multi
    assert not _definition("text", multiValuesOptions={"prefix": ""}).is_multi
    assert not _definition("future-type").is_known_type


def test_unknown_parameter_type_passes_values_through():
    definition = _definition("geo-point", {"lat": 1})
    assert resolve_parameters([definition]) == {"p": {"lat": 1}}
    assert resolve_parameters([definition], {"p": [1, 2]}) == {"p": [1, 2]}


def test_definition_without_name_is_refused():
    with pytest.raises(ParameterError, match="no name"):
        parse_definitions([{"type": "text"}])


def test_long_values_are_cut_in_messages():
    error = _error_for(_definition("enum", enumOptions="a"), "x" * 500)
    given = str(error).split("Given: ", 1)[1].split(". Allowed", 1)[0]
    assert len(given) <= 80 and given.endswith("...")
    assert error.value == "x" * 500


def test_cache_key_is_canonical():
    first = {"b": ["x", "y"], "a": {"start": "2024-01-01", "end": "2024-01-02"}, "n": 1}
    second = {"n": 1, "a": {"end": "2024-01-02", "start": "2024-01-01"}, "b": ["x", "y"]}
    assert cache_key(first) == cache_key(second)
    assert json.loads(cache_key(first)) == first
    assert " " not in cache_key(first)
    assert cache_key(first) != cache_key({**first, "b": ["y", "x"]})
    assert cache_key({"t": "ü"}) == '{"t":"ü"}'


# --- collect_pairs (command line and magics) ----------------------------------------------------
def test_collect_pairs_makes_lists_and_ranges():
    pairs = [("a", "1"), ("m", "x"), ("m", "y"), ("m", "z"), ("p.start", "s"), ("p.end", "e")]
    assert collect_pairs(pairs) == {
        "a": "1",
        "m": ["x", "y", "z"],
        "p": {"start": "s", "end": "e"},
    }


def test_collect_pairs_refuses_a_value_and_a_range_for_one_name():
    with pytest.raises(ParameterError, match="both as a value and as a range") as info:
        collect_pairs([("p", "1"), ("p.start", "2")])
    assert info.value.name == "p"


# --- ad-hoc SQL parameters ------------------------------------------------------------------
def test_adhoc_tuple_is_a_range_only_where_the_sql_uses_start_and_end():
    sql = "SELECT * FROM t WHERE d BETWEEN '{{ p.start }}' AND '{{ p.end }}' AND s IN ({{ s }})"
    wire = adhoc_parameters(sql, {"p": (date(2024, 1, 1), "2024-01-31"), "s": ("'a'", "'b'")})
    assert wire == {"p": {"start": "2024-01-01", "end": "2024-01-31"}, "s": ["'a'", "'b'"]}
    assert placeholders(sql) == ["p", "s"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"x", "y"}, "a set has no order"),
        (True, "ambiguous"),
        (object(), "cannot send"),
    ],
)
def test_adhoc_values_that_cannot_be_sent_are_refused(value, problem):
    with pytest.raises(ParameterError, match=problem) as info:
        adhoc_parameters("SELECT {{ v }}", {"v": value})
    assert info.value.name == "v"


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"p": {"a": float("nan")}}, "p.a"),
        ({"p": {"a": {"b": None}}}, "p.a.b"),
        ({"p": [1, float("inf")]}, "p[1]"),
        ({"p": object()}, "p"),
    ],
)
def test_an_adhoc_refusal_names_the_value_and_shows_the_parameters_own_name(given, named):
    with pytest.raises(ParameterError) as info:
        adhoc_parameters("SELECT '{{ p }}'", given)
    message = str(info.value)
    assert f"Parameter {named!r} of the SQL" in message and info.value.name == "p"
    assert "{{ p.key }}" in message and "{{ p.start }}" in message and "x." not in message
    assert "a object" not in message


def test_adhoc_range_needs_a_pair():
    with pytest.raises(ParameterError, match="as a range"):
        adhoc_parameters("SELECT '{{ p.start }}'", {"p": "2024-01-01"})


def test_adhoc_datetimes_keep_their_precision_and_midnight_means_a_day():
    wire = adhoc_parameters(
        "SELECT {{ a }}, {{ b }}, {{ c }}",
        {
            "a": pd.Timestamp("2024-02-01"),
            "b": datetime(2024, 2, 1, 9, 30, 5, 120000),
            "c": np.int64(7),
        },
    )
    assert wire == {"a": "2024-02-01", "b": "2024-02-01 09:30:05.120000", "c": 7}


def test_a_saved_default_finer_than_its_type_is_sent_as_the_web_ui_sends_it():
    """A default the server stored with seconds must not make the query unreadable."""
    minute = ParameterDefinition.from_json(
        {"name": "at", "title": "At", "type": "datetime-local", "value": "2024-01-10 12:00:30"}
    )
    day = ParameterDefinition.from_json(
        {
            "name": "d",
            "title": "D",
            "type": "date-range",
            "value": {"start": "2024-01-01 10:00", "end": "2024-01-31"},
        }
    )
    assert resolve_parameters([minute, day], now=NOW) == {
        "at": "2024-01-10 12:00",
        "d": {"start": "2024-01-01", "end": "2024-01-31"},
    }
    # the same precision given by the caller is still refused
    with pytest.raises(ParameterError, match="keeps minutes only"):
        resolve_parameters([minute], {"at": "2024-01-10 12:00:30"}, now=NOW)


def test_adhoc_years_before_1000_keep_four_digits():
    wire = adhoc_parameters("SELECT {{ t }}", {"t": datetime(999, 1, 2, 3, 4, 5)})
    assert wire == {"t": "0999-01-02 03:04:05"}


def test_saved_values_are_formatted_like_saved_defaults_and_given_ones_checked():
    """A dashboard's shared default or static value is the server's saved setting: formatted
    to the parameter's precision, as the web UI does; the caller's own value is refused."""
    definitions = parse_definitions(
        [{"name": "day", "title": "Day", "type": "date", "value": "2024-01-01"}]
    )
    given = {"day": "2024-03-01 10:30"}
    assert resolve_parameters(definitions, given, now=NOW, saved={"day"}) == {"day": "2024-03-01"}
    with pytest.raises(ParameterError, match="time of day"):
        resolve_parameters(definitions, given, now=NOW)


def test_a_saved_value_that_does_not_fit_says_where_it_came_from():
    definitions = parse_definitions(
        [{"name": "sym", "title": "Sym", "type": "enum", "enumOptions": "DAI", "value": "DAI"}]
    )
    with pytest.raises(ParameterError, match="Invalid saved dashboard value for parameter 'sym'"):
        resolve_parameters(definitions, {"sym": "WETH"}, now=NOW, saved={"sym"}, query_id=3)
    with pytest.raises(ParameterError, match="Invalid value for parameter 'sym'"):
        resolve_parameters(definitions, {"sym": "WETH"}, now=NOW, query_id=3)


def test_adhoc_placeholders_may_have_spaces_and_non_ascii_like_the_servers_mustache():
    sql = (
        "SELECT {{ my param }}, '{{ prix € }}', '{{ período.start }}', '{{período.end}}',"
        " {{{ raw one }}}, {{& amp }} {{! not a parameter }}"
    )
    assert placeholders(sql) == ["my param", "prix €", "período", "raw one", "amp"]
    wire = adhoc_parameters(
        sql,
        {
            "my param": 1,
            "prix €": "x",
            "período": ("2024-01-01", "2024-02-01"),
            "raw one": 2,
            "amp": "y",
        },
    )
    assert wire["período"] == {"start": "2024-01-01", "end": "2024-02-01"}
    assert wire["my param"] == 1


def test_adhoc_dotted_placeholders_read_nested_values_like_mustache():
    """{{ p.foo }} reads key "foo" of the value of "p": a dict, or NAME.KEY=VALUE pairs."""
    sql = "SELECT {{ p.foo }}, '{{ p.bar }}', {{ дата }}"
    wanted = {"p": {"foo": 1, "bar": "x"}, "дата": "2024-01-01"}
    assert placeholders(sql) == ["p", "дата"]
    assert adhoc_parameters(sql, wanted) == wanted
    # the command line and %%watch give "p.foo=1" pairs: the same nested value
    flat = collect_pairs([("p.foo", 1), ("p.bar", "x"), ("дата", "2024-01-01")])
    assert adhoc_parameters(sql, flat) == wanted


@pytest.mark.parametrize(
    ("given", "missing", "to_pass"),
    [
        ({"дата": 1}, "'p'", "params={'p': {'foo': ...}}"),
        ({"дата": 1, "p": {"bar": 2}}, "'p.foo'", "params={'p': {'foo': ...}}"),
        ({"p": {"foo": 2}}, "'дата'", "params={'дата': ...}"),
    ],
)
def test_a_missing_adhoc_value_says_what_to_pass_not_saved_defaults(given, missing, to_pass):
    with pytest.raises(ParameterError) as info:
        adhoc_parameters("SELECT {{ p.foo }}, {{ дата }}", given)
    message = str(info.value)
    assert missing in message and to_pass in message
    assert "default" not in message


def test_adhoc_names_follow_what_the_server_requires():
    """The server requires {{ x }} and sections {{# x }}; a literal {{{ x }}}, {{& x }} or an
    inverted section {{^ x }} without a value renders as empty text, so they are optional."""
    sql = "SELECT {{ v }} {{#s}}, 1{{/s}} {{^i}}, 2{{/i}} {{{ lit }}} {{& amp }} {{! note }}"
    assert placeholders(sql) == ["v", "s", "i", "lit", "amp"]
    with pytest.raises(ParameterError, match="'s'"):
        adhoc_parameters(sql, {"v": 1})
    assert adhoc_parameters(sql, {"v": 1, "s": "yes"}) == {"v": 1, "s": "yes"}
    every = {"v": 1, "s": "yes", "i": "", "lit": "x", "amp": 2}
    assert adhoc_parameters(sql, every) == every
    with pytest.raises(ParameterError, match="'note'"):
        adhoc_parameters(sql, {"v": 1, "s": "yes", "note": 1})  # a comment is no parameter


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (float("nan"), "NaN"),
        (np.float64("inf"), "infinity"),
        (Decimal("NaN"), "NaN"),
        (Decimal("-Infinity"), "infinity"),
        (Decimal("sNaN"), "NaN"),
        (pd.NaT, "NaT"),
        (np.datetime64("NaT"), "NaT"),
        (None, "None"),
        (pd.NA, "NA"),
        (np.bool_(True), "bool"),
        ([1.0, float("nan")], "NaN"),
    ],
)
def test_adhoc_values_with_no_sql_text_are_parameter_errors_naming_them(value, problem):
    with pytest.raises(ParameterError) as info:
        adhoc_parameters("SELECT {{ v }}", {"v": value})
    message = str(info.value)
    assert problem in message and "Given:" in message
    assert "'v'" in message or "'v[1]'" in message  # a list item is named by its position
    assert info.value.name == "v"


def test_adhoc_numpy_datetimes_keep_their_precision():
    wire = adhoc_parameters(
        "SELECT {{ a }}, {{ b }}, {{ c }}",
        {
            "a": np.datetime64("2024-01-01T00:00:00.000000001"),
            "b": np.datetime64("2024-02-01"),
            "c": np.datetime64("2024-02-01T09:30:05"),
        },
    )
    assert wire == {
        "a": "2024-01-01 00:00:00.000000001",
        "b": "2024-02-01",
        "c": "2024-02-01 09:30:05",
    }


def test_numpy_strings_reach_the_wire_as_plain_str():
    """``df[col].unique()`` gives numpy strings; the wire values (and so df.attrs) are str."""
    definitions = parse_definitions(
        [
            {"name": "t", "type": "text", "value": "a"},
            {"name": "e", "type": "enum", "enumOptions": "A\nB", "value": "A"},
            {
                "name": "m",
                "type": "enum",
                "enumOptions": "A\nB",
                "value": ["A"],
                "multiValuesOptions": {"prefix": "", "suffix": "", "separator": ","},
            },
        ]
    )
    given = {"t": np.str_("x"), "e": np.str_("B"), "m": np.array(["A", "B"])}
    wire = resolve_parameters(definitions, given)
    assert wire == {"t": "x", "e": "B", "m": ["A", "B"]}
    assert [type(v) for v in (wire["t"], wire["e"], *wire["m"])] == [str] * 4


@pytest.mark.parametrize("given", [[1], ("a", 1), "min_price=5", 5])
def test_params_that_are_not_a_mapping_are_a_parameter_error(given):
    definitions = parse_definitions([{"name": "min_price", "type": "number", "value": 1}])
    for check in (
        lambda: resolve_parameters(definitions, given, query_id=6),
        lambda: adhoc_parameters("SELECT {{ min_price }}", given),
    ):
        with pytest.raises(ParameterError) as info:
            check()
        message = str(info.value)
        assert "params must be a dict of parameter name → value" in message
        assert type(given).__name__ in message


@pytest.mark.parametrize(
    ("kind", "end"),
    [
        ("datetime-range", "2024-01-31 23:59"),
        ("datetime-range-with-seconds", "2024-01-31 23:59:59"),
    ],
)
@pytest.mark.parametrize("given", ["2024-01-31", date(2024, 1, 31)])
def test_a_date_only_end_of_a_datetime_range_is_the_end_of_that_day(kind, end, given):
    # Inclusive ends, as the web UI's ranges are: a day given as the end covers the whole day.
    wire = to_wire(_definition(kind), ("2024-01-01", given))
    assert wire["end"] == end
    assert wire["start"] == ("2024-01-01 00:00" if "seconds" not in kind else "2024-01-01 00:00:00")


def test_an_end_with_a_time_is_kept_as_given():
    wire = to_wire(_definition("datetime-range"), ("2024-01-01", "2024-01-31 00:00"))
    assert wire["end"] == "2024-01-31 00:00"
    one_day = to_wire(_definition("datetime-range"), ("2024-01-31", "2024-01-31"))
    assert one_day == {"start": "2024-01-31 00:00", "end": "2024-01-31 23:59"}
