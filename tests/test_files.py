"""Saving frames: ``watch_pandas.to_parquet``/``to_feather`` and their readers keep every value
and dtype (wei-sized integers included), and pandas' own writers keep our other dtypes."""

from __future__ import annotations

import io
import json
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import watch_pandas as wp
from watch_pandas import ConfigError, LossyFormatError

UINT256_MAX = 2**256 - 1
FORMATS = {
    "parquet": (wp.to_parquet, wp.read_parquet, pd.read_parquet),
    "feather": (wp.to_feather, wp.read_feather, pd.read_feather),
}


def big_ints(*values) -> pd.Series:
    return pd.Series(list(values), dtype=object)


def our_dtypes() -> pd.DataFrame:
    """One column of each dtype docs/guide.md#column-types gives (numpy_nullable)."""
    return pd.DataFrame(
        {
            "n": pd.array([1, None, -(2**63)], dtype="Int64"),
            "f": pd.array([1.5, None, -0.0], dtype="Float64"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "s": pd.array(["a", None, 'ü, "q"\n'], dtype="string"),
            "d": np.array(["0001-01-01", "9999-12-31", "NaT"], dtype="datetime64[s]"),
            "ts": np.array(["2024-01-01T00:00:00.123", "NaT", "2024-02-29"], dtype="M8[ms]"),
            "tz": pd.Series(
                np.array(["2024-01-01T00:00:00.123", "NaT", "2024-02-29"], dtype="M8[ms]")
            ).dt.tz_localize("UTC"),
        }
    )


def arrow_dtypes() -> pd.DataFrame:
    """The same columns as ``dtype_backend="pyarrow"`` gives them."""
    tz = our_dtypes()["tz"]
    return pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="int64[pyarrow]"),
            "f": pd.array([1.5, None, 2.0], dtype="double[pyarrow]"),
            "b": pd.array([True, None, False], dtype="bool[pyarrow]"),
            "s": pd.array(["a", None, "ü"], dtype=pd.ArrowDtype(pa.string())),
            "d": pd.array([date(1, 1, 1), None, date(9999, 12, 31)], dtype="date32[pyarrow]"),
            "tz": pd.array(list(tz), dtype=pd.ArrowDtype(pa.timestamp("ms", tz="UTC"))),
        }
    )


def with_wei(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["amount_wei"] = big_ints(UINT256_MAX, None, -(2**70))
    frame["small_and_big"] = big_ints(0, 2**63, -1)
    frame["json"] = pd.Series([{"a": [1, 2]}, None, "text"], dtype=object)
    return frame


# --------------------------------------------------------------------------- the documented way


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("make", [our_dtypes, arrow_dtypes], ids=["numpy_nullable", "pyarrow"])
def test_our_writers_round_trip_wei_integers_and_every_dtype_exactly(tmp_path, fmt, make):
    write, read, _ = FORMATS[fmt]
    frame = with_wei(make())
    frame.attrs["watch"] = {"query_id": 6, "parameters": {"period": {"start": "2024-01-01"}}}
    path = tmp_path / f"frame.{fmt}"
    write(frame, path)
    back = read(path)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back["amount_wei"].tolist() == [UINT256_MAX, None, -(2**70)]
    assert all(type(v) is int for v in back["small_and_big"])
    assert back.attrs == frame.attrs


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_other_tools_read_the_big_integers_as_exact_decimal_text(tmp_path, fmt):
    write, _, pandas_read = FORMATS[fmt]
    path = tmp_path / f"frame.{fmt}"
    write(with_wei(our_dtypes()), path)
    plain = pandas_read(path)
    assert list(plain.columns)[:3] == ["n", "f", "b"]  # real names, not positions
    assert plain["amount_wei"].tolist()[0] == str(UINT256_MAX)
    assert str(plain["f"].dtype) == "Float64" and str(plain["tz"].dtype) == "datetime64[ms, UTC]"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_our_readers_read_any_other_file_like_pandas(tmp_path, fmt):
    _, read, pandas_read = FORMATS[fmt]
    path = tmp_path / f"plain.{fmt}"
    getattr(our_dtypes(), f"to_{fmt}")(path)
    pd.testing.assert_frame_equal(read(path), pandas_read(path))


def test_a_writer_accepts_a_file_object_and_options(tmp_path):
    buffer = io.BytesIO()
    wp.to_parquet(with_wei(our_dtypes()), buffer, compression="zstd")
    buffer.seek(0)
    assert wp.read_parquet(buffer)["amount_wei"][0] == UINT256_MAX


def test_an_unnamed_index_is_not_written_and_a_named_one_is_refused(tmp_path):
    frame = with_wei(our_dtypes()).iloc[[2, 0]]
    wp.to_parquet(frame, tmp_path / "x.parquet")
    back = wp.read_parquet(tmp_path / "x.parquet")
    assert back.index.equals(pd.RangeIndex(2))
    assert back["amount_wei"].tolist() == [-(2**70), UINT256_MAX]
    with pytest.raises(ConfigError, match="reset_index"):
        wp.to_parquet(frame.set_index("n"), tmp_path / "y.parquet")


@pytest.mark.parametrize(
    ("frame", "error", "says"),
    [
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), ConfigError, "'a'"),
        (pd.DataFrame([[1, 2]]), ConfigError, "strings"),
        (pd.DataFrame({"x": pd.Series([(1, 2)], dtype=object)}), LossyFormatError, "tuple"),
        ("not a frame", ConfigError, "DataFrame"),
    ],
    ids=["duplicate-names", "integer-names", "tuple-cells", "not-a-frame"],
)
def test_what_cannot_be_written_exactly_is_a_clear_typed_error(tmp_path, frame, error, says):
    with pytest.raises(error, match=says):
        wp.to_parquet(frame, tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("where", ["under-a-file", "missing-folder", "a-folder"])
def test_a_target_that_cannot_be_opened_is_a_config_error_naming_it(tmp_path, fmt, where):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir").mkdir()
    target = {
        "under-a-file": tmp_path / "afile" / f"q.{fmt}",
        "missing-folder": tmp_path / "nodir" / f"q.{fmt}",
        "a-folder": tmp_path / "adir",
    }[where]
    with pytest.raises(ConfigError) as caught:
        FORMATS[fmt][0](pd.DataFrame({"a": [1]}), target)
    assert str(target) in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_refused_object_column_is_named(tmp_path):
    from decimal import Decimal

    frame = pd.DataFrame({"ok": [1, 2], "amount": pd.Series([2**80, Decimal("1.5")], dtype=object)})
    with pytest.raises(LossyFormatError, match="'amount'.*Decimal"):
        wp.to_parquet(frame, tmp_path / "x.parquet")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_numpy_integers_among_python_ints_are_written_exactly(tmp_path, fmt):
    """A wei column built with some numpy arithmetic: the values are integers, kept exactly."""
    write, read, _ = FORMATS[fmt]
    frame = pd.DataFrame({"w": big_ints(2**80, np.int64(-(2**63)), np.uint64(2**64 - 1), None)})
    write(frame, tmp_path / f"x.{fmt}")
    back = read(tmp_path / f"x.{fmt}")
    assert back["w"].tolist() == [2**80, -(2**63), 2**64 - 1, None]
    assert [type(v) for v in back["w"].tolist()[:3]] == [int, int, int]


@pytest.mark.parametrize(
    ("names", "says"),
    [(["a", "a", "b"], "'a' appears more than once"), (["a", "b"] * 2, "'a', 'b' appear more")],
)
def test_repeated_column_names_are_named_in_good_grammar(tmp_path, names, says):
    frame = pd.DataFrame([range(len(names))], columns=names)
    with pytest.raises(ConfigError, match=says):
        wp.to_parquet(frame, tmp_path / "x.parquet")


def test_a_damaged_watch_file_is_a_clear_error(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    wp.to_parquet(with_wei(our_dtypes()), path)
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    key = next(k for k in meta if k.startswith(b"watch_pandas"))
    entry = json.loads(meta[key])
    entry["rows"] = 99
    meta[key] = json.dumps(entry).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)
    with pytest.raises(ConfigError, match="x.parquet"):
        wp.read_parquet(path)


# --------------------------------------------------------------------------- pandas' own writers


def test_pandas_own_writers_cannot_take_wei_integers():
    """Why the functions above exist: pyarrow has no integer type beyond 64 bits (the docs
    quote this message, so a user who meets it finds the way out)."""
    with pytest.raises(OverflowError, match="Python int too large to convert to C long"):
        pd.DataFrame({"w": big_ints(UINT256_MAX)}).to_parquet(io.BytesIO())


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("make", [our_dtypes, arrow_dtypes], ids=["numpy_nullable", "pyarrow"])
def test_pandas_own_writers_keep_our_other_columns_values(tmp_path, fmt, make):
    frame = make()
    path = tmp_path / f"frame.{fmt}"
    getattr(frame, f"to_{fmt}")(path)
    back = FORMATS[fmt][2](path)
    # The values always survive; docs/guide.md#saving-frames names the two dtypes that come
    # back changed.
    changed = {c: str(back[c].dtype) for c in frame if back[c].dtype != frame[c].dtype}
    expected = {}
    if make is our_dtypes and fmt == "parquet":
        expected["d"] = "datetime64[ms]"  # Parquet has no second unit
    if make is arrow_dtypes:
        expected["s"] = "string"  # string[pyarrow] comes back as pandas' string dtype
    assert changed == expected
    back = back.astype({c: frame[c].dtype for c in changed})
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


def test_csv_keeps_wei_integers_as_text():
    text = pd.DataFrame({"w": big_ints(UINT256_MAX, None)}).to_csv(index=False)
    assert text.splitlines() == ["w", str(UINT256_MAX), '""']
