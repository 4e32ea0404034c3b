"""The input contract: every bad input named in contract.md is reported, with table, column and rows."""

from __future__ import annotations

import functools
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from churnml.data.contract import TABLES, as_seen_at, check_tables, validate_tables
from churnml.errors import ContractError, Problem
from helpers.contract_frames import TODAY, find, tiny_tables


def problems_of(tables: dict[str, pd.DataFrame], today: date = TODAY) -> list[Problem]:
    with pytest.raises(ContractError) as caught:
        validate_tables(tables, today)
    return caught.value.problems


def example_rows(problem: Problem) -> list[int]:
    assert problem.examples is not None
    return problem.examples["row"].tolist()


# ---------------------------------------------------------------------------------------------
# Good input


def test_valid_tables_pass_with_contract_columns_and_dtypes():
    typed = validate_tables(tiny_tables(), TODAY)
    assert set(typed) == set(TABLES)
    for name, frame in typed.items():
        spec = TABLES[name]
        assert list(frame.columns) == spec.names
        for column in spec.columns:
            assert str(frame[column.name].dtype) == column.dtype, (
                name,
                column.name,
            )


def test_text_input_parses_to_the_same_typed_tables():
    # What a CSV gives: every value as text, missing as NaN.
    as_text = {
        name: frame.apply(lambda s: s.map(lambda v: None if pd.isna(v) else str(v)))
        for name, frame in tiny_tables().items()
    }
    typed_text = validate_tables(as_text, TODAY)
    typed = validate_tables(tiny_tables(), TODAY)
    for name in TABLES:
        pd.testing.assert_frame_equal(typed_text[name], typed[name])


def test_extra_columns_are_dropped_and_absent_optional_columns_added():
    tables = tiny_tables()
    tables["accounts"]["status"] = "lost"  # would leak the answer
    tables["orders"] = tables["orders"].drop(columns=["custom", "list_amount"])
    typed = validate_tables(tables, TODAY)
    assert "status" not in typed["accounts"].columns
    assert typed["orders"]["custom"].isna().all() and str(typed["orders"]["custom"].dtype) == "boolean"
    assert typed["orders"]["list_amount"].isna().all()


def test_optional_tables_may_be_absent():
    tables = {k: v for k, v in tiny_tables().items() if k in ("accounts", "orders")}
    assert set(validate_tables(tables, TODAY)) == {"accounts", "orders"}


def test_numeric_ids_match_across_tables_even_when_stored_as_floats():
    tables = tiny_tables()
    ids = {"A1": 1001, "A2": 1002, "A3": 1003, "A4": 1004}
    tables["accounts"]["account_id"] = tables["accounts"]["account_id"].map(ids)  # int64
    # An integer column with a gap becomes float in many tools: 1001.0 must still mean "1001".
    orders = tables["orders"]["account_id"].map(ids).astype("float64")
    tables["orders"]["account_id"] = orders
    for name in ("complaints", "competitor_signals", "interactions", "contacts", "outcomes"):
        tables[name]["account_id"] = tables[name]["account_id"].map(ids)
    typed = validate_tables(tables, TODAY)
    assert set(typed["orders"]["account_id"]) <= {"1001", "1002", "1003"}


def test_region_na_is_a_value_not_missing_and_timezones_keep_the_local_date():
    tables = tiny_tables()
    tables["orders"]["order_date"] = tables["orders"]["order_date"].dt.strftime("%Y-%m-%dT23:30:00+05:00")
    typed = validate_tables(tables, TODAY)
    assert typed["accounts"]["region"].tolist()[1] == "NA"
    # 23:30 at +05:00 stays on its calendar day (and month), as the user wrote it.
    assert (typed["orders"]["order_date"].dt.normalize() == tiny_tables()["orders"]["order_date"]).all()


def test_future_dates_are_fine_where_the_contract_expects_them():
    tables = tiny_tables()
    tables["accounts"].loc[0, "contract_end"] = pd.Timestamp("2030-01-01")
    tables["orders"].loc[11, "promised_date"] = pd.Timestamp("2025-09-01")
    validate_tables(tables, TODAY)


# ---------------------------------------------------------------------------------------------
# Bad input, one by one (contract.md, "What counts as bad input")


@pytest.mark.parametrize("table", ["accounts", "orders"])
def test_missing_required_table(table):
    tables = tiny_tables()
    del tables[table]
    find(problems_of(tables), table, None, "required table is missing")


@pytest.mark.parametrize(
    "table, column",
    [("accounts", "account_id"), ("orders", "net_amount"), ("orders", "order_date"),
     ("complaints", "opened_at"), ("interactions", "kind"), ("outcomes", "lost_at")],
)
def test_missing_required_column(table, column):
    tables = tiny_tables()
    tables[table] = tables[table].drop(columns=[column])
    problems = problems_of(tables)
    find(problems, table, column, "required column is missing")
    # Reported once: not also as "no value" on every row.
    assert [p.column for p in problems if p.table == table].count(column) == 1


@pytest.mark.parametrize(
    "table, column, bad, words",
    [
        ("orders", "net_amount", "twelve", "not numbers"),
        ("orders", "net_amount", "1.200,50", "not numbers"),
        ("orders", "quantity", "inf", "not numbers"),
        ("orders", "custom", "maybe", "not true/false"),
        ("orders", "delivered_date", "31/12/2023", "not dates"),
        ("accounts", "employees", "12.5", "not whole numbers"),
        ("accounts", "since", "last spring", "not dates"),
        ("complaints", "severity", "high", "not whole numbers"),
        ("competitor_signals", "price_gap", "-12%", "not numbers"),
    ],
)
def test_values_that_do_not_parse(table, column, bad, words):
    tables = tiny_tables()
    frame = tables[table].astype({column: "object"})
    frame.loc[1, column] = bad
    tables[table] = frame
    problem = find(problems_of(tables), table, column, words)
    assert example_rows(problem) == [2]  # row 2 = the second data row
    assert problem.examples[column].tolist() == [bad]


def test_decimal_comma_gets_a_hint():
    tables = tiny_tables()
    tables["orders"] = tables["orders"].astype({"net_amount": "object"})
    tables["orders"].loc[0, "net_amount"] = "1200,50"
    assert "decimal comma" in find(problems_of(tables), "orders", "net_amount", "not numbers").problem


def test_a_date_column_full_of_text():
    tables = tiny_tables()
    n = len(tables["orders"])
    tables["orders"]["order_date"] = ["soon"] * n
    problems = problems_of(tables)
    problem = find(problems, "orders", "order_date", f"{n} value(s) are not dates")
    assert len(problem.examples) == 5  # a few offending rows, not all of them
    # Not also reported as "no value in a required column".
    assert not [p for p in problems if p.column == "order_date" and "no value" in p.problem]


def test_a_year_beyond_what_pandas_holds_is_reported_not_raised():
    tables = tiny_tables()
    tables["outcomes"]["lost_at"] = ["9024-09-01"]
    assert "typo" in find(problems_of(tables), "outcomes", "lost_at", "not dates").problem


@pytest.mark.parametrize(
    "table, column", [("orders", "order_id"), ("orders", "account_id"), ("complaints", "opened_at")]
)
def test_missing_value_in_a_required_column(table, column):
    tables = tiny_tables()
    tables[table].loc[1, column] = None
    assert example_rows(find(problems_of(tables), table, column, "no value")) == [2]


@pytest.mark.parametrize(
    "table, key",
    [("accounts", "account_id"), ("orders", "order_id"), ("complaints", "complaint_id"),
     ("competitor_signals", "signal_id"), ("contacts", "contact_id")],
)
def test_duplicate_keys(table, key):
    tables = tiny_tables()
    tables[table].loc[1, key] = tables[table].loc[0, key]
    problem = find(problems_of(tables), table, key, "duplicate key")
    assert example_rows(problem) == [1, 2]


@pytest.mark.parametrize(
    "table", ["orders", "complaints", "competitor_signals", "interactions", "contacts", "outcomes"]
)
def test_rows_that_reference_an_unknown_account(table):
    tables = tiny_tables()
    tables[table].loc[0, "account_id"] = "ZZ99"
    problem = find(problems_of(tables), table, "account_id", "not in accounts")
    assert problem.examples["account_id"].tolist() == ["ZZ99"]


@pytest.mark.parametrize(
    "table, column",
    [("orders", "order_date"), ("orders", "delivered_date"), ("accounts", "since"),
     ("complaints", "opened_at"), ("complaints", "resolved_at"), ("competitor_signals", "observed_at"),
     ("interactions", "occurred_at"), ("contacts", "start_date"), ("outcomes", "lost_at")],
)
def test_dates_later_than_today(table, column):
    tables = tiny_tables()
    typo = pd.Timestamp("2204-03-01")
    if table == "complaints" and column == "opened_at":
        tables[table].loc[0, "resolved_at"] = pd.NaT  # keep this test about one rule
    tables[table].loc[0, column] = typo
    problem = find(problems_of(tables), table, column, "later than today (2025-06-30)")
    assert example_rows(problem) == [1]


def test_today_itself_is_not_in_the_future():
    tables = tiny_tables()
    tables["orders"].loc[11, "order_date"] = pd.Timestamp(TODAY) + pd.Timedelta(hours=23)
    validate_tables(tables, TODAY)
    assert problems_of(tables, today=TODAY - pd.Timedelta(days=1))


def test_negative_list_amount():
    tables = tiny_tables()
    tables["orders"].loc[4, "list_amount"] = -600.0
    # A negative net amount is a credit note, allowed; a negative list price is not.
    tables["orders"].loc[5, "net_amount"] = -99.9
    problems = problems_of(tables)
    assert example_rows(find(problems, "orders", "list_amount", "negative")) == [5]
    assert not [p for p in problems if p.column == "net_amount"]


def test_resolved_before_opened():
    tables = tiny_tables()
    tables["complaints"].loc[2, "resolved_at"] = pd.Timestamp("2024-06-01")  # opened 2024-06-10
    problem = find(problems_of(tables), "complaints", "resolved_at", "resolved before")
    assert example_rows(problem) == [3]
    assert {"opened_at", "resolved_at"} <= set(problem.examples.columns)


@pytest.mark.parametrize("value", [1.5, -0.1])
def test_influence_outside_0_1(value):
    tables = tiny_tables()
    tables["accounts"].loc[3, "influence"] = value
    assert example_rows(find(problems_of(tables), "accounts", "influence", "outside [0, 1]")) == [4]


@pytest.mark.parametrize("value", [0, 4])
def test_severity_outside_1_3(value):
    tables = tiny_tables()
    tables["complaints"].loc[0, "severity"] = value
    assert example_rows(find(problems_of(tables), "complaints", "severity", "outside [1, 3]")) == [1]


def test_negative_category_spend():
    tables = tiny_tables()
    tables["accounts"].loc[0, "category_spend"] = -1.0
    find(problems_of(tables), "accounts", "category_spend", "negative")


def test_an_empty_orders_table():
    tables = tiny_tables()
    tables["orders"] = tables["orders"].iloc[0:0]
    find(problems_of(tables), "orders", None, "no rows")


# ---------------------------------------------------------------------------------------------
# Reporting


def test_every_problem_in_every_table_is_reported_together():
    tables = tiny_tables()
    tables["orders"].loc[2, "order_date"] = pd.Timestamp("2204-01-01")
    tables["orders"].loc[3, "account_id"] = "ZZ99"
    tables["complaints"].loc[1, "severity"] = 7
    del tables["accounts"]["account_id"]
    with pytest.raises(ContractError) as caught:
        validate_tables(tables, TODAY)
    problems = caught.value.problems
    find(problems, "accounts", "account_id", "required column is missing")
    find(problems, "orders", "order_date", "later than today")
    find(problems, "complaints", "severity", "outside")
    text = str(caught.value)
    assert text.count("\n- ") == len(problems) == 3  # unknown accounts are not checked without ids
    # Ordered as the contract lists tables.
    assert [p.table for p in problems] == ["accounts", "orders", "complaints"]


def test_examples_show_at_most_five_rows_and_count_them_all():
    tables = tiny_tables()
    tables["orders"]["account_id"] = "ZZ99"
    problem = find(problems_of(tables), "orders", "account_id", "12 row(s) reference")
    assert example_rows(problem) == [1, 2, 3, 4, 5]


def test_check_tables_collects_without_raising():
    tables = tiny_tables()
    tables["orders"].loc[0, "list_amount"] = -1.0
    typed, problems = check_tables(tables, TODAY)
    assert [(p.table, p.column) for p in problems] == [("orders", "list_amount")]
    assert set(typed) == set(TABLES)


# ---------------------------------------------------------------------------------------------
# As of a date


def test_as_seen_at_drops_later_rows_and_blanks_later_dates():
    typed = validate_tables(tiny_tables(), TODAY)
    as_of = pd.Timestamp("2024-07-01")
    seen = as_seen_at(typed, as_of)
    for name, spec in TABLES.items():
        if spec.date:
            assert (seen[name][spec.date].dropna() < as_of).all()
            kept = typed[name][~(typed[name][spec.date] >= as_of)]
            assert len(seen[name]) == len(kept)
    assert len(seen["accounts"]) == len(typed["accounts"])
    # O011 was ordered 2024-06-30 and delivered 2024-07-20: not yet delivered as of July.
    o011 = seen["orders"].set_index("order_id").loc["O011"]
    assert pd.isna(o011["delivered_date"])
    # C3, opened 2024-06-10 and resolved 2024-07-15, was still open.
    assert pd.isna(seen["complaints"].set_index("complaint_id").loc["C3", "resolved_at"])
    assert seen["outcomes"].empty


# ---------------------------------------------------------------------------------------------
# Properties


def _subset(tables: dict[str, pd.DataFrame], keep_accounts: list[bool], draw) -> dict[str, pd.DataFrame]:
    accounts = tables["accounts"][keep_accounts]
    out = {"accounts": accounts}
    for name, frame in tables.items():
        if name == "accounts":
            continue
        frame = frame[frame["account_id"].isin(accounts["account_id"])]
        mask = draw(st.lists(st.booleans(), min_size=len(frame), max_size=len(frame)))
        out[name] = frame[mask] if len(frame) else frame
    return out


@functools.cache
def _full() -> dict[str, pd.DataFrame]:
    return validate_tables(tiny_tables(), TODAY)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_subset_of_valid_rows_stays_valid(data):
    tables = tiny_tables()
    keep = data.draw(st.lists(st.booleans(), min_size=4, max_size=4))
    subset = _subset(tables, keep, data.draw)
    assume(len(subset["orders"]) > 0)
    typed = validate_tables(subset, TODAY)
    full = _full()
    for name, frame in typed.items():
        expected = full[name].loc[subset[name].index].reset_index(drop=True)
        # the same values; a coded column's categories are those its rows hold
        pd.testing.assert_frame_equal(frame, expected, check_categorical=False)


_GARBLE = [
    (name, column.name)
    for name, spec in TABLES.items()
    for column in spec.columns
    if column.kind in ("date", "float", "int")
]


@settings(max_examples=15, deadline=None)
@given(where=st.sampled_from(_GARBLE), row=st.integers(min_value=0), junk=st.sampled_from(["?", "n/a?", "1e", "--"]))
def test_any_garbled_value_is_reported_with_its_table_column_and_row(where, row, junk):
    table, column = where
    tables = tiny_tables()
    frame = tables[table].astype({column: "object"})
    row = row % len(frame)
    frame.loc[row, column] = junk
    tables[table] = frame
    problem = find(problems_of(tables), table, column, "are not")
    assert row + 1 in example_rows(problem)
    assert junk in problem.examples[column].tolist()


def test_garble_covers_every_typed_column_kind():
    kinds = {TABLES[t].column(c).kind for t, c in _GARBLE}
    assert kinds == {"date", "float", "int"}
    assert np.isin(["orders", "complaints", "accounts"], [t for t, _ in _GARBLE]).all()
