"""Parameter definitions inferred from a cell's ``{{ }}`` placeholders and the values it ran
with (``_params._infer``): the saved JSON of each type as the web UI writes it (samples 06-*),
the values as defaults, and refusals for what no saved type can hold."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from _samples import sample_body

from watch_pandas._params import infer_definitions, parse_definitions, resolve_parameters
from watch_pandas.errors import ParameterError


def _by_name(definitions: list[dict]) -> dict[str, dict]:
    return {d["name"]: d for d in definitions}


def test_each_type_is_inferred_with_the_value_as_default():
    sql = (
        "SELECT * FROM t WHERE d = '{{ day }}' AND ts >= '{{ since }}' AND ts < '{{ stamp }}'"
        " AND n > {{ min_price }} AND f < {{ ratio }} AND label = '{{ label }}'"
        " AND k IN ({{ kinds }}) AND d BETWEEN '{{ period.start }}' AND '{{ period.end }}'"
        " AND ts BETWEEN '{{ window.start }}' AND '{{ window.end }}'"
    )
    params = {
        "day": date(2024, 3, 1),
        "since": datetime(2024, 1, 10, 12, 0, 0),
        "stamp": pd.Timestamp("2024-02-01"),  # a day, as the ad-hoc run sent it
        "min_price": 10,
        "ratio": 0.5,
        "label": "item",
        "kinds": ["a", "c"],
        "period": (date(2024, 2, 1), date(2024, 3, 1)),
        "window": {"start": datetime(2024, 1, 1, 9, 30), "end": datetime(2024, 1, 2, 9, 30, 5)},
    }

    got = _by_name(infer_definitions(sql, params))

    assert list(got) == [
        "day", "since", "stamp", "min_price", "ratio", "label", "kinds", "period", "window"
    ]  # fmt: skip
    assert got["day"] == {"name": "day", "title": "Day", "type": "date", "value": "2024-03-01"}
    assert got["since"] == {
        "name": "since",
        "title": "Since",
        "type": "datetime-with-seconds",
        "value": "2024-01-10 12:00:00",
    }
    assert got["stamp"]["type"] == "date" and got["stamp"]["value"] == "2024-02-01"
    assert got["min_price"] == {
        "name": "min_price",
        "title": "Min price",
        "type": "number",
        "value": 10,
    }
    assert got["ratio"]["type"] == "number" and got["ratio"]["value"] == 0.5
    assert got["label"] == {"name": "label", "title": "Label", "type": "text", "value": "item"}
    assert got["kinds"] == {
        "name": "kinds",
        "title": "Kinds",
        "type": "enum",
        "value": ["a", "c"],
        "enumOptions": "a\nc",
        "multiValuesOptions": {"prefix": "", "suffix": "", "separator": ","},
    }
    assert got["period"] == {
        "name": "period",
        "title": "Period",
        "type": "date-range",
        "value": {"start": "2024-02-01", "end": "2024-03-01"},
    }
    assert got["window"] == {
        "name": "window",
        "title": "Window",
        "type": "datetime-range-with-seconds",
        "value": {"start": "2024-01-01 09:30:00", "end": "2024-01-02 09:30:05"},
    }


def test_inferred_definitions_parse_and_resolve_like_the_servers_own():
    """What we save reads back through the same code as a saved query's definitions (06-*),
    and its defaults resolve to the wire values the cell ran with."""
    sql = "SELECT {{ n }}, '{{ day }}', ({{ ids }}), '{{ p.start }}', '{{ p.end }}'"
    params = {
        "n": np.int64(7),
        "day": np.datetime64("2024-01-05"),
        "ids": [1, 4],
        "p": (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-31")),
    }
    definitions = parse_definitions(infer_definitions(sql, params))

    resolved = resolve_parameters(definitions, {})

    assert resolved == {
        "n": 7,
        "day": "2024-01-05",
        "ids": ["1", "4"],
        "p": {"start": "2024-01-01", "end": "2024-01-31"},
    }
    # the same keys as the web UI's saved definitions in the recorded samples
    saved = sample_body("06-query-example-ranges-multi")["options"]["parameters"]
    assert {k for d in saved for k in d} >= {k for d in infer_definitions(sql, params) for k in d}


def test_a_decimal_number_keeps_its_digits():
    (definition,) = infer_definitions("SELECT {{ x }}", {"x": Decimal("0.1000000000000000055")})
    assert definition["type"] == "number"
    assert definition["value"] == "0.1000000000000000055"


def test_dotted_pairs_make_a_range_as_in_the_magic():
    definitions = infer_definitions(
        "SELECT '{{ p.start }}', '{{ p.end }}'", {"p.start": "2024-01-01", "p.end": "2024-02-01"}
    )
    assert definitions[0]["type"] == "date-range"
    assert definitions[0]["value"] == {"start": "2024-01-01", "end": "2024-02-01"}


def test_an_existing_definition_that_fits_the_value_is_kept():
    """A title, enum options or a dropdown query set in the web UI survive a save from a
    notebook when the cell's value fits them; only the default changes."""
    existing = sample_body("06-query-demo-params")["options"]["parameters"]
    sql = "SELECT '{{ start_date }}', {{ min_price }}, {{ flag }}, '{{ label }}'"
    params = {"start_date": date(2024, 5, 1), "min_price": 3, "flag": "0", "label": 5}

    got = _by_name(infer_definitions(sql, params, existing=existing))

    assert got["start_date"] == {**existing[0], "value": "2024-05-01"}
    assert got["min_price"] == {**existing[1], "value": 3}
    assert got["flag"] == {**existing[2], "value": "0"}  # the enum with its options stays
    assert got["label"] == {**existing[3], "value": "5"}  # text takes an int as its text


def test_an_existing_definition_the_value_does_not_fit_is_replaced():
    existing = [
        {"name": "flag", "type": "enum", "title": "Flag", "value": "1", "enumOptions": "0\n1"}
    ]
    (got,) = infer_definitions("SELECT {{ flag }}", {"flag": "7"}, existing=existing)
    assert got == {"name": "flag", "title": "Flag", "type": "text", "value": "7"}


def test_an_existing_quoted_multi_value_enum_is_replaced_since_it_renders_otherwise():
    existing = sample_body("06-query-example-ranges-multi")["options"]["parameters"]
    (got,) = infer_definitions("SELECT ({{ kinds }})", {"kinds": ["b"]}, existing=existing)
    assert got["multiValuesOptions"] == {"prefix": "", "suffix": "", "separator": ","}
    assert got["value"] == ["b"]


@pytest.mark.parametrize(
    ("sql", "params", "words"),
    [
        ("SELECT {{ a }}, {{ b }}", {"a": 1}, ["'b'", "default"]),
        ("SELECT {{ a }}", {"a": 1, "zz": 2}, ["'zz'", "do not appear"]),
        ("SELECT '{{ t }}'", {"t": datetime(2024, 1, 1, 1, 2, 3, 500)}, ["second", "round"]),
        ("SELECT {{ a }}", {"a": True}, ["bool"]),
        ("SELECT '{{ p.foo }}'", {"p": {"foo": "x"}}, ["p.start", "range"]),
        ("SELECT '{{ p.start }}', '{{ p.end }}'", {"p": ("a", "b")}, ["date", "range"]),
        ("SELECT '{{ p.start }}', '{{ p.end }}'", {"p": (date(2024, 1, 1), 5)}, ["range"]),
        ("SELECT ({{ ids }})", {"ids": []}, ["empty"]),
        ("SELECT {{ a }}", None, ["'a'", "default"]),
    ],
)
def test_what_no_saved_type_holds_is_refused(sql, params, words):
    with pytest.raises(ParameterError) as caught:
        infer_definitions(sql, params)
    message = str(caught.value)
    for word in words:
        assert word in message
