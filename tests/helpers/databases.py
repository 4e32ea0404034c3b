"""The database servers the machine runs (PostgreSQL, MariaDB) and Northwind in them.

A test that needs one skips with a one-line reason where no server answers; CI runs where the
services are. `.ci/run` loads Northwind into PostgreSQL's `test` database; `northwind_in_postgres`
loads it when it is missing, and `northwind_in_mariadb` copies its tables into MariaDB's `test`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import tempfile
from pathlib import Path

POSTGRES = os.environ.get("CHURNML_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB = os.environ.get("CHURNML_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")
NORTHWIND_SQL = Path(__file__).resolve().parents[2].parent / "shared" / "realdata" / "northwind.sql"
NORTHWIND_TABLES = ("customers", "orders", "order_details", "products", "categories")


def why_no_server(url: str) -> str | None:
    """None when the database at `url` answers within 3 s; else why not, in one line."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as err:  # noqa: BLE001 - any reason means: skip, saying it
        return f"no database server at {url}: {str(err).strip().splitlines()[0][:150]}"


def has_table(url: str, table: str) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).has_table(table)
    finally:
        engine.dispose()


@contextlib.contextmanager
def _loading(name: str):
    """One loader at a time across the test workers (pytest-xdist runs several processes)."""
    with open(Path(tempfile.gettempdir()) / f"churnml-{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def northwind_in_postgres(url: str = POSTGRES) -> str | None:
    """Load Northwind into the database at `url` when it is not there (psql); None when it is
    there afterwards, else why not."""
    why = why_no_server(url)
    if why:
        return why
    with _loading("northwind-postgres"):
        return _load_postgres(url)


def _load_postgres(url: str) -> str | None:
    import sqlalchemy as sa

    if has_table(url, "order_details"):
        return None
    if not NORTHWIND_SQL.is_file():
        return f"Northwind is not loaded and {NORTHWIND_SQL} is not here"
    u = sa.engine.make_url(url)
    proc = subprocess.run(
        ["psql", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres",
         "-d", u.database, "-q", "-v", "ON_ERROR_STOP=1", "-f", str(NORTHWIND_SQL)],
        capture_output=True, text=True,
    )
    return None if proc.returncode == 0 else f"psql could not load Northwind: {proc.stderr.strip()[:200]}"


def northwind_in_mariadb(url: str = MARIADB, source: str = POSTGRES) -> str | None:
    """Copy Northwind's tables from PostgreSQL into the MariaDB database at `url` when they are
    not all there; None when done, else why not."""
    why = why_no_server(url) or northwind_in_postgres(source)
    if why:
        return why
    with _loading("northwind-mariadb"):
        return _copy_to_mariadb(url, source)


def _copy_to_mariadb(url: str, source: str) -> str | None:
    import pandas as pd
    import sqlalchemy as sa

    pg, maria = sa.create_engine(source), sa.create_engine(url)
    try:
        inspector = sa.inspect(maria)
        if inspector.has_table("order_details") and any(
                i["name"] == "order_details_order" for i in inspector.get_indexes("order_details")):
            return None  # copied whole (its index is made last) by an earlier run or another worker
        for table in NORTHWIND_TABLES:
            frame = pd.read_sql_table(table, pg)
            frame.to_sql(table, maria, if_exists="replace", index=False)
        with maria.begin() as conn:  # the keys the queries join on, as the ERP has them
            for table, key in (("orders", "order_id"), ("products", "product_id"), ("categories", "category_id")):
                conn.execute(sa.text(f"ALTER TABLE {table} ADD PRIMARY KEY ({key})"))
            conn.execute(sa.text("CREATE INDEX order_details_order ON order_details (order_id)"))
    finally:
        pg.dispose()
        maria.dispose()
    return None
