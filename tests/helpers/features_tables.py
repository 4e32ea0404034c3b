"""Contract-typed input tables for the features and labels tests: a builder for hand-written rows,
a small random world (a few accounts, a few years, every table) for property tests, and
`perturb`, which changes everything dated on or after a given day."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnml.data.contract import TABLES

KEY_PREFIX = {"orders": "O", "complaints": "C", "competitor_signals": "S", "contacts": "P"}


def typed(table: str, rows: list[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """A frame with every contract column of `table` in the loader's dtypes; columns not given
    are all-missing, a missing key is numbered."""
    spec = TABLES[table]
    frame = pd.DataFrame(rows)
    n = len(frame)
    out = {}
    for name, dtype in spec.dtypes.items():
        if name in frame:
            values = frame[name]
        elif name == spec.key:
            values = pd.Series([f"{KEY_PREFIX.get(table, 'K')}{i:05d}" for i in range(n)])
        else:
            values = pd.Series([None] * n, dtype=object)
        if dtype.startswith("datetime64"):
            out[name] = pd.to_datetime(values).astype("datetime64[ns]")
        elif dtype == "str":
            out[name] = values.astype(object).where(values.notna(), None).astype("str")
        else:
            out[name] = values.astype(object).where(values.notna(), None).astype(dtype)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def tables(**rows: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Typed tables from rows per table name, e.g. `tables(accounts=[...], orders=[...])`."""
    return {name: typed(name, r) for name, r in rows.items()}


def _dates(rng: np.random.Generator, start: pd.Timestamp, days: int, n: int) -> pd.Series:
    return pd.Series(start + pd.to_timedelta(rng.integers(0, days, n), unit="D"))


def random_tables(
    seed: int, n_accounts: int = 6, months: int = 30, start: str = "2020-01-01"
) -> dict[str, pd.DataFrame]:
    """A small random world with all seven tables and every optional column partly filled.

    Accounts start and stop ordering at random months (so some churn, some are young), orders
    include credit notes, complaints may stay open, contacts come and go.
    """
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    span = (t0 + pd.DateOffset(months=months) - t0).days
    ids = [f"A{i}" for i in range(n_accounts)]

    def maybe(values, p=0.15):
        values = pd.Series(values, dtype=object)
        return values.where(rng.random(len(values)) > p, None)

    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "industry": maybe(rng.choice(["metals", "food"], n_accounts), 0.1),
            "region": maybe(rng.choice(["north", "south"], n_accounts)),
            "tier": maybe(rng.choice(["key", "major"], n_accounts)),
            "since": maybe(_dates(rng, t0 - pd.DateOffset(years=2), span + 700, n_accounts), 0.4),
            "employees": maybe(rng.integers(10, 5000, n_accounts)),
            "category_spend": maybe(rng.uniform(1e4, 1e6, n_accounts).round(2)),
            "contract_end": maybe(_dates(rng, t0, span + 700, n_accounts), 0.3),
            "influence": maybe(rng.uniform(0, 1, n_accounts).round(2)),
        }
    )

    order_rows = []
    for acc in ids:
        first = rng.integers(0, months // 2)
        last = rng.integers(first + 1, months + 1)
        n = rng.integers(3, 30)
        days = rng.integers(first * 30, min(last * 30, span), n)
        for d in days:
            order_rows.append((acc, t0 + pd.Timedelta(days=int(d))))
    n = len(order_rows)
    o_acc, o_date = zip(*order_rows)
    o_date = pd.Series(o_date)
    net = rng.lognormal(7, 1, n).round(2) * np.where(rng.random(n) < 0.08, -0.3, 1.0)
    promised = o_date + pd.to_timedelta(rng.integers(5, 30, n), unit="D")
    delivered = promised + pd.to_timedelta(rng.integers(-6, 12, n), unit="D")
    orders = pd.DataFrame(
        {
            "account_id": o_acc,
            "order_date": o_date,
            "net_amount": net,
            "product_line": maybe(rng.choice(["valves", "pumps", "seals", "hoses"], n)),
            "quantity": rng.integers(1, 50, n).astype(float),
            "list_amount": maybe(np.abs(net) * rng.uniform(1.0, 1.3, n)),
            "custom": maybe(rng.random(n) < 0.3, 0.2),
            "promised_date": maybe(promised, 0.1),
            "delivered_date": maybe(delivered, 0.2),
        }
    )

    def events(n: int) -> tuple[np.ndarray, pd.Series]:
        return rng.choice(ids, n), _dates(rng, t0, span, n)

    acc, opened = events(16)
    complaints = pd.DataFrame(
        {
            "account_id": acc,
            "opened_at": opened,
            "resolved_at": maybe(opened + pd.to_timedelta(rng.integers(0, 120, 16), unit="D"), 0.25),
            "category": maybe(rng.choice(["quality", "Delivery", "service", "price", "odd"], 16)),
            "severity": maybe(rng.integers(1, 4, 16)),
        }
    )
    acc, seen = events(16)
    signals = pd.DataFrame(
        {
            "account_id": acc,
            "observed_at": seen,
            "competitor": maybe(rng.choice(["Rival", "Other"], 16)),
            "kind": maybe(rng.choice(["quote", "visit", "trial_order", "tender_lost", "price_cut", "gossip"], 16)),
            "price_gap": maybe(rng.uniform(-0.3, 0.1, 16).round(3), 0.3),
        }
    )
    acc, when = events(24)
    interactions = pd.DataFrame(
        {
            "account_id": acc,
            "occurred_at": when,
            "kind": rng.choice(
                ["exec_visit", "sales_visit", "business_review", "training", "joint_development", "dinner"], 24
            ),
        }
    )
    acc, began = events(12)
    began = began - pd.to_timedelta(rng.integers(0, 400, 12), unit="D")
    contacts = pd.DataFrame(
        {
            "account_id": acc,
            "role": maybe(rng.choice(["decision_maker", "buyer", "technical", "decision_maker"], 12)),
            "start_date": maybe(began, 0.2),
            "end_date": maybe(began + pd.to_timedelta(rng.integers(30, 700, 12), unit="D"), 0.4),
        }
    )
    acc, lost = events(3)
    outcomes = pd.DataFrame(
        {
            "account_id": acc,
            "lost_at": lost,
            "reason": maybe(rng.choice(["competitor", "business_decline", "other"], 3), 0.1),
        }
    )
    raw = {
        "accounts": accounts,
        "orders": orders,
        "complaints": complaints,
        "competitor_signals": signals,
        "interactions": interactions,
        "contacts": contacts,
        "outcomes": outcomes,
    }
    return {name: typed(name, frame) for name, frame in raw.items()}


def monthly(account: str, first: str, amounts: list[float]) -> list[dict]:
    """One order on the 15th of each month from `first`, with the given net amounts (0: none)."""
    months = pd.period_range(first, periods=len(amounts), freq="M")
    return [
        {"account_id": account, "order_date": m.to_timestamp() + pd.Timedelta(days=14), "net_amount": a}
        for m, a in zip(months, amounts)
        if a != 0
    ]


def _random_day_from(t: pd.Timestamp, rng: np.random.Generator, n: int) -> pd.Series:
    return pd.Series(t + pd.to_timedelta(rng.integers(0, 400, n), unit="D"))


def perturb(tables: dict[str, pd.DataFrame], t: pd.Timestamp, seed: int) -> dict[str, pd.DataFrame]:
    """A copy of `tables` in which rows dated on or after t are deleted, changed and added at
    random, and dates that only become known when they happen (resolution, delivery, departure)
    are changed when they fall on or after t. Rows before t keep their order."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, frame in tables.items():
        spec = TABLES[name]
        if spec.date is None:
            out[name] = frame
            continue
        frame = frame.copy()
        for later in spec.later_dates:  # known only once it happens: blank or move it past t
            unknown = frame[later].isna() | (frame[later] >= t)
            moved = _random_day_from(t, rng, len(frame)).where(rng.random(len(frame)) < 0.6)
            frame.loc[unknown, later] = moved[unknown.to_numpy()].to_numpy()
        after = (frame[spec.date] >= t).to_numpy()
        keep = ~after | (rng.random(len(frame)) < 0.6)
        frame = frame[keep].reset_index(drop=True)
        after = (frame[spec.date] >= t).to_numpy()
        # change every column of the surviving rows after t, values drawn from the column itself
        for column in frame.columns:
            if column in (spec.key, spec.date) or not after.any():
                continue
            source = tables[name][column].to_numpy()
            frame.loc[after, column] = rng.choice(source, after.sum())
        frame.loc[after, spec.date] = _random_day_from(t, rng, after.sum()).to_numpy()
        # add rows after t, copies of random rows moved past t (accounts drawn at random)
        n_new = int(rng.integers(0, 6))
        if n_new and len(tables[name]):
            new = tables[name].sample(n_new, replace=True, random_state=seed).reset_index(drop=True)
            new[spec.date] = _random_day_from(t, rng, n_new).to_numpy()
            new["account_id"] = rng.choice(tables["accounts"]["account_id"].to_numpy(), n_new)
            for later in spec.later_dates:
                new[later] = (new[spec.date] + pd.to_timedelta(rng.integers(0, 90, n_new), unit="D")).to_numpy()
            if spec.key:
                new[spec.key] = [f"NEW{seed}-{i}" for i in range(n_new)]
            frame = pd.concat([frame, new.astype(frame.dtypes.to_dict())], ignore_index=True)
        for column, dtype in tables[name].dtypes.items():
            frame[column] = frame[column].astype(dtype)
        out[name] = frame
    return out
