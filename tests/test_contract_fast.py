"""The contract's fast checks agree with the plain pandas ones they replace."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from churnml.data.contract import Formats, all_distinct, conform, rules_hold, table_schema
from helpers.contract_frames import TODAY, tiny_tables

texts = st.lists(st.one_of(st.none(), st.text(alphabet="ab\u00e9\u4e2d ", max_size=4)), max_size=40)


@settings(deadline=None)  # a loaded 2-core CI machine is slow now and then, not wrong
@given(values=texts, start=st.integers(0, 5), dtype=st.sampled_from(["str", "object"]))
@example(values=["", ""], start=0, dtype="str")  # every value of width 0
def test_all_distinct_is_not_duplicated_any(values, start, dtype):
    # A slice starts inside the Arrow buffers (a non-zero offset), as a filtered column does.
    series = pd.Series(values, dtype=dtype).iloc[start:]
    assert all_distinct(series) == (not series.duplicated().any())


@settings(deadline=None)
@given(width=st.integers(1, 20), data=st.data(), start=st.integers(0, 5))
def test_all_distinct_on_ids_of_one_width_is_not_duplicated_any(width, data, start):
    # Ids of one width are compared as the integers of their bytes (one or two words).
    ids = st.text(alphabet="ABé", min_size=width, max_size=width).filter(lambda t: len(t.encode()) == width)
    values = data.draw(st.lists(ids, max_size=40))
    series = pd.Series(values, dtype="str").iloc[start:]
    assert all_distinct(series) == (not series.duplicated().any())


@settings(deadline=None)
@given(values=texts)
def test_text_hashes_of_a_category_are_those_of_its_text(values):
    from churnml.data.contract import text_hashes

    series = pd.Series(values, dtype="str")
    assert np.array_equal(text_hashes(series.astype("category")), text_hashes(series))
    # equal texts (as the contract reads them: stripped, empty is missing), equal hashes
    text = series.str.strip().mask(series.str.strip() == "").fillna("")
    hashes = text_hashes(series)
    for i in range(len(values)):
        for j in range(len(values)):
            if text.iloc[i] == text.iloc[j]:
                assert hashes[i] == hashes[j]


spaced = st.lists(st.one_of(st.none(), st.text(alphabet="a\u00e9 \t\n\u00a0\u3000\u2003", max_size=4)), max_size=30)


@settings(deadline=None)  # a loaded 2-core CI machine is slow now and then, not wrong
@given(values=spaced, start=st.integers(0, 5), dtype=st.sampled_from(["str", "object", "string"]))
def test_text_is_stripped_and_empty_is_missing_as_before(values, start, dtype):
    from churnml.data.contract import _to_text

    series = pd.Series(values, dtype=dtype).iloc[start:]
    text = series.astype("str").str.strip()
    pd.testing.assert_series_equal(_to_text(series), text.mask(text == ""))
    # a coded column (a category, as Parquet dictionaries are read) holds the same text
    coded = _to_text(series.astype("category"), coded=True)
    assert isinstance(coded.dtype, pd.CategoricalDtype) and list(coded.cat.categories) == sorted(coded.cat.categories)
    pd.testing.assert_series_equal(coded.astype("str"), text.mask(text == ""))


def _broken(kind: str) -> dict[str, pd.DataFrame]:
    """The tiny tables with one rule broken."""
    tables = tiny_tables()
    if kind == "duplicate key":
        tables["orders"].loc[1, "order_id"] = tables["orders"].loc[0, "order_id"]
    elif kind == "missing required":
        tables["orders"].loc[2, "order_date"] = None
    elif kind == "unknown account":
        tables["orders"].loc[3, "account_id"] = "A99"
    elif kind == "future date":
        tables["orders"].loc[4, "order_date"] = "2204-01-01"
    elif kind == "negative":
        tables["orders"].loc[5, "list_amount"] = -1.0
    elif kind == "out of range":
        tables["accounts"].loc[0, "influence"] = 1.5
    elif kind == "resolved before opened":
        tables["complaints"].loc[0, "resolved_at"] = pd.Timestamp("2000-01-01")
    return tables


@pytest.mark.parametrize(
    "kind",
    ["none", "duplicate key", "missing required", "unknown account", "future date", "negative", "out of range",
     "resolved before opened"],
)
def test_the_fast_rules_fail_exactly_where_the_schema_does(kind):
    """Whether the schema runs is decided by `rules_hold`: it must see every problem the schema
    would report (and report none where the schema finds none)."""
    tables = _broken(kind)
    accounts = conform("accounts", tables["accounts"], Formats()).typed["account_id"].dropna().unique()
    holds = []
    for name, frame in tables.items():
        typed = conform(name, frame, Formats()).typed
        known = accounts if name != "accounts" else None
        schema = table_schema(name, today=TODAY, account_ids=known)
        try:
            schema.validate(typed, lazy=True)
            schema_holds = True
        except pa.errors.SchemaErrors:
            schema_holds = False
        assert rules_hold(name, typed, TODAY, known) == schema_holds, name
        holds.append(schema_holds)
    assert all(holds) == (kind == "none")


numbers = st.lists(
    st.one_of(
        st.none(),
        st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
        st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
        st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{0,20})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
        st.sampled_from(["1,5", "1.234,56", "+3", "0x1A", "1e", ".", "-", "1_000", " 7 ", "-0", "-0.0", "-00"]),
    ),
    max_size=20,
)


@settings(deadline=None)  # a loaded 2-core CI machine is slow now and then, not wrong
@given(values=numbers)
def test_numbers_parse_as_pandas_parses_them(values):
    """Arrow parses plain decimal numbers; whatever it takes must come out as pandas gives it."""
    from churnml.data.contract import _to_float

    series = pd.Series(values, dtype="str")
    text = series.astype("str").str.strip()
    expected = pd.to_numeric(text, errors="coerce").astype("float64")
    got, expected = _to_float(series), expected.where(np.isfinite(expected))
    pd.testing.assert_series_equal(got, expected)
    assert (np.signbit(got.to_numpy()) == np.signbit(expected.to_numpy())).all()  # -0.0 is not 0.0 in a CSV


dates = st.lists(
    st.one_of(
        st.none(),
        st.dates(min_value=date(1700, 1, 1), max_value=date(2250, 12, 31)).map(str),
        st.from_regex(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}", fullmatch=True),
        st.sampled_from(["2023-02-30", "2023-13-01", "2024-01-05 10:30", "2024-01-05T10:30:00Z", "31.12.2023", "x"]),
    ),
    max_size=20,
)


@settings(deadline=None)  # a loaded 2-core CI machine is slow now and then, not wrong
@given(values=dates, german=st.booleans())
def test_dates_parse_as_pandas_parses_them(values, german):
    """Arrow parses dates written exactly in the expected format; the result is pandas' (or
    pandas parses, when any value is not written so)."""
    from churnml.data.contract import _to_dates

    if german:
        values = [v if v is None or len(v) != 10 or v[4] != "-" else f"{v[8:]}.{v[5:7]}.{v[:4]}" for v in values]
    series = pd.Series(values, dtype="str")
    fmt = "%d.%m.%Y" if german else None
    typed, out_of_range = _to_dates(series, fmt)
    expected, expected_out = _to_dates(series, fmt, arrow=False)
    pd.testing.assert_series_equal(typed, expected, check_names=False)
    pd.testing.assert_series_equal(out_of_range, expected_out, check_names=False)


def test_a_date_in_the_export_format_outside_the_range_is_reported():
    orders = tiny_tables()["orders"].astype({"order_date": "str"})
    orders["order_date"] = pd.to_datetime(orders["order_date"]).dt.strftime("%d.%m.%Y")
    orders.loc[0, "order_date"] = "01.01.0001"
    done = conform("orders", orders, Formats(date_format="%d.%m.%Y"))
    [problem] = [p for p in done.problems if p.column == "order_date"]
    assert "outside the years 1677–2262" in problem.problem and problem.examples["order_date"].tolist() == ["01.01.0001"]
