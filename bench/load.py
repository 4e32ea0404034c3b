"""Benchmark of `load_tables`: full load (read, parse, validate) against a bare read of the same files.

Writes accounts and N order lines as CSV and Parquet into a temporary folder, then times
  baseline: pandas.read_csv / pandas.read_parquet of the same files, nothing else
  load:     churnml.data.load.load_tables (contract columns only, parsed, validated)
and prints rows per second and the ratio load / baseline (the figure to watch; lower is better).

    .venv/bin/python bench/load.py [--orders 1000000] [--accounts 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from churnml.config import DataConfig
from churnml.data.load import load_tables


def make_tables(n_orders: int, n_accounts: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"K{i:06d}" for i in range(n_accounts)])
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": [f"Account {i}" for i in range(n_accounts)],
            "industry": rng.choice(["metals", "food", "chemicals", "paper"], n_accounts),
            "since": pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 2000, n_accounts), "D"),
            "employees": rng.integers(10, 5000, n_accounts),
            "influence": rng.random(n_accounts),
            "contact_person": "someone",  # an extra column the loader must not read
        }
    )
    day = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1400, n_orders), "D")
    net = np.round(rng.lognormal(6, 1, n_orders), 2)
    orders = pd.DataFrame(
        {
            "order_id": np.char.add("O", np.arange(n_orders).astype(str)),
            "account_id": rng.choice(ids, n_orders),
            "order_date": day,
            "net_amount": net,
            "product_line": rng.choice(["valves", "pumps", "seals", "drives"], n_orders),
            "quantity": rng.integers(1, 50, n_orders).astype(float),
            "list_amount": np.round(net * (1 + rng.random(n_orders) * 0.2), 2),
            "custom": rng.random(n_orders) < 0.2,
            "promised_date": day + pd.Timedelta(days=14),
            "delivered_date": day + pd.to_timedelta(rng.integers(5, 30, n_orders), "D"),
        }
    )
    return {"accounts": accounts, "orders": orders}


def timed(fn, repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=5_000)
    args = parser.parse_args()
    tables = make_tables(args.orders, args.accounts)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, frame in tables.items():
            frame.to_csv(folder / f"{name}.csv", index=False)
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        print(f"load_tables on {args.orders:,} order lines and {args.accounts:,} accounts")
        for fmt in ("parquet", "csv"):
            read = pd.read_parquet if fmt == "parquet" else pd.read_csv
            baseline = timed(lambda read=read, fmt=fmt: [read(folder / f"{n}.{fmt}") for n in tables])
            cfg = DataConfig(source="files", dir=str(folder), format=fmt)
            full = timed(lambda cfg=cfg: load_tables(cfg, today=date(2026, 1, 1)))
            print(
                f"  {fmt:8s} baseline read {baseline:6.2f} s   load_tables {full:6.2f} s   "
                f"{args.orders / full:,.0f} rows/s   ratio {full / baseline:.2f}"
            )


if __name__ == "__main__":
    main()
