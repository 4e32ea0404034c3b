"""Tiny hand-made input tables that keep the contract, for the contract, loader and validate tests.

Four accounts (A4 never ordered), a dozen order lines in 2023–2024 and a row or two in each
optional table. Built fresh on every call, so a test can break a copy freely.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

TODAY = date(2025, 6, 30)


def _d(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)), dtype="datetime64[ns]")


def tiny_tables() -> dict[str, pd.DataFrame]:
    """All seven tables, typed as the loader returns them (except that no column is missing)."""
    accounts = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4"],
            "name": ["Acme Steel", "Borealis Foods", "Carbo Chem", "Delta Paper"],
            "industry": ["metals", "food", "chemicals", "paper"],
            "region": ["north", "NA", "south", "north"],
            "tier": ["key", "key", "major", "standard"],
            "account_manager": ["kim", "lee", "kim", "ola"],
            "since": _d("2019-03-01", "2020-07-15", None, "2022-01-10"),
            "employees": pd.array([1200, 300, None, 45], dtype="Int64"),
            "category_spend": [2.5e6, 4.0e5, 9.0e5, None],
            "contract_end": _d("2026-12-31", None, "2025-03-31", None),
            "influence": [0.9, 0.2, None, 0.0],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i:03d}" for i in range(1, 13)],
            "account_id": ["A1", "A1", "A1", "A2", "A2", "A3", "A1", "A3", "A2", "A1", "A3", "A1"],
            "order_date": _d(
                "2023-01-05", "2023-02-10", "2023-04-21", "2023-05-02", "2023-07-30", "2023-09-14",
                "2023-11-03", "2024-01-19", "2024-02-29", "2024-05-07", "2024-06-30", "2024-08-12",
            ),
            "net_amount": [1200.5, 800.0, -150.0, 430.25, 510.0, 99.9, 2000.0, 75.0, 600.0, 1500.0, 20.0, 900.0],
            "product_line": ["valves", "pumps", "valves", "seals", None, "pumps", "valves", "seals", "seals",
                             "pumps", "valves", "pumps"],
            "quantity": [10.0, 4.0, -1.0, 20.0, 25.0, 1.0, 16.0, 3.0, 30.0, 12.0, 1.0, 7.5],
            "list_amount": [1400.0, 800.0, 0.0, 500.0, 600.0, 120.0, 2300.0, None, 640.0, 1700.0, 25.0, 1000.0],
            "custom": pd.array([True, False, False, None, False, True, True, False, False, True, None, False],
                               dtype="boolean"),
            "promised_date": _d(
                "2023-01-20", "2023-02-24", None, "2023-05-16", "2023-08-14", "2023-09-28",
                "2023-11-17", "2024-02-02", "2024-03-14", "2024-05-21", "2024-07-14", "2024-08-26",
            ),
            "delivered_date": _d(
                "2023-01-19", "2023-03-01", None, "2023-05-16", "2023-08-20", "2023-09-27",
                "2023-11-17", "2024-02-09", "2024-03-14", "2024-05-20", "2024-07-20", None,
            ),
        }
    )
    complaints = pd.DataFrame(
        {
            "complaint_id": ["C1", "C2", "C3"],
            "account_id": ["A1", "A2", "A1"],
            "opened_at": _d("2023-03-01", "2023-08-01", "2024-06-10"),
            "resolved_at": _d("2023-03-20", None, "2024-07-15"),
            "category": ["quality", "delivery", "service"],
            "severity": pd.array([2, 3, 1], dtype="Int64"),
        }
    )
    competitor_signals = pd.DataFrame(
        {
            "signal_id": ["S1", "S2"],
            "account_id": ["A2", "A1"],
            "observed_at": _d("2023-10-02", "2024-07-01"),
            "competitor": ["Rival AG", "Other Ltd"],
            "kind": ["quote", "trial_order"],
            "price_gap": [-0.12, None],
        }
    )
    interactions = pd.DataFrame(
        {
            "account_id": ["A1", "A1", "A3"],
            "occurred_at": _d("2023-06-01", "2024-06-15", "2023-12-12"),
            "kind": ["exec_visit", "business_review", "sales_visit"],
        }
    )
    contacts = pd.DataFrame(
        {
            "contact_id": ["P1", "P2", "P3"],
            "account_id": ["A1", "A2", "A1"],
            "role": ["decision_maker", "buyer", "technical"],
            "start_date": _d("2018-01-01", "2020-07-15", "2024-07-01"),
            "end_date": _d(None, "2024-04-30", None),
        }
    )
    outcomes = pd.DataFrame(
        {
            "account_id": ["A2"],
            "lost_at": _d("2024-09-01"),
            "reason": ["competitor"],
            "competitor": ["Rival AG"],
        }
    )
    return {
        "accounts": accounts,
        "orders": orders,
        "complaints": complaints,
        "competitor_signals": competitor_signals,
        "interactions": interactions,
        "contacts": contacts,
        "outcomes": outcomes,
    }


def write_tables(tables: dict[str, pd.DataFrame], folder: Path, fmt: str = "csv") -> Path:
    """Write each table to `<folder>/<table>.<fmt>` as a user's export would look; returns folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def find(problems: list, table: str, column: str | None, words: str):
    """The problem of `table.column` whose text contains `words`; fails listing every problem."""
    hits = [p for p in problems if p.table == table and p.column == column and words in p.problem]
    listing = "\n".join(p.render() for p in problems)
    assert hits, f"no problem {table}.{column} '{words}' in:\n{listing}"
    return hits[0]
