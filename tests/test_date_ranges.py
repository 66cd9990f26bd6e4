"""date_ranges: a date or datetime range split into consecutive, inclusive parameter ranges."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from watch_pandas import ParameterError, date_ranges


def test_month_starts_split_into_whole_months_with_inclusive_ends():
    assert date_ranges("2024-01-01", "2024-03-31", "MS") == [
        {"start": "2024-01-01", "end": "2024-01-31"},
        {"start": "2024-02-01", "end": "2024-02-29"},
        {"start": "2024-03-01", "end": "2024-03-31"},
    ]


def test_a_start_or_end_inside_a_period_gives_partial_first_and_last_parts():
    assert date_ranges(date(2024, 1, 15), date(2024, 3, 10), "MS") == [
        {"start": "2024-01-15", "end": "2024-01-31"},
        {"start": "2024-02-01", "end": "2024-02-29"},
        {"start": "2024-03-01", "end": "2024-03-10"},
    ]


def test_days_and_weeks():
    assert date_ranges("2024-01-01", "2024-01-03", "D") == [
        {"start": "2024-01-01", "end": "2024-01-01"},
        {"start": "2024-01-02", "end": "2024-01-02"},
        {"start": "2024-01-03", "end": "2024-01-03"},
    ]
    # pandas' "W" weeks are anchored on Sunday, where the web UI's weeks start
    assert date_ranges(pd.Timestamp("2024-01-03"), "2024-01-16", "W") == [
        {"start": "2024-01-03", "end": "2024-01-06"},
        {"start": "2024-01-07", "end": "2024-01-13"},
        {"start": "2024-01-14", "end": "2024-01-16"},
    ]


def test_a_range_shorter_than_the_frequency_is_one_part():
    assert date_ranges("2024-02-10", "2024-02-10", "MS") == [
        {"start": "2024-02-10", "end": "2024-02-10"}
    ]


def test_datetime_ranges_end_a_minute_or_a_second_before_the_next_part():
    assert date_ranges(datetime(2024, 2, 1), datetime(2024, 2, 2, 12, 0), "D") == [
        {"start": "2024-02-01 00:00", "end": "2024-02-01 23:59"},
        {"start": "2024-02-02 00:00", "end": "2024-02-02 12:00"},
    ]
    assert date_ranges("2024-02-01 00:00", "2024-02-01 02:00:00", "h", precision="second") == [
        {"start": "2024-02-01 00:00:00", "end": "2024-02-01 00:59:59"},
        {"start": "2024-02-01 01:00:00", "end": "2024-02-01 01:59:59"},
        {"start": "2024-02-01 02:00:00", "end": "2024-02-01 02:00:00"},
    ]


def test_a_date_only_end_with_time_precision_covers_its_whole_last_day():
    assert date_ranges("2024-02-01", "2024-02-03", "D", precision="second")[-1] == {
        "start": "2024-02-03 00:00:00",
        "end": "2024-02-03 23:59:59",
    }
    assert date_ranges("2024-02-01", "2024-02-02", "D", precision="minute")[-1]["end"] == (
        "2024-02-02 23:59"
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("2024-01-01", "2024-02-01", "fortnight"), {}, "frequency string such as 'MS'"),
        (("2024-01-01", "2024-02-01", 7), {}, "frequency string such as 'MS'"),
        (("2024-31-01", "2024-02-01", "D"), {}, "start .* YYYY-MM-DD"),
        (("2024-03-01", "2024-02-01", "D"), {}, "after the end"),
        (("2024-01-01", "2024-01-02", "h"), {}, "finer than a day"),
        (("2024-01-01", "2024-01-02", "D"), {"precision": "hour"}, "'day', 'minute' or 'second'"),
        (("2024-01-01 10:30", "2024-01-02", "D"), {"precision": "day"}, "time of day"),
    ],
)
def test_bad_input_is_a_parameter_error_naming_the_expected_form(args, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        date_ranges(*args, **kwargs)
