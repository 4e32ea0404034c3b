"""`data=sql` against the database servers a supplier runs (PostgreSQL, MariaDB), with the drivers
of `churnml[postgres]` and `churnml[mysql]`: Northwind through `conf/data/northwind.yaml` gives the
features of the same rows written to CSV, from either server; faults from a database get the same
answers as from files. Skipped, with the reason, where no server answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from churnml.cli import compose_config
from churnml.data.load import load_tables
from churnml.errors import ContractError
from churnml.features import build_features
from helpers.databases import MARIADB, POSTGRES, northwind_in_mariadb, northwind_in_postgres

pytestmark = pytest.mark.database
TODAY = pd.Timestamp("2026-11-27").date()


@pytest.fixture(scope="module")
def postgres() -> str:
    why = northwind_in_postgres()
    if why:
        pytest.skip(why)
    return POSTGRES


@pytest.fixture(scope="module")
def mariadb(postgres) -> str:
    why = northwind_in_mariadb()
    if why:
        pytest.skip(why)
    return MARIADB


def _northwind(tmp_path: Path, url: str, *more: str):
    return compose_config(["data=northwind", f"data.url={url}", f"paths.root={tmp_path}", *more])


def _features(config, tables) -> pd.DataFrame:
    frame = build_features(tables, config.features, config.labels)
    return frame.sort_values(["account_id", "snapshot"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def from_postgres(postgres, tmp_path_factory):
    config = _northwind(tmp_path_factory.mktemp("pg"), postgres)
    tables = load_tables(config.data, today=TODAY)
    return config, tables, _features(config, tables)


def test_northwind_from_postgres_gives_the_features_of_the_same_rows_in_csv(from_postgres, tmp_path):
    import sqlalchemy as sa

    config, tables, features = from_postgres
    assert len(tables["accounts"]) == 91 and len(tables["orders"]) == 2155
    # No contact person's details: the query selects none, and nothing else passes the contract.
    assert not {"contact_name", "phone", "address"} & set(tables["accounts"].columns)
    # The same queries' rows, written as the CSV files a user would export.
    folder = tmp_path / "csv"
    folder.mkdir()
    engine = sa.create_engine(config.data.url)
    with engine.connect() as conn:
        for name in ("accounts", "orders"):
            pd.read_sql_query(config.data.tables[name].query, conn).to_csv(folder / f"{name}.csv", index=False)
    engine.dispose()
    files = compose_config(["data=files", f"data.dir={folder}", f"paths.root={tmp_path}"])
    from_csv = load_tables(files.data, today=TODAY)
    for name in ("accounts", "orders"):
        pd.testing.assert_frame_equal(tables[name], from_csv[name], check_dtype=False, rtol=1e-6)
    pd.testing.assert_frame_equal(features, _features(files, from_csv), rtol=1e-6)
    assert features["in_scope"].any() and features["churn"].notna().any()


def test_northwind_from_mariadb_gives_the_same_features(from_postgres, mariadb, tmp_path):
    config = _northwind(tmp_path, mariadb)
    tables = load_tables(config.data, today=TODAY)
    _, pg_tables, pg_features = from_postgres
    for name in ("accounts", "orders"):
        mine = tables[name].sort_values(tables[name].columns[0]).reset_index(drop=True)
        theirs = pg_tables[name].sort_values(pg_tables[name].columns[0]).reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, theirs, check_dtype=False, rtol=1e-5)
    # PostgreSQL multiplies Northwind's `real` prices in single precision, MariaDB in double.
    pd.testing.assert_frame_equal(_features(config, tables), pg_features, check_dtype=False, rtol=1e-4)


@pytest.mark.parametrize(
    "query, words",
    [
        ("SELECT customer_id AS account_id FROM no_such_table", ["the query failed", "no_such_table",
                                                                 "data.tables.accounts.query"]),
        ("SELECT company_name AS name FROM customers", ["account_id", "required column is missing"]),
        ("SELECT customer_id AS account_id, company_name AS employees FROM customers", ["employees"]),
        ("SELECT 'ALFKI' AS account_id FROM customers", ["account_id", "duplicate"]),
    ],
    ids=["query fails", "missing column", "wrong type", "duplicate keys"],
)
@pytest.mark.parametrize("server", ["postgres", "mariadb"])
def test_bad_input_from_a_database_is_one_clear_report(server, query, words, request, tmp_path):
    url = request.getfixturevalue(server)
    config = _northwind(tmp_path, url, f"data.tables.accounts.query={query!r}")
    with pytest.raises(ContractError) as caught:
        load_tables(config.data, today=TODAY)
    accounts = [p for p in caught.value.problems if p.table == "accounts"]
    text = caught.value.render()
    assert accounts and all(w in text for w in words), text


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:9/test",  # nothing listens
        "postgresql+psycopg://postgres@127.0.0.1:5432/no_such_database",  # refused
        "mysql+pymysql://nobody:s3cret@127.0.0.1:3306/test",  # login refused
    ],
    ids=["postgres down", "postgres refuses the database", "mariadb refuses the login"],
)
def test_a_database_that_is_down_or_refuses_is_one_line_and_exit_1(postgres, url, tmp_path):
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "churnml.cli", "run", "data=northwind", f"data.url={url}",
                           f"paths.root={tmp_path}"], capture_output=True, text=True)
    assert proc.returncode == 1 and time.perf_counter() - started < 15
    errors = [line for line in proc.stderr.splitlines() + proc.stdout.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and "cannot reach the database at data.url=" in errors[0], proc.stdout + proc.stderr
    assert "s3cret" not in proc.stdout + proc.stderr and "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "models").exists()


def test_the_fingerprint_of_a_database_notices_a_changed_table(postgres, tmp_path):
    import sqlalchemy as sa

    from churnml.catalog import inputs_fingerprint

    scratch = f"churnml_accounts_{os.getpid()}"
    engine = sa.create_engine(postgres)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {scratch} AS SELECT customer_id, company_name, country FROM customers"))
    try:
        config = _northwind(tmp_path, postgres, "data.tables.accounts.query='SELECT customer_id AS account_id, "
                            f"company_name AS name, country AS region FROM {scratch}'")
        before = inputs_fingerprint(config, load_tables(config.data, today=TODAY))
        assert before == inputs_fingerprint(config, load_tables(config.data, today=TODAY))
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {scratch} SET country = 'Atlantis' WHERE customer_id = 'ALFKI'"))
        assert inputs_fingerprint(config, load_tables(config.data, today=TODAY)) != before
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {scratch}"))
        engine.dispose()
