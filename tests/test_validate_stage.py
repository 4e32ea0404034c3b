"""`churnml validate` through the real CLI, and the pure summary helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnml.cli import main
from churnml.data.summary import summarize_tables, top_revenue_share
from helpers.contract_frames import tiny_tables, write_tables


def listing(root: Path) -> dict[str, float]:
    """Every path under root (but Hydra's own outputs/) with its modification time."""
    return {
        str(p.relative_to(root)): p.stat().st_mtime
        for p in root.rglob("*")
        if p.relative_to(root).parts[0] != "outputs"
    }


def job_log(root: Path) -> str:
    logs = sorted((root / "outputs").rglob("validate.log"), key=os.path.getmtime)
    return logs[-1].read_text()


def validate(root: Path, *overrides: str) -> int:
    return main(["validate", f"paths.root={root}", "today=2025-06-30", *overrides])


def test_validate_good_data_exits_0_and_prints_the_summary(tmp_path: Path, capsys):
    folder = write_tables(tiny_tables(), tmp_path / "in", "csv")
    before = listing(tmp_path)
    assert validate(tmp_path, "data=files", f"data.dir={folder}") == 0
    out = capsys.readouterr().out
    for name in ("accounts", "orders", "complaints", "outcomes", "2024-08-12"):
        assert name in out
    share = top_revenue_share(tiny_tables())
    assert f"{100 * share:.1f} %" in out
    assert listing(tmp_path) == before  # wrote nothing
    assert "orders: 12 rows, 3 accounts" in job_log(tmp_path)


def test_validate_broken_data_exits_2_lists_everything_and_writes_nothing(tmp_path: Path):
    tables = tiny_tables()
    tables["orders"].loc[2, "list_amount"] = -10.0
    tables["orders"].loc[5, "order_date"] = pd.Timestamp("2204-09-14")
    tables["complaints"].loc[0, "severity"] = 9
    tables["outcomes"].loc[0, "account_id"] = "ZZ99"
    folder = write_tables(tables, tmp_path / "in", "parquet")
    before = listing(tmp_path)
    assert validate(tmp_path, "data=files", f"data.dir={folder}", "data.format=parquet") == 2
    assert listing(tmp_path) == before
    log = job_log(tmp_path)
    assert "(4 problem(s))" in log
    for where in ("orders.list_amount", "orders.order_date", "complaints.severity", "outcomes.account_id"):
        assert where in log
    assert "Traceback" not in log
    assert log.count("breaks the contract") == 1  # printed once


def test_validate_as_of_keeps_earlier_rows(tmp_path: Path, capsys):
    folder = write_tables(tiny_tables(), tmp_path / "in")
    assert validate(tmp_path, "data=files", f"data.dir={folder}", "score.as_of=2024-01") == 0
    assert "orders: 7 rows" in job_log(tmp_path)
    assert "as of 2024-01" in capsys.readouterr().out


@pytest.mark.parametrize("override, name", [("score.as_of=2024-13", "score.as_of"), ("today=yesterday", "today")])
def test_validate_bad_dates_in_the_config_exit_2(tmp_path: Path, override: str, name: str):
    folder = write_tables(tiny_tables(), tmp_path / "in")
    assert validate(tmp_path, "data=files", f"data.dir={folder}", override) == 2
    assert name in job_log(tmp_path)


def test_validate_maps_columns_and_paths_from_the_command_line(tmp_path: Path):
    tables = tiny_tables()
    orders = tables.pop("orders").rename(columns={"account_id": "customer_no"})
    folder = write_tables(tables, tmp_path / "in")
    (tmp_path / "erp").mkdir()
    orders.to_csv(tmp_path / "erp" / "lines.csv", index=False, sep=";")
    overrides = ["data=files", f"data.dir={folder}", "data.tables.orders.path=../erp/lines.csv"]
    assert validate(tmp_path, *overrides, "+data.tables.orders.columns.account_id=customer_no") == 2
    assert "looks like the delimiter is ';'" in job_log(tmp_path)
    orders.to_csv(tmp_path / "erp" / "lines.csv", index=False)
    assert validate(tmp_path, *overrides, "+data.tables.orders.columns.account_id=customer_no") == 0
    assert "orders: 12 rows, 3 accounts" in job_log(tmp_path)


def test_validate_synthetic_without_tables_points_at_generate(tmp_path: Path):
    assert validate(tmp_path) == 2
    log = job_log(tmp_path)
    assert "churnml generate" in log and "no tables" in log
    assert not (tmp_path / "data").exists()


def test_validate_sql_source(tmp_path: Path):
    import sqlite3

    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        for name, frame in tiny_tables().items():
            frame.to_sql(name, conn, index=False)
    assert validate(tmp_path, "data=sql", f"data.url=sqlite:///{db}") == 0
    assert "orders: 12 rows" in job_log(tmp_path)


# ---------------------------------------------------------------------------------------------
# Summary helpers


def test_summarize_tables_counts_rows_accounts_and_date_ranges():
    tables = tiny_tables()
    summary = summarize_tables(tables).set_index("table")
    assert list(summary.index) == list(tables)
    for name, frame in tables.items():
        assert summary.loc[name, "rows"] == len(frame)
        assert summary.loc[name, "accounts"] == frame["account_id"].nunique()
    assert summary.loc["orders", "first"] == tables["orders"]["order_date"].min()
    assert summary.loc["complaints", "last"] == tables["complaints"]["opened_at"].max()


def test_top_revenue_share_against_a_direct_count():
    rng = np.random.default_rng(3)
    n = 50
    ids = [f"K{i}" for i in range(n)]
    revenue = rng.pareto(1.2, n) * 1000
    orders = pd.DataFrame({"account_id": np.repeat(ids, 2), "net_amount": np.repeat(revenue / 2, 2)})
    accounts = pd.DataFrame({"account_id": ids})
    share = top_revenue_share({"accounts": accounts, "orders": orders})
    top10 = np.sort(revenue)[::-1][:10].sum()
    assert share == pytest.approx(top10 / revenue.sum())
    # Equal accounts: the top fifth earns a fifth.
    flat = pd.DataFrame({"account_id": ids, "net_amount": 1.0})
    assert top_revenue_share({"accounts": accounts, "orders": flat}) == pytest.approx(0.2)


def test_top_revenue_share_counts_accounts_without_orders():
    accounts = pd.DataFrame({"account_id": ["A", "B", "C", "D", "E"]})
    orders = pd.DataFrame({"account_id": ["A", "B"], "net_amount": [30.0, 70.0]})
    # One account in the top fifth of five: B, with 70 of 100.
    assert top_revenue_share({"accounts": accounts, "orders": orders}) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="top"):
        top_revenue_share({"accounts": accounts, "orders": orders}, top=0)
