"""The loader: CSV, Parquet and SQLite sources, column mapping, the privacy guard, as-of, and every
reading problem reported together with the contract's."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.config import DataConfig, TableSource
from churnml.data.contract import TABLES, validate_tables
from churnml.data.load import load_tables, table_files
from churnml.errors import ConfigError, ContractError, Problem
from helpers.contract_frames import TODAY, find, tiny_tables, write_tables


def load(folder: Path, fmt: str = "csv", **kwargs) -> dict[str, pd.DataFrame]:
    kwargs.setdefault("source", "files")
    return load_tables(DataConfig(dir=str(folder), format=fmt, **kwargs), today=TODAY)


def problems_loading(folder: Path, fmt: str = "csv", **kwargs) -> list[Problem]:
    with pytest.raises(ContractError) as caught:
        load(folder, fmt, **kwargs)
    return caught.value.problems


def write_sqlite(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        for name, frame in tables.items():
            frame.to_sql(name, conn, index=False)
    return path


def sql_config(db: Path, queries: dict[str, str] | None = None) -> DataConfig:
    queries = queries or {name: f"SELECT * FROM {name}" for name in TABLES}
    return DataConfig(
        source="sql", url=f"sqlite:///{db}", tables={t: TableSource(query=q) for t, q in queries.items()}
    )


@pytest.fixture
def csv_dir(tmp_path: Path) -> Path:
    return write_tables(tiny_tables(), tmp_path / "csv", "csv")


# ---------------------------------------------------------------------------------------------
# Sources


def test_csv_parquet_and_sqlite_give_identical_frames(tmp_path: Path):
    from_csv = load(write_tables(tiny_tables(), tmp_path / "csv", "csv"), "csv")
    from_parquet = load(write_tables(tiny_tables(), tmp_path / "pq", "parquet"), "parquet")
    db = write_sqlite(tiny_tables(), tmp_path / "extract.db")
    from_sql = load_tables(sql_config(db), today=TODAY)
    assert set(from_csv) == set(from_parquet) == set(from_sql) == set(TABLES)
    for name in TABLES:
        pd.testing.assert_frame_equal(from_parquet[name], from_csv[name], obj=name)
        pd.testing.assert_frame_equal(from_sql[name], from_csv[name], obj=name)
    # ...and equal to what was written, in the contract's dtypes.
    expected = tiny_tables()["orders"].astype(from_csv["orders"].dtypes.to_dict())
    pd.testing.assert_frame_equal(from_csv["orders"], expected)


def test_parquet_dates_and_other_formats_in_one_folder(tmp_path: Path):
    folder = write_tables(tiny_tables(), tmp_path / "mixed", "parquet")
    (folder / "orders.parquet").unlink()
    tiny_tables()["orders"].to_csv(folder / "orders.csv", index=False)
    tables = load(folder, "parquet")
    assert str(tables["orders"]["order_date"].dtype) == "datetime64[ns]"
    assert str(tables["accounts"]["since"].dtype) == "datetime64[ns]"
    assert len(tables["orders"]) == 12


def test_table_paths_relative_to_dir_or_absolute(tmp_path: Path):
    tables = tiny_tables()
    folder = write_tables({k: v for k, v in tables.items() if k != "orders"}, tmp_path / "dir")
    (tmp_path / "erp").mkdir()
    tables["orders"].to_csv(tmp_path / "erp" / "order_lines.csv", index=False)
    tables["accounts"].to_parquet(tmp_path / "crm.parquet", index=False)
    loaded = load(
        folder,
        tables={
            "orders": TableSource(path="../erp/order_lines.csv"),
            "accounts": TableSource(path=str(tmp_path / "crm.parquet")),
        },
    )
    assert len(loaded["orders"]) == 12 and len(loaded["accounts"]) == 4


def test_sql_query_with_a_colon_in_a_literal_and_a_join(tmp_path: Path):
    db = write_sqlite(tiny_tables(), tmp_path / "extract.db")
    queries = {
        "accounts": "SELECT * FROM accounts",
        # A ':' in a literal is not a bind parameter.
        "orders": "SELECT o.* FROM orders o JOIN accounts a USING (account_id) "
        "WHERE o.order_date < '2024-01-01 00:00:00'",
    }
    loaded = load_tables(sql_config(db, queries), today=TODAY)
    assert set(loaded) == {"accounts", "orders"}
    assert (loaded["orders"]["order_date"] < "2024-01-01").all() and len(loaded["orders"]) == 7


def test_a_failed_sql_query_is_a_problem(tmp_path: Path):
    db = write_sqlite(tiny_tables(), tmp_path / "extract.db")
    queries = {"accounts": "SELECT * FROM accounts", "orders": "SELECT * FROM order_lines",
               "complaints": "SELEC nonsense"}
    with pytest.raises(ContractError) as caught:
        load_tables(sql_config(db, queries), today=TODAY)
    problems = caught.value.problems
    assert "order_lines" in find(problems, "orders", None, "the query failed").problem
    find(problems, "complaints", None, "the query failed")


def test_sql_without_a_query_for_a_required_table(tmp_path: Path):
    db = write_sqlite(tiny_tables(), tmp_path / "extract.db")
    with pytest.raises(ContractError) as caught:
        load_tables(sql_config(db, {"orders": "SELECT * FROM orders"}), today=TODAY)
    find(caught.value.problems, "accounts", None, "set data.tables.accounts.query")


def test_a_missing_sqlite_file_is_a_config_error_and_is_not_created(tmp_path: Path):
    db = tmp_path / "nope.db"
    with pytest.raises(ConfigError, match="data.url"):
        load_tables(sql_config(db), today=TODAY)
    assert not db.exists()


# ---------------------------------------------------------------------------------------------
# Columns: mapping and the privacy guard


def test_column_mapping_from_the_users_names(tmp_path: Path):
    tables = tiny_tables()
    tables["orders"] = tables["orders"].rename(columns={"account_id": "customer_no", "net_amount": "net_value_eur"})
    # The user's frame also has an unrelated column under a contract name: the mapping wins.
    tables["orders"]["account_id"] = "IGNORED"
    folder = write_tables(tables, tmp_path / "mapped")
    mapped = load(
        folder,
        tables={"orders": TableSource(columns={"account_id": "customer_no", "net_amount": "net_value_eur"})},
    )
    plain = load(write_tables(tiny_tables(), tmp_path / "plain"))
    pd.testing.assert_frame_equal(mapped["orders"], plain["orders"])


def test_a_mapping_to_a_column_that_is_not_there(csv_dir: Path):
    problem = find(
        problems_loading(csv_dir, tables={"orders": TableSource(columns={"net_amount": "net_eur"})}),
        "orders",
        "net_amount",
        "maps it to 'net_eur'",
    )
    assert "order_id" in problem.problem  # the columns that were found


def test_extra_and_personal_columns_never_enter_the_pipeline(tmp_path: Path):
    tables = tiny_tables()
    tables["contacts"]["full_name"] = ["Jane Roe", "John Doe", "Ann Poe"]
    tables["contacts"]["email"] = ["jane@acme.example", "john@b.example", "ann@acme.example"]
    tables["accounts"]["lost_flag"] = [0, 1, 0, 0]
    for fmt in ("csv", "parquet"):
        loaded = load(write_tables(tables, tmp_path / fmt, fmt), fmt)
        assert list(loaded["contacts"].columns) == TABLES["contacts"].names
        assert list(loaded["accounts"].columns) == TABLES["accounts"].names
    # Even when the contacts table is broken, the report shows no personal details.
    tables["contacts"].loc[1, "contact_id"] = "P1"
    tables["contacts"].loc[2, "account_id"] = "ZZ"
    with pytest.raises(ContractError) as caught:
        load(write_tables(tables, tmp_path / "broken"))
    text = str(caught.value)
    assert "contacts.contact_id" in text and "contacts.account_id" in text
    assert "Jane" not in text and "@" not in text and "full_name" not in text


def test_absent_optional_tables_are_missing_from_the_result(tmp_path: Path):
    tables = {k: v for k, v in tiny_tables().items() if k in ("accounts", "orders", "outcomes")}
    loaded = load(write_tables(tables, tmp_path / "few"))
    assert set(loaded) == {"accounts", "orders", "outcomes"}


def test_table_files_lists_what_exists(tmp_path: Path):
    folder = write_tables({k: v for k, v in tiny_tables().items() if k in ("accounts", "orders")}, tmp_path / "d")
    found = table_files(DataConfig(dir=str(folder), format="parquet"))
    assert found == {"accounts": folder / "accounts.csv", "orders": folder / "orders.csv"}
    assert table_files(DataConfig(dir=str(tmp_path / "empty"))) == {}


# ---------------------------------------------------------------------------------------------
# As of


def test_rows_on_or_after_as_of_are_dropped_not_rejected(tmp_path: Path):
    tables = tiny_tables()
    folder = write_tables(tables, tmp_path / "asof")
    as_of = pd.Timestamp("2024-01-19")  # O008 is dated exactly then
    cfg = DataConfig(dir=str(folder))
    loaded = load_tables(cfg, as_of=as_of, today=TODAY)
    full = load_tables(cfg, today=TODAY)
    assert loaded["orders"]["order_id"].tolist() == [f"O{i:03d}" for i in range(1, 8)]
    assert (loaded["orders"]["order_date"] < as_of).all()
    assert len(full["orders"]) == 12
    assert len(loaded["accounts"]) == 4
    # Still checked in full: a future typo after the as-of is still an error.
    tables["orders"].loc[11, "order_date"] = pd.Timestamp("2204-08-12")
    write_tables(tables, folder)
    with pytest.raises(ContractError, match="later than today"):
        load_tables(cfg, as_of=as_of, today=TODAY)


# ---------------------------------------------------------------------------------------------
# Reading problems


def test_a_missing_file_for_a_required_table(csv_dir: Path):
    (csv_dir / "orders.csv").unlink()
    problem = find(problems_loading(csv_dir), "orders", None, "required table is missing")
    assert str(csv_dir / "orders.csv") in problem.problem


def test_a_missing_file_the_config_points_at(csv_dir: Path):
    problems = problems_loading(csv_dir, tables={"complaints": TableSource(path="crm/complaints.csv")})
    find(problems, "complaints", None, "no file")


def test_an_unreadable_file(csv_dir: Path, tmp_path: Path):
    folder = write_tables(tiny_tables(), tmp_path / "pq", "parquet")
    (folder / "orders.parquet").write_bytes(b"PAR1 this is not really parquet")
    find(problems_loading(folder, "parquet"), "orders", None, "cannot read")
    (csv_dir / "complaints.csv").write_bytes(b"\xff\xfe\x00\x81\x00binary")
    find(problems_loading(csv_dir), "complaints", None, "not UTF-8")


def test_an_empty_file(csv_dir: Path):
    (csv_dir / "accounts.csv").write_text("")
    problems = problems_loading(csv_dir)
    find(problems, "accounts", None, "is empty")
    # Not reported a second time as a missing table.
    assert [p.table for p in problems] == ["accounts"]


def test_a_header_only_orders_file_is_an_empty_orders_table(csv_dir: Path):
    (csv_dir / "orders.csv").write_text(",".join(TABLES["orders"].names) + "\n")
    find(problems_loading(csv_dir), "orders", None, "no rows")


def test_a_csv_with_the_wrong_delimiter(csv_dir: Path):
    tiny_tables()["orders"].to_csv(csv_dir / "orders.csv", index=False, sep=";")
    problems = problems_loading(csv_dir)
    find(problems, "orders", None, "looks like the delimiter is ';'")
    assert [p.table for p in problems] == ["orders"]  # not also every missing column
    # Saying so in the config reads it.
    (csv_dir / "accounts.csv").unlink()
    tiny_tables()["accounts"].to_csv(csv_dir / "accounts.csv", index=False, sep=";")
    for name in ("complaints", "competitor_signals", "interactions", "contacts", "outcomes"):
        (csv_dir / f"{name}.csv").unlink()
    assert len(load(csv_dir, delimiter=";")["orders"]) == 12


def test_a_date_column_full_of_text_in_a_file(csv_dir: Path):
    orders = tiny_tables()["orders"]
    orders["order_date"] = "next week"
    orders.to_csv(csv_dir / "orders.csv", index=False)
    find(problems_loading(csv_dir), "orders", "order_date", "12 value(s) are not dates")


def test_reading_and_contract_problems_across_tables_in_one_report(csv_dir: Path):
    (csv_dir / "complaints.csv").write_bytes(b"\x00\xff\xfe")
    orders = tiny_tables()["orders"]
    orders.loc[3, "list_amount"] = -5
    orders.to_csv(csv_dir / "orders.csv", index=False)
    contacts = tiny_tables()["contacts"].drop(columns=["contact_id"])
    contacts.to_csv(csv_dir / "contacts.csv", index=False)
    problems = problems_loading(csv_dir)
    find(problems, "orders", "list_amount", "negative")
    find(problems, "complaints", None, "cannot read")
    problem = find(problems, "contacts", "contact_id", "required column is missing")
    assert "role" in problem.problem  # names the columns that are there
    assert [p.table for p in problems] == ["orders", "complaints", "contacts"]


# ---------------------------------------------------------------------------------------------
# Configuration that cannot work


@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"format": "xlsx"}, "data.format"),
        ({"source": "excel"}, "data.source"),
        ({"tables": {"order": TableSource()}}, "data.tables.order"),
        ({"tables": {"orders": TableSource(columns={"amount": "x"})}}, "data.tables.orders.columns.amount"),
        ({"delimiter": ";;"}, "data.delimiter"),
    ],
)
def test_config_errors_name_the_parameter(csv_dir: Path, kwargs, names):
    fmt = kwargs.pop("format", "csv")
    with pytest.raises(ConfigError) as caught:
        load(csv_dir, fmt, **kwargs)
    assert names in str(caught.value)


def test_sql_without_url_is_a_config_error():
    with pytest.raises(ConfigError, match="data.url"):
        load_tables(DataConfig(source="sql"), today=TODAY)


# ---------------------------------------------------------------------------------------------
# Property: renaming columns and mapping them back round-trips


_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_ ÄÖü0123456789", min_size=1, max_size=12)


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_renamed_columns_with_a_mapping_load_like_the_original(data):
    table = data.draw(st.sampled_from(["accounts", "orders", "complaints"]))
    names = TABLES[table].names
    new = data.draw(st.lists(_names, min_size=len(names), max_size=len(names), unique=True))
    chosen = data.draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
    mapping = {c: n for c, n, use in zip(names, new, chosen) if use and n not in names}
    tables = {k: v for k, v in tiny_tables().items() if k in ("accounts", "orders", table)}
    tables[table] = tables[table].rename(columns=mapping)
    fmt = data.draw(st.sampled_from(["csv", "parquet"]))
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load(write_tables(tables, Path(tmp), fmt), fmt, tables={table: TableSource(columns=mapping)})
    # Loading the unrenamed tables gives the validated originals (the CSV/Parquet/SQL test).
    expected = validate_tables(tiny_tables(), TODAY)[table]
    pd.testing.assert_frame_equal(loaded[table], expected)
