"""Test worlds shaped like a supplier's first extract, made from generated data (never downloaded).

- `cut_extract`: the last N months of a world's tables, only the tables an ERP export usually
  has (by default `accounts` and `orders`), with the accounts master reduced to what such an
  export carries (no relationship start date: the extract's first month is not the start of the
  relationship).
- `generate_btyd_world`: a "buy till you die" customer base (Pareto/NBD: each account orders as
  a Poisson process at its own rate until an exponentially distributed lifetime ends), the world
  in which BG/NBD is nearly the right model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnml.errors import ConfigError

ORDERS_ONLY = ("accounts", "orders")
# Columns of the account master an ERP export does not usually carry.
_NOT_IN_EXPORT = ("since", "contract_end")


def cut_extract(
    tables: dict[str, pd.DataFrame],
    months: int,
    keep: tuple[str, ...] = ORDERS_ONLY,
    drop_account_columns: tuple[str, ...] = _NOT_IN_EXPORT,
) -> dict[str, pd.DataFrame]:
    """The last `months` whole months of `tables` (ending with the month of the latest order):
    only the tables in `keep`, rows dated inside the window, accounts that ordered in it."""
    if months < 1:
        raise ConfigError(f"`months` must be a whole number of at least 1; got {months!r}")
    orders = tables["orders"]
    end = orders["order_date"].max().to_period("M").to_timestamp() + pd.DateOffset(months=1)
    start = end - pd.DateOffset(months=months)
    out: dict[str, pd.DataFrame] = {}
    cut_orders = orders[(orders["order_date"] >= start) & (orders["order_date"] < end)]
    ids = pd.Index(cut_orders["account_id"].unique())
    accounts = tables["accounts"]
    accounts = accounts[accounts["account_id"].isin(ids)]
    out["accounts"] = accounts.drop(columns=[c for c in drop_account_columns if c in accounts.columns])
    out["orders"] = cut_orders
    dates = {"complaints": "opened_at", "competitor_signals": "observed_at",
             "interactions": "occurred_at", "outcomes": "lost_at"}
    for table, column in dates.items():
        if table in keep and table in tables:
            t = tables[table]
            out[table] = t[(t[column] >= start) & (t[column] < end) & t["account_id"].isin(ids)]
    if "contacts" in keep and "contacts" in tables:
        out["contacts"] = tables["contacts"][tables["contacts"]["account_id"].isin(ids)]
    return {name: frame.reset_index(drop=True) for name, frame in out.items()}


@dataclass(frozen=True)
class BtydParams:
    """Pareto/NBD: order rate λ ~ Gamma(r, rate α) per month, dropout rate μ ~ Gamma(s, rate β)
    per month; order value log-normal around an account's own mean."""

    r: float = 1.2
    alpha: float = 0.8
    s: float = 1.0
    beta: float = 40.0
    spend_median: float = 4000.0
    spend_sigma: float = 1.2  # spread of the accounts' mean order value (revenue concentration)
    order_sigma: float = 0.5  # spread of one account's order values
    born_before_months: int = 60  # accounts start up to this long before the window


@dataclass
class BtydWorld:
    """Tables (`accounts`, `orders`) and truth (`accounts`: rate, dropout rate, death month)."""

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    start: pd.Timestamp
    months: int


def generate_btyd_world(
    accounts: int = 2000,
    months: int = 24,
    start: str = "2023-01",
    seed: int = 0,
    params: BtydParams | None = None,
) -> BtydWorld:
    """Simulate a Pareto/NBD customer base observed for `months` from `start` (same seed, same
    world). Accounts start at a uniform time in the `born_before_months` before the window or
    during it; only orders inside the window are in the tables."""
    p = params or BtydParams()
    if accounts < 10 or months < 1:
        raise ConfigError(f"`accounts` must be at least 10 and `months` at least 1; got {accounts}, {months}")
    rng = np.random.default_rng(seed)
    first = pd.Timestamp(start).to_period("M").to_timestamp()
    window_days = float((first + pd.DateOffset(months=months) - first).days)
    day = 30.4375
    lam = rng.gamma(p.r, 1.0 / p.alpha, accounts) / day  # orders per day
    mu = rng.gamma(p.s, 1.0 / p.beta, accounts) / day  # dropout rate per day
    born = rng.uniform(-p.born_before_months * day, window_days * 0.8, accounts)
    death = born + rng.exponential(1.0 / mu)
    spend = p.spend_median * rng.lognormal(0.0, p.spend_sigma, accounts)

    lo = np.maximum(born, 0.0)
    hi = np.minimum(death, window_days)
    alive = np.clip(hi - lo, 0.0, None)
    n_orders = rng.poisson(lam * alive)
    acc = np.repeat(np.arange(accounts), n_orders)
    when = lo[acc] + rng.uniform(0.0, 1.0, len(acc)) * alive[acc]
    order_days = np.floor(when).astype(np.int64)
    amount = np.round(spend[acc] * rng.lognormal(-p.order_sigma**2 / 2, p.order_sigma, len(acc)), 2)

    ids = np.array([f"B{i:05d}" for i in range(accounts)])
    tiers = np.where(spend >= np.quantile(spend, 0.8), "key", np.where(spend >= np.quantile(spend, 0.5), "major", "standard"))
    industries = np.array(["automotive", "chemicals", "machinery", "energy"])[rng.integers(0, 4, accounts)]
    ordered = np.unique(acc)
    table_accounts = pd.DataFrame(
        {
            "account_id": pd.array(ids[ordered], dtype="str"),
            "industry": pd.array(industries[ordered], dtype="str"),
            "tier": pd.array(tiers[ordered], dtype="str"),
        }
    )
    sort = np.lexsort((order_days, acc))
    orders = pd.DataFrame(
        {
            "order_id": pd.array([f"O{i:07d}" for i in range(len(acc))], dtype="str"),
            "account_id": pd.array(ids[acc[sort]], dtype="str"),
            "order_date": first + pd.to_timedelta(order_days[sort], unit="D"),
            "net_amount": amount[sort],
        }
    )
    orders["order_date"] = orders["order_date"].astype("datetime64[ns]")
    death_date = pd.Series(first + pd.to_timedelta(np.clip(death, -1e4, 4e4), unit="D"))
    truth = pd.DataFrame(
        {
            "account_id": ids,
            "orders_per_month": lam * day,
            "dropout_per_month": mu * day,
            "died_at": death_date.where(death < window_days + 3650),
        }
    )
    return BtydWorld(tables={"accounts": table_accounts, "orders": orders}, truth=truth, start=first, months=months)
