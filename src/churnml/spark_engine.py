"""The Spark engine (`engine=spark`): the features of `churnml features` built on Spark, for
extracts one machine cannot hold. The only module that imports pyspark.

Spark schedules pandas tasks that run the same code as the pandas engine, and the data moves
between them through a staging folder beside the features:
0. stage: tasks read the tables (Parquet by row groups with Arrow, as the pandas loader reads
   it; CSV through Spark's reader) and write each row to its account's bucket (a hash of
   `account_id`), and each key's hash to a bucket of hashes;
1. check: per bucket, the loader's own `check_tables` types and checks the rows, and the
   bucket is summarised (the extract's dates, its filled columns, its categories); a key
   repeated across accounts is found among the hashes;
2. rows: per bucket, `features.build.account_rows` builds the rows; their own parts of the
   group totals go back to Spark, which sums them per industry or region and snapshot
   (`features.across.GROUP_SUMS`), and BG/NBD is fitted per snapshot on the driver;
3. finish: per bucket, `features.build.finish_rows` finishes the rows into one part of the
   features dataset (`features.parquet/`, with each row's place so that readers get the pandas
   engine's order) with the fingerprint of the inputs beside it.

When any bucket finds a broken rule, the report is worded by the pandas loader over the whole
tables (one report, exit 2, nothing written): the driver must then hold the tables.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

# Settings churnml needs whatever the user sets: UTC throughout, Arrow between Spark and pandas.
REQUIRED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.legacy.javaCharsets": "true",  # the exports' encodings (windows-1252), not only Unicode
}
# Defaults a user's `engine.conf` may change: in local mode the executors share the driver's memory.
DEFAULT_CONF = {"spark.ui.showConsoleProgress": "false", "spark.sql.shuffle.partitions": "8",
                "spark.driver.memory": "4g", "spark.sql.execution.arrow.maxRecordsPerBatch": "200000"}
# A row's bucket, and its place in its file (rows of a bucket are put back in file order, so
# sums come out as the pandas engine adds them; the accounts' is their position).
_POS = "_row"


def session(engine_cfg: Any):
    """The Spark session of `engine.master` with `engine.conf`; its Python workers run this
    interpreter (they need churnml and its libraries). Raises `ConfigError` when pyspark is not
    installed or Java cannot start it."""
    from churnml.errors import ConfigError

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("`engine.name` spark needs churnml[spark]: run `make spark` "
                          "(or `pip install 'churnml[spark]'`); got no pyspark") from None
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise ConfigError("`engine.name` spark needs Java 17 or later (on the PATH or in JAVA_HOME); got none")

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("churnml")
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # under spark-submit, its --master decides
        builder = builder.master(engine_cfg.master)
    for key, value in {**DEFAULT_CONF, **engine_cfg.conf, **REQUIRED_CONF}.items():
        builder = builder.config(key, str(value))
    try:
        spark = builder.getOrCreate()
    except Exception as err:  # noqa: BLE001 - pyspark raises its own types when the JVM cannot start
        raise ConfigError(f"`engine.master` must name a Spark that starts; {engine_cfg.master} did not: "
                          f"{str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}") from None
    spark.sparkContext.setLogLevel("ERROR")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # its connection notes are not the user's
    return spark


# --------------------------------------------------------------------------- reading


def read_csv_table(spark, data_cfg: Any, table: str, path: Path):
    """A CSV table as a Spark DataFrame: the contract's columns under their contract names, as
    text (as the pandas loader reads them), each row with its place in the file (`_row`)."""
    from pyspark.sql import functions as F

    from churnml.data.contract import TABLES
    from churnml.data.load import _NA_TEXT, _setting, _table_source

    frame = spark.read.csv(
        str(path), header=True, inferSchema=False, sep=_setting(data_cfg, table, "delimiter") or ",",
        encoding=java_encoding(_setting(data_cfg, table, "encoding") or "utf-8"), multiLine=True,
    )
    first = frame.columns[0] if frame.columns else ""
    if first.startswith("\ufeff"):  # a byte-order mark, as the pandas loader accepts it
        frame = frame.withColumnRenamed(first, first[1:])
    mapping = _table_source(data_cfg, table)[2]
    columns = [
        F.when(F.col(f"`{mapping.get(n, n)}`").isin(_NA_TEXT), F.lit(None)).otherwise(F.col(f"`{mapping.get(n, n)}`")).alias(n)
        for n in TABLES[table].names if mapping.get(n, n) in frame.columns
    ]
    return frame.select(*columns).withColumn(_POS, F.monotonically_increasing_id())


def read_catalog_table(spark, data_cfg: Any, table: str, name: str):
    """A table of the Spark catalog (data.source=spark_tables) as a Spark DataFrame: the
    contract's columns under their contract names, dates as timestamps and decimals as doubles
    (as the pandas loader reads Parquet), each row with its place (`_row`)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, DecimalType

    from churnml.data.contract import TABLES
    from churnml.data.load import _table_source

    frame = _catalog_frame(spark, name, table)
    mapping = _table_source(data_cfg, table)[2]
    types = {f.name: f.dataType for f in frame.schema.fields}
    columns = []
    for contract in TABLES[table].names:
        user = mapping.get(contract, contract)
        if user not in types:
            continue
        column = F.col(f"`{user}`")
        if isinstance(types[user], DateType):
            column = column.cast("timestamp")
        elif isinstance(types[user], DecimalType):
            column = column.cast("double")
        columns.append(column.alias(contract))
    return frame.select(*columns).withColumn(_POS, F.monotonically_increasing_id())


def catalog_tables(data_cfg: Any) -> dict[str, str]:
    """Table -> its name in the Spark catalog, for the tables data.source=spark_tables names."""
    from churnml.data.contract import TABLES
    from churnml.data.load import catalog_table

    return {t: catalog_table(data_cfg, t) for t in TABLES if catalog_table(data_cfg, t)}


def load_tables(config: Any, today: date, only: tuple[str, ...] | None = None, spark=None) -> dict[str, pd.DataFrame]:
    """The catalog's tables (`only` those, when given) on the driver, typed and checked by the
    pandas loader's rules (`churnml.data.load.tables_from_frames`: the same one report)."""
    from churnml.data.load import _table_source, tables_from_frames

    spark = spark or session(config.engine)
    frames, headers = {}, {}
    for table, name in catalog_tables(config.data).items():
        if only is not None and table not in only:
            continue
        headers[table] = list(_catalog_frame(spark, name, table).columns)
        mapping = _table_source(config.data, table)[2]
        frame = read_catalog_table(spark, config.data, table, name).drop(_POS).toPandas()
        frames[table] = frame.rename(columns={c: mapping.get(c, c) for c in frame.columns})
    return tables_from_frames(frames, config.data, today, only=only, headers=headers)


def _catalog_frame(spark, name: str, table: str):
    """`spark.table(name)` (the catalog's table for the contract's `table`), or `ConfigError`
    naming the setting when the catalog has none."""
    from churnml.errors import ConfigError

    try:
        return spark.table(name)
    except Exception as err:  # noqa: BLE001 - pyspark's AnalysisException: the name is the user's
        raise ConfigError(f"`data.tables.{table}.table` must name a table of the Spark catalog; got {name!r} "
                          f"({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__})") from None


def table_digests(config: Any, spark=None) -> dict[str, str]:
    """Per catalog table, its row count and an order-free hash of its rows (the sum of each
    row's xxhash64), computed by Spark: the tables' part of the inputs' fingerprint."""
    from pyspark.sql import functions as F

    spark = spark or session(config.engine)
    out = {}
    for table, name in sorted(catalog_tables(config.data).items()):
        frame = _catalog_frame(spark, name, table)
        row = frame.select(F.count(F.lit(1)).alias("n"),
                           F.sum(F.xxhash64(*[F.col(f"`{c}`") for c in frame.columns]).cast("decimal(38,0)")).alias("h")).first()
        out[table] = f"{name}:{frame.schema.simpleString()}:{row['n']}:{row['h']}"
    return out


def _parquet_columns(data_cfg: Any, table: str, path: Path) -> dict[str, str]:
    """The user's column -> the contract's, of the contract columns a Parquet table has."""
    import pyarrow.parquet as pq

    from churnml.data.contract import TABLES
    from churnml.data.load import _table_source

    mapping = _table_source(data_cfg, table)[2]
    present = set(pq.read_schema(path).names)
    return {mapping.get(n, n): n for n in TABLES[table].names if mapping.get(n, n) in present}


def _parquet_tasks(table: str, path: Path, rows_per_task: int = 2_000_000) -> list[tuple]:
    """(table, file, first row group, row groups, first row) of about `rows_per_task` rows each:
    Parquet is read by the tasks themselves, as the pandas loader reads it (Arrow)."""
    import pyarrow.parquet as pq

    files = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith((".", "_"))) if path.is_dir() else [path]
    tasks, offset = [], 0
    for file in files:
        meta = pq.ParquetFile(file).metadata
        start, rows = 0, 0
        for g in range(meta.num_row_groups):
            rows += meta.row_group(g).num_rows
            if rows >= rows_per_task or g == meta.num_row_groups - 1:
                tasks.append((table, str(file), start, g + 1 - start, offset))
                offset, start, rows = offset + rows, g + 1, 0
    return tasks


def _read_parquet_task(task: tuple, columns: dict[str, str]) -> pd.DataFrame:
    """The rows of one Parquet task, contract columns under their contract names, with `_row`."""
    import pyarrow.parquet as pq

    _, file, first, count, offset = task
    table = pq.ParquetFile(file).read_row_groups(range(first, first + count), columns=list(columns))
    frame = table.to_pandas(date_as_object=False).rename(columns=columns)
    frame[_POS] = np.arange(offset, offset + len(frame), dtype=np.int64)
    return frame


def java_encoding(name: str) -> str:
    """Java's name of a Python text encoding (latin-1 -> ISO-8859-1, cp1252 -> windows-1252)."""
    import codecs

    canonical = codecs.lookup(name).name
    if canonical == "utf-8-sig":
        return "UTF-8"
    if canonical.startswith("iso8859-"):
        return "ISO-8859-" + canonical.split("-", 1)[1]
    if canonical.startswith("cp125"):
        return "windows-" + canonical[2:]
    return canonical


def _auto_buckets(spark, accounts) -> int:
    """Two tasks per core, and at least one bucket per 2,000 accounts (about 2 M order lines on
    a long history: a task's pandas frames stay well under a gigabyte); `accounts` is the
    accounts file or the Spark DataFrame of the catalog's table."""
    import pyarrow.parquet as pq

    if not isinstance(accounts, Path):
        n = accounts.count()
    elif accounts.suffix.lower() == ".parquet":
        n = pq.ParquetFile(accounts).metadata.num_rows
    else:
        with accounts.open("rb") as stream:
            n = sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b""))
    return max(2 * spark.sparkContext.defaultParallelism, n // 2000)


# --------------------------------------------------------------------------- the stages of a build


def _check(raw: dict[str, pd.DataFrame], data_cfg: Any, today: date):
    """Typed tables and problems of one bucket, by the loader's own check."""
    from churnml.data.contract import check_tables
    from churnml.data.load import formats, map_values

    raw = map_values(raw, data_cfg)
    positions = raw["accounts"].pop(_POS)
    typed, problems = check_tables(raw, today, formats={name: formats(data_cfg, name) for name in raw})
    # A bucket may hold none of a table's rows: the whole table's emptiness is judged once.
    problems = [p for p in problems if p.problem != "the table has no rows"]
    typed["accounts"][_POS] = positions.to_numpy()
    return typed, problems


def _summary(typed: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """What the whole extract's build needs to know of one bucket: its dates, filled columns
    and categories."""
    from churnml.features import account
    from churnml.features.build import _month_of, earliest_month, filled_columns

    orders = typed["orders"]["order_date"].dropna()
    return {
        "first_order": _month_of(orders.min()) if len(orders) else None,
        "last_order": _month_of(orders.max()) if len(orders) else None,
        "earliest": earliest_month(typed),
        "filled": {name: sorted(columns - {_POS}) for name, columns in filled_columns(typed).items()},
        "levels": account.levels(typed["accounts"]),
        "rows": {name: len(frame) for name, frame in typed.items()},
    }


def _merge_summaries(summaries: list[dict[str, Any]]):
    """The extract's `Extent`, filled columns and categories from the buckets' summaries."""
    from churnml.errors import ContractError, Problem
    from churnml.features.build import Extent

    firsts = [s["first_order"] for s in summaries if s["first_order"] is not None]
    if not firsts:
        raise ContractError([Problem("orders", "order_date", "no order lines with a date")])
    lasts = [s["last_order"] for s in summaries if s["last_order"] is not None]
    earliest = min([min(firsts), *[s["earliest"] for s in summaries if s["earliest"] is not None]])
    filled: dict[str, set[str]] = {}
    levels: dict[str, set[str]] = {}
    for s in summaries:
        for table, columns in s["filled"].items():
            filled.setdefault(table, set()).update(columns)
        for name, values in s["levels"].items():
            levels.setdefault(name, set()).update(values)
    return (
        Extent(min(firsts), max(lasts), earliest),
        {t: frozenset(c) for t, c in filled.items()},
        {name: sorted(values) for name, values in levels.items()},
    )


def _pandas_report(config: Any, today: date) -> None:
    """Raise the pandas loader's report when the whole tables break a rule (the same words,
    rows and lines); return when they do not."""
    if config.data.source == "spark_tables":
        load_tables(config, today)
        return
    from churnml.data.load import load_tables as load_files

    load_files(config.data, today=today)




# --------------------------------------------------------------------------- the staging folder


class _Staging:
    """Where the tasks of one build exchange their parts: a folder beside the features."""

    def __init__(self, root: Path):
        self.root = root

    def raw(self, table: str) -> Path:
        return self.root / "raw" / table

    def raw_bucket(self, table: str, bucket: int) -> Path:
        return self.raw(table) / str(bucket)

    def keys(self, bucket: int) -> Path:
        return self.root / "keys" / str(bucket)

    def typed(self, bucket: int, table: str) -> Path:
        return self.root / "typed" / str(bucket) / f"{table}.parquet"

    def rows(self, bucket: int) -> Path:
        return self.root / "rows" / f"{bucket}.parquet"

    def bgnbd(self, bucket: int) -> Path:
        return self.root / "bgnbd" / f"{bucket}.parquet"

    def part(self, bucket: int) -> Path:
        return self.root / "features" / f"part-{bucket:05d}.parquet"


def _read_parquet(path: Path, empty: pd.DataFrame | None = None) -> pd.DataFrame:
    """A staged Parquet file or folder; `empty` when there is none (a bucket without rows)."""
    import pyarrow.parquet as pq

    if not path.exists():
        return empty.copy()
    return pq.read_table(path).to_pandas(date_as_object=False)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


def _raw_bucket(staging: _Staging, bucket: int, empty: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The bucket's rows of every table as read, in file order; the accounts keep their place."""
    tables = {}
    for name, schema in empty.items():
        frame = _read_parquet(staging.raw_bucket(name, bucket), schema)
        frame = frame.sort_values(_POS, kind="stable").reset_index(drop=True)
        tables[name] = frame if name == "accounts" else frame.drop(columns=[_POS])
    return tables


def _typed_bucket(staging: _Staging, bucket: int, names: list[str]) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(staging.typed(bucket, name)) for name in names}


# --------------------------------------------------------------------------- the build


_PARTS_SCHEMA = "key_name string, key string, snapshot timestamp, column string, value double"


def _own_parts(rows: pd.DataFrame) -> pd.DataFrame:
    """The bucket's part of every group total: sums per (key, snapshot), and each leader's
    latest loss (the two latest of an industry are taken over all buckets)."""
    from churnml.features import across

    parts = []
    for key, columns in across.GROUP_SUMS.items():
        present = [c for c in columns if c in rows]
        if key not in rows or not present:
            continue
        sums = rows.groupby([key, "snapshot"], sort=False)[present].sum().reset_index()
        long = sums.melt(id_vars=[key, "snapshot"], var_name="column", value_name="value")
        parts.append(long.rename(columns={key: "key"}).assign(key_name=key))
    if across.LEADER in rows and across.INDUSTRY in rows:
        leaders = rows.loc[rows[across.LEADER].notna() & rows[across.INDUSTRY].notna(),
                           [across.INDUSTRY, "snapshot", across.LEADER]]
        parts.append(pd.DataFrame({"key_name": across.INDUSTRY, "key": leaders[across.INDUSTRY].astype(str),
                                   "snapshot": leaders["snapshot"], "column": across.LEADER,
                                   "value": leaders[across.LEADER].to_numpy(dtype=np.float64)}))
    if not parts:
        return pd.DataFrame({"key_name": [], "key": [], "snapshot": pd.Series([], dtype="datetime64[ns]"),
                             "column": [], "value": []})
    out = pd.concat(parts, ignore_index=True)[["key_name", "key", "snapshot", "column", "value"]]
    # plain Python strings: pyspark converts pandas' Arrow-backed text badly
    for name in ("key_name", "key", "column"):
        out[name] = np.asarray(out[name].astype(str), dtype=object)
    return out


def _totals(parts) -> dict[str, pd.DataFrame]:
    """Per group key, a frame of (key, snapshot, its totals), from the buckets' parts summed by
    Spark (`features.across`: sums, and the two latest leader losses)."""
    from pyspark.sql import functions as F

    from churnml.features import across

    sums = (parts.filter(F.col("column") != across.LEADER)
            .groupBy("key_name", "key", "snapshot", "column").agg(F.sum("value").alias("value")).toPandas())
    latest = (parts.filter(F.col("column") == across.LEADER)
              .groupBy("key", "snapshot").agg(F.sort_array(F.collect_list("value"), asc=False).alias("latest")).toPandas())
    out = {}
    for key in across.GROUP_SUMS:
        mine = sums[sums["key_name"] == key]
        if len(mine):
            wide = mine.pivot_table(index=["key", "snapshot"], columns="column", values="value", aggfunc="first")
            wide.columns = [across.total(c) for c in wide.columns]
            out[key] = wide.reset_index().rename(columns={"key": key})
    if len(latest):
        best = latest["latest"].map(lambda v: v[0])
        second = latest["latest"].map(lambda v: v[1] if len(v) > 1 else -np.inf)
        leaders = pd.DataFrame({across.INDUSTRY: latest["key"], "snapshot": latest["snapshot"],
                                across.LEADER_BEST: best.astype(float), across.LEADER_SECOND: second.astype(float)})
        out[across.INDUSTRY] = out[across.INDUSTRY].merge(leaders, on=[across.INDUSTRY, "snapshot"], how="left") \
            if across.INDUSTRY in out else leaders
    for frame in out.values():
        frame["snapshot"] = frame["snapshot"].astype("datetime64[ns]")
    return out


def _with_totals(rows: pd.DataFrame, totals: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """`rows` with their groups' totals (NaN without a group), in the same order."""
    from churnml.features import across

    for key, frame in totals.items():
        if key not in rows:
            continue
        columns = [c for c in frame.columns if c not in (key, "snapshot")]
        keyed = rows[[key, "snapshot"]].astype({key: object})
        joined = keyed.merge(frame.astype({key: object}), on=[key, "snapshot"], how="left")
        for column in columns:
            rows[column] = joined[column].to_numpy(dtype=np.float64)
    # a group key with no total anywhere (no account has one): the totals are unknown
    for columns in across.GROUP_SUMS.values():
        for column in columns:
            if column in rows and across.total(column) not in rows:
                rows[across.total(column)] = np.nan
    if across.LEADER in rows and across.LEADER_BEST not in rows:
        rows[across.LEADER_BEST] = rows[across.LEADER_SECOND] = np.nan
    return rows


def build_features(config: Any, today: date, fingerprint: dict[str, str] | None, spark=None) -> tuple[Path, list[str]]:
    """Read, check and build the features of `config.data` on Spark and write them to
    `paths.features` as a Parquet dataset; returns its path and the feature columns. Raises
    `ContractError` (worded by the pandas loader) when the input breaks the contract."""
    from churnml.features.build import check_config

    check_config(config.features, config.labels)
    spark = spark or session(config.engine)
    started = time.perf_counter()
    folder = Path(config.paths.features)
    folder.mkdir(parents=True, exist_ok=True)
    staging = _Staging(folder / f".spark-staging-{os.getpid()}")
    shutil.rmtree(staging.root, ignore_errors=True)
    try:
        buckets, empty = _stage_tables(spark, config, today, staging)
        log.info("spark: staged the tables in %d buckets in %.1f s", buckets, time.perf_counter() - started)
        tasks = spark.createDataFrame([(b,) for b in range(buckets)], "bucket int").repartition(buckets)
        extract = _check_buckets(tasks, config, today, staging, empty)
        log.info("spark: read and checked the tables in %.1f s", time.perf_counter() - started)
        totals, models = _build_rows(tasks, config, staging, list(empty), extract)
        log.info("spark: built the rows, their group totals and BG/NBD in %.1f s", time.perf_counter() - started)
        rows = _finish_buckets(tasks, staging, totals, models, config.labels.horizon_months)
        written = _publish(staging, folder, fingerprint)
        log.info("spark: %d rows written in %.1f s", rows, time.perf_counter() - started)
        return written
    finally:
        shutil.rmtree(staging.root, ignore_errors=True)


def _stage_tables(spark, config: Any, today: date, staging: _Staging) -> tuple[int, dict[str, pd.DataFrame]]:
    """Stage 0: every table's rows in the staging folder by bucket; returns the number of
    buckets and each table's columns as an empty frame (for a bucket without its rows)."""
    from churnml.data.contract import TABLES
    from churnml.data.load import table_files

    catalog = config.data.source == "spark_tables"
    files = catalog_tables(config.data) if catalog else table_files(config.data)
    if any(spec.required and t not in files for t, spec in TABLES.items()):
        _pandas_report(config, today)
        raise RuntimeError("a required table is missing, yet the pandas loader reads the tables")
    if catalog:  # read by Spark, as CSV is
        parquet, columns = {}, {}
        csv = {t: read_catalog_table(spark, config.data, t, name) for t, name in files.items()}
        buckets = config.engine.buckets or _auto_buckets(spark, csv["accounts"])
    else:
        buckets = config.engine.buckets or _auto_buckets(spark, files["accounts"])
        parquet = {t: p for t, p in files.items() if p.suffix.lower() in (".parquet", ".pq") or p.is_dir()}
        columns = {t: _parquet_columns(config.data, t, p) for t, p in parquet.items()}
        csv = {t: read_csv_table(spark, config.data, t, p) for t, p in files.items() if t not in parquet}
    empty = {t: _read_parquet_task(_parquet_tasks(t, p)[0], columns[t]).iloc[:0] for t, p in parquet.items()}
    empty.update({t: frame.limit(0).toPandas() for t, frame in csv.items()})

    def stage_parquet(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for task in batch.itertuples(index=False):
                n = _stage(_read_parquet_task(tuple(task), columns[task[0]]), staging, task[0], buckets)
                yield pd.DataFrame({"rows": [n]})

    tasks = [task for t, p in parquet.items() for task in _parquet_tasks(t, p)]
    if tasks:
        schema = "table string, file string, first int, count int, offset long"
        spark.createDataFrame(tasks, schema).repartition(len(tasks)).mapInPandas(stage_parquet, "rows long").collect()
    for name, frame in csv.items():
        def stage_csv(batches: Iterator[pd.DataFrame], name: str = name) -> Iterator[pd.DataFrame]:
            yield pd.DataFrame({"rows": [_stage(pd.concat(list(batches), ignore_index=True), staging, name, buckets)]})

        frame.mapInPandas(stage_csv, "rows long").collect()
    return buckets, {name: empty[name] for name in files}


def _check_buckets(tasks, config: Any, today: date, staging: _Staging, empty: dict[str, pd.DataFrame]):
    """Stage 1: each bucket typed and checked (typed tables staged); returns the extract's
    `Extent`, filled columns and categories, or raises the report of a broken rule."""
    data_cfg = config.data

    def check(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for bucket in batch["bucket"]:
                typed, problems = _check(_raw_bucket(staging, int(bucket), empty), data_cfg, today)
                if not problems:
                    for name, frame in typed.items():
                        _write_parquet(frame, staging.typed(int(bucket), name))
                summary = None if problems else json.dumps(_summary(typed))
                yield pd.DataFrame({"bucket": [int(bucket)], "problems": [len(problems)],
                                    "repeated": [_keys_repeat(staging, int(bucket))], "summary": [summary]})

    checked = tasks.mapInPandas(check, schema="bucket int, problems int, repeated boolean, summary string").collect()
    if any(r["problems"] for r in checked):
        _pandas_report(config, today)
        raise RuntimeError("a bucket found a broken rule that the whole tables do not break")
    if any(r["repeated"] for r in checked):
        _pandas_report(config, today)  # two keys with one hash are not a problem: go on
    summaries = [json.loads(r["summary"]) for r in checked]
    if not all(any(s["rows"][t] for s in summaries) for t in ("accounts", "orders")):
        _pandas_report(config, today)  # an empty table
        raise RuntimeError("a required table has no rows, yet the pandas loader reads the tables")
    return _merge_summaries(summaries)


def _build_rows(tasks, config: Any, staging: _Staging, names: list[str], extract):
    """Stage 2: each bucket's rows (staged), their group totals summed by Spark, and BG/NBD
    fitted per snapshot on the driver; returns (totals, models)."""
    from churnml.features import across
    from churnml.features.build import account_rows, default_months

    ext, filled, levels = extract
    months = default_months(ext, config.features)
    features_cfg, labels_cfg = config.features, config.labels

    def rows_of(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for bucket in batch["bucket"]:
                tables = _typed_bucket(staging, int(bucket), names)
                positions = pd.Series(tables["accounts"].pop(_POS).to_numpy(), index=tables["accounts"]["account_id"])
                rows = account_rows(tables, ext, months, features_cfg, labels_cfg, levels, filled)
                rows[_POS] = positions.reindex(rows["account_id"]).to_numpy()
                _write_parquet(rows, staging.rows(int(bucket)))
                if across.BGNBD[0] in rows:
                    known = rows[across.BGNBD[0]].notna() & rows[across.PRESENT]
                    _write_parquet(rows.loc[known, ["snapshot", _POS, *across.BGNBD[:3]]], staging.bgnbd(int(bucket)))
                yield _own_parts(rows)

    totals = _totals(tasks.mapInPandas(rows_of, schema=_PARTS_SCHEMA))
    models = {}
    if staging.bgnbd(0).parent.exists():
        # in the pandas engine's order (snapshot, then account): the fit's sample is the same
        inputs = _read_parquet(staging.bgnbd(0).parent).sort_values(["snapshot", _POS], kind="stable")
        models = across.fit_bgnbd_models(inputs)
    return totals, models


def _finish_buckets(tasks, staging: _Staging, totals: dict[str, pd.DataFrame], models: dict, horizon: int) -> int:
    """Stage 3: each bucket's rows finished into one part of the dataset; returns the rows."""
    from churnml.features import across
    from churnml.features.build import finish_rows

    def finish(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for bucket in batch["bucket"]:
                rows = _with_totals(pd.read_parquet(staging.rows(int(bucket))), totals)
                positions = rows[_POS].to_numpy()[rows[across.PRESENT].to_numpy()]
                done = finish_rows(rows, models, horizon)
                done[_POS] = positions
                _write_parquet(done, staging.part(int(bucket)))
                yield pd.DataFrame({"bucket": [int(bucket)], "rows": [len(done)]})

    return sum(r["rows"] for r in tasks.mapInPandas(finish, schema="bucket int, rows long").collect())


def _publish(staging: _Staging, folder: Path, fingerprint: dict[str, str] | None) -> tuple[Path, list[str]]:
    """The staged parts become `<folder>/features.parquet/` (replacing what was there), with
    the fingerprint, the categories and the row order beside them; returns (its path, the
    feature columns)."""
    from churnml.catalog import FEATURES_FILE
    from churnml.features import feature_columns
    from churnml.io import write_dataset_metadata

    parts = staging.part(0).parent
    first = pd.read_parquet(min(parts.glob("part-*.parquet")))
    categories = {name: list(first[name].cat.categories) for name in first.columns
                  if isinstance(first[name].dtype, pd.CategoricalDtype)}
    write_dataset_metadata(parts, {"churnml.inputs": json.dumps(fingerprint, sort_keys=True),
                                   "categories": categories, "order": ["snapshot", _POS]})
    target = folder / FEATURES_FILE
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    parts.rename(target)
    return target, feature_columns(first.drop(columns=[_POS]))


def _stage(part: pd.DataFrame, staging: _Staging, table: str, buckets: int) -> int:
    """Write rows of `table` into the staging folder: by account bucket, and their keys' hashes
    by hash bucket (for the check of repeated keys); returns how many."""
    import uuid

    from churnml.data.contract import TABLES, text_hashes

    name = f"part-{uuid.uuid4().hex}.parquet"
    bucket = (text_hashes(part["account_id"]) % np.uint64(buckets)).astype(np.int64)
    for b, at in pd.Series(np.arange(len(part))).groupby(bucket, sort=False):
        _write_parquet(part.iloc[at.to_numpy()], staging.raw_bucket(table, int(b)) / name)
    key = TABLES[table].key
    if key != "account_id" and key in part:
        hashes = text_hashes(part[key])
        for b, at in pd.Series(np.arange(len(part))).groupby((hashes % np.uint64(buckets)).astype(np.int64), sort=False):
            _write_parquet(pd.DataFrame({"table": table, "hash": hashes[at.to_numpy()].view(np.int64)}),
                           staging.keys(int(b)) / name)
    return len(part)


def _keys_repeat(staging: _Staging, bucket: int) -> bool:
    """Whether a key of a table repeats among the keys whose hash falls in `bucket` (a hash
    repeated is then compared as text by the loader's report)."""
    if not staging.keys(bucket).exists():
        return False
    keys = _read_parquet(staging.keys(bucket))
    return bool(keys.duplicated(["table", "hash"]).any())


# --------------------------------------------------------------------------- scoring

_MONTHS_SCHEMA = "account_id string, order_date timestamp, net_amount double"


def order_months(config: Any, spark=None) -> pd.DataFrame:
    """The orders table summed per account and month by Spark tasks, typed as the pandas
    loader types it: `account_id`, `order_date` (the month's first day), `net_amount`. What
    scoring needs of the orders (the extract's months, the win-back's revenue) without the
    order lines on the driver."""
    from pyspark.sql import functions as F

    from churnml.data.contract import conform
    from churnml.data.load import formats, map_values, table_files

    spark = spark or session(config.engine)
    data_cfg = config.data
    fmt = formats(data_cfg, "orders")
    wanted = ["account_id", "order_date", "net_amount"]

    def monthly(raw: pd.DataFrame) -> pd.DataFrame:
        typed = conform("orders", map_values({"orders": raw[[c for c in wanted if c in raw]]}, data_cfg)["orders"],
                        fmt).typed
        typed = typed[typed["order_date"].notna() & typed["account_id"].notna()]
        month = typed["order_date"].dt.to_period("M").dt.to_timestamp()
        sums = typed.groupby([typed["account_id"].astype(str), month], sort=False)["net_amount"].sum(min_count=1)
        out = sums.rename_axis(["account_id", "order_date"]).reset_index()
        out["account_id"] = np.asarray(out["account_id"], dtype=object)  # plain strings for pyspark
        return out.astype({"order_date": "datetime64[us]", "net_amount": "float64"})

    path = None if data_cfg.source == "spark_tables" else table_files(data_cfg)["orders"]
    if path is not None and (path.suffix.lower() in (".parquet", ".pq") or path.is_dir()):
        columns = {user: name for user, name in _parquet_columns(data_cfg, "orders", path).items() if name in wanted}

        def tasks_of(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for batch in batches:
                for task in batch.itertuples(index=False):
                    yield monthly(_read_parquet_task(tuple(task), columns).drop(columns=[_POS]))

        tasks = _parquet_tasks("orders", path)
        schema = "table string, file string, first int, count int, offset long"
        parts = spark.createDataFrame(tasks, schema).repartition(len(tasks)).mapInPandas(tasks_of, _MONTHS_SCHEMA)
    else:
        lines = (read_csv_table(spark, data_cfg, "orders", path) if path is not None else
                 read_catalog_table(spark, data_cfg, "orders", catalog_tables(data_cfg)["orders"])).select(*wanted)
        parts = lines.mapInPandas(lambda batches: (monthly(b) for b in batches), _MONTHS_SCHEMA)
    months = parts.groupBy("account_id", "order_date").agg(F.sum("net_amount").alias("net_amount")).toPandas()
    months["order_date"] = months["order_date"].astype("datetime64[ns]")
    return months.sort_values(["account_id", "order_date"], kind="stable", ignore_index=True)


def model_outputs(scope: pd.DataFrame, churn_model: Any, churn_uri: str, switching_model: Any | None,
                  switching_uri: str | None, offered: pd.Series, spark=None, engine_cfg: Any = None) -> pd.DataFrame:
    """The models' outputs for the accounts of `scope` (one snapshot's features), computed on
    Spark by the models at `churn_uri` and `switching_uri` as `mlflow.pyfunc.spark_udf`s with a
    struct result (`churnml.models.outputs`); `offered` is each account's deepest offered
    discount. One row per account, with `account_id`."""
    from pyspark.sql import functions as F

    from churnml import tracking
    from churnml.models import outputs as out
    from churnml.models.pyfunc import as_text_input
    from churnml.models.switching import DISCOUNT

    spark = spark or session(engine_cfg)
    churn_features = list(churn_model.features)
    levels = dict(churn_model.levels)
    features = list(dict.fromkeys(churn_features + (list(switching_model.features) if switching_model else [])))
    if switching_model is not None:
        levels.update(switching_model.fit.levels)
    frame = as_text_input(scope, features, {c: v for c, v in levels.items() if c in features})
    for name in levels:
        if name in frame:  # plain strings and None: what pyspark converts reliably
            frame[name] = np.asarray(frame[name].astype(object).where(frame[name].notna(), None), dtype=object)
    frame.insert(0, "account_id", np.asarray(scope["account_id"].astype(str), dtype=object))
    frame[DISCOUNT] = scope["account_id"].astype(str).map(offered).fillna(0.0).to_numpy(dtype="float64")
    rows = spark.createDataFrame(frame).repartition(spark.sparkContext.defaultParallelism)

    contributions = [f"{out.CONTRIBUTION}{name}" for name in [*churn_features, "bias"]]
    churn_type = ", ".join(f"`{name}` double" for name in [out.CHURN, *contributions])
    params = {"output": out.SCORES}
    columns = [F.col("account_id"),
               tracking.spark_udf(spark, churn_uri, churn_type, params)(*churn_features).alias("churn")]
    if switching_model is not None and switching_uri:
        switching_type = f"`{out.SWITCH}` double, `{out.COST}` double"
        udf = tracking.spark_udf(spark, switching_uri, switching_type, params)
        columns.append(udf(*switching_model.features, DISCOUNT).alias("switching"))
    scored = rows.select(*columns).select("account_id", "churn.*", *(["switching.*"] if len(columns) > 2 else []))
    return scored.toPandas()
