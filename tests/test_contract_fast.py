"""The contract's fast checks agree with the plain pandas ones they replace."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from churnml.data.contract import Formats, all_distinct, conform, rules_hold, table_schema
from helpers.contract_frames import TODAY, tiny_tables

texts = st.lists(st.one_of(st.none(), st.text(alphabet="ab\u00e9\u4e2d ", max_size=4)), max_size=40)


@given(values=texts, start=st.integers(0, 5), dtype=st.sampled_from(["str", "object"]))
def test_all_distinct_is_not_duplicated_any(values, start, dtype):
    # A slice starts inside the Arrow buffers (a non-zero offset), as a filtered column does.
    series = pd.Series(values, dtype=dtype).iloc[start:]
    assert all_distinct(series) == (not series.duplicated().any())


spaced = st.lists(st.one_of(st.none(), st.text(alphabet="a\u00e9 \t\n\u00a0\u3000\u2003", max_size=4)), max_size=30)


@given(values=spaced, start=st.integers(0, 5), dtype=st.sampled_from(["str", "object", "string"]))
def test_text_is_stripped_and_empty_is_missing_as_before(values, start, dtype):
    from churnml.data.contract import _to_text

    series = pd.Series(values, dtype=dtype).iloc[start:]
    text = series.astype("str").str.strip()
    pd.testing.assert_series_equal(_to_text(series), text.mask(text == ""))


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
