r"""Benchmark of `load_tables`: full load (read, parse, validate) against a bare read of the same files.

Writes accounts and N order lines as CSV and Parquet into a temporary folder, then times
  baseline: pandas.read_csv / pandas.read_parquet of the same files, nothing else
  load:     churnml.data.load.load_tables (contract columns only, parsed, validated)
and prints rows per second and the ratio load / baseline (the figure to watch; lower is better).

With a PostgreSQL server (`--postgres URL`; skipped, saying why, where none answers) the same
tables are copied into it and read back as a user does, each as a whole process:
  baseline: `psql \copy (SELECT …) TO … CSV HEADER` of both tables, then a Python process that
            reads the two CSV files with pandas
  command:  `churnml validate data=sql` with one query per table (read through COPY, parsed and
            checked by the contract, the summary printed)
and, inside one process, `load_tables` against `pandas.read_sql_query` of the same queries (the
driver's row-by-row path that COPY replaces). Target: the command at most 3 x the baseline.

    .venv/bin/python bench/load.py [--orders 1000000] [--accounts 5000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from churnml.config import DataConfig, TableSource
from churnml.data.load import load_tables

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_TABLES = {"accounts": "churnml_bench_accounts", "orders": "churnml_bench_orders"}


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
    parser.add_argument("--postgres", default=POSTGRES, help="an SQLAlchemy URL; 'none' to skip")
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
        if args.postgres != "none":
            postgres(args.postgres, folder, args.orders)


def postgres(url: str, folder: Path, n_orders: int) -> None:
    """The same tables from PostgreSQL: `churnml validate data=sql` against psql's \\copy plus a
    pandas read, whole processes; load_tables against pandas.read_sql_query in this process."""
    import os
    import subprocess
    import sys

    import sqlalchemy as sa

    os.environ["PGOPTIONS"] = "-c client_min_messages=warning"  # no NOTICE for a table not there yet

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
    except Exception as err:  # noqa: BLE001 - no server: say so and skip
        print(f"  postgres skipped: no server at {url} ({str(err).splitlines()[0][:120]})")
        return
    u = engine.url
    psql = ["psql", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres",
            "-d", u.database, "-q", "-v", "ON_ERROR_STOP=1"]
    types = {"accounts": "account_id text, name text, industry text, since date, employees bigint, "
                         "influence double precision, contact_person text",
             "orders": "order_id text, account_id text, order_date date, net_amount double precision, "
                       "product_line text, quantity double precision, list_amount double precision, custom boolean, "
                       "promised_date date, delivered_date date"}
    header = {name: pd.read_csv(folder / f"{name}.csv", nrows=0).columns.tolist() for name in BENCH_TABLES}
    try:
        for name, table in BENCH_TABLES.items():
            wanted = [c.split()[0] for c in types[name].split(", ")]
            assert header[name] == wanted, (name, header[name])
            subprocess.run([*psql, "-c", f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({types[name]})",
                            "-c", f"\\copy {table} FROM '{folder / f'{name}.csv'}' CSV HEADER"], check=True)
        queries = {name: f"SELECT * FROM {table}" for name, table in BENCH_TABLES.items()}
        out = folder / "pg"
        out.mkdir(exist_ok=True)

        def baseline() -> None:
            for name, query in queries.items():
                subprocess.run([*psql, "-c", f"\\copy ({query}) TO '{out / f'{name}.csv'}' CSV HEADER"], check=True)
            subprocess.run([sys.executable, "-c", "import pandas, sys; [pandas.read_csv(f) for f in sys.argv[1:]]",
                            *(str(out / f"{n}.csv") for n in queries)], check=True)

        churnml = Path(sys.executable).parent / "churnml"
        command = [str(churnml), "validate", "data=sql", f"data.url={url}", f"paths.root={folder / 'project'}",
                   "today=2026-11-27", *(f"data.tables.{n}.query='{q}'" for n, q in queries.items())]

        def ours() -> None:
            subprocess.run(command, check=True, capture_output=True)

        # Alternating, best of 3: the two see the same state of the machine.
        base_s = ours_s = float("inf")
        for _ in range(3):
            base_s = min(base_s, timed(baseline, repeat=1))
            ours_s = min(ours_s, timed(ours, repeat=1))
        cfg = DataConfig(source="sql", url=url, tables={n: TableSource(query=q) for n, q in queries.items()})
        inner = timed(lambda: load_tables(cfg, today=date(2026, 1, 1)))
        rows = timed(lambda: [pd.read_sql_query(q, engine) for q in queries.values()], repeat=1)
        print(f"  postgres `churnml validate data=sql` {ours_s:6.2f} s   psql \\copy + pandas read {base_s:6.2f} s   "
              f"ratio {ours_s / base_s:.2f} (target <= 3)")
        print(f"  postgres in one process: load_tables (COPY) {inner:6.2f} s   pandas.read_sql_query alone "
              f"{rows:6.2f} s   ({n_orders / inner:,.0f} order lines/s; read_sql / load_tables {rows / inner:.2f})")
    finally:
        subprocess.run([*psql, "-c", "DROP TABLE IF EXISTS " + ", ".join(BENCH_TABLES.values())], check=False)
        engine.dispose()


if __name__ == "__main__":
    main()
