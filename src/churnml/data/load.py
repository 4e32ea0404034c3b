"""Loading the input tables from CSV or Parquet files or an SQL database.

`load_tables(data_cfg, as_of=None, today=None)` reads every table the data config points at,
renames the user's columns to the contract's, keeps only contract columns (so names and other
personal details in an extract never enter the pipeline), checks everything against the contract
(`churnml.data.contract`) and returns the typed tables of docs/internals.md. Every problem, from a
missing file to a date in the future, ends in one `ContractError` that lists them all; a config
that cannot work at all (an unknown format, an unreachable database) is a `ConfigError`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from churnml.constraints import check, fail
from churnml.data.contract import TABLES, Formats, as_seen_at, check_tables, frame_of, unknown_values
from churnml.errors import ConfigError, ContractError, Problem, ServiceUnavailable
from churnml.io import FORMATS

log = logging.getLogger(__name__)


_SUFFIX_FORMAT = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
# Text that means "no value" in exports. Not "NA": that is also a region (North America).
_NA_TEXT = ["", "NaN", "nan", "NULL", "null", "None", "N/A", "n/a", "#N/A"]
# How each network driver takes a connection timeout (seconds).
_CONNECT_TIMEOUT = {
    "psycopg2": {"connect_timeout": 10}, "psycopg": {"connect_timeout": 10}, "pg8000": {"timeout": 10},
    "pymysql": {"connect_timeout": 10}, "mysqldb": {"connect_timeout": 10},
}
_DELIMITERS = {",": "','", ";": "';'", "\t": "a tab", "|": "'|'"}


@dataclass
class _Read:
    """What reading the sources gave: raw tables under contract names, and what went wrong."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # (table, None) or (table, column) whose absence is already explained by a problem.
    reported: set[tuple[str, str | None]] = field(default_factory=set)
    delimiter: str = ","  # of CSV files, for the wrong-delimiter hint
    csv: set[str] = field(default_factory=set)  # tables read from CSV: examples give file lines

    def fail(self, table: str, column: str | None, text: str) -> None:
        self.problems.append(Problem(table, column, text))
        self.reported.add((table, column))


def _setting(data_cfg: Any, table: str, key: str) -> Any:
    """`data.tables.<table>.<key>` when set, else `data.<key>` (TableSource or plain dict)."""
    src = (data_cfg.tables or {}).get(table)
    get = src.get if isinstance(src, Mapping) else (lambda k, d=None: getattr(src, k, d))
    value = get(key, None) if src is not None else None
    return value if value is not None else getattr(data_cfg, key, None)


def _table_source(data_cfg: Any, table: str) -> tuple[str | None, str | None, dict[str, str]]:
    """(path, query, contract -> user column mapping) of one table; TableSource or plain dict."""
    src = (data_cfg.tables or {}).get(table)
    if src is None:
        return None, None, {}
    get = src.get if isinstance(src, Mapping) else (lambda key: getattr(src, key, None))
    return get("path"), get("query"), dict(get("columns") or {})


def catalog_table(data_cfg: Any, table: str) -> str | None:
    """`data.tables.<table>.table`: the table's name in a Spark catalog (data.source=spark_tables)."""
    src = (data_cfg.tables or {}).get(table)
    if src is None:
        return None
    return (src.get("table") if isinstance(src, Mapping) else getattr(src, "table", None)) or None


def _values(data_cfg: Any, table: str) -> dict[str, dict[str, str]]:
    """`data.tables.<table>.values`: column -> {the export's value: the contract's}."""
    src = (data_cfg.tables or {}).get(table)
    values = (src.get("values") if isinstance(src, Mapping) else getattr(src, "values", None)) if src is not None else None
    return {str(c): {str(k): str(v) for k, v in (m or {}).items()} for c, m in (values or {}).items()}


def formats(data_cfg: Any, table: str) -> Formats:
    """How `table`'s text writes numbers and dates, from the data config."""
    return Formats(
        decimal=_setting(data_cfg, table, "decimal") or ".",
        thousands=_setting(data_cfg, table, "thousands") or None,
        date_format=_setting(data_cfg, table, "date_format") or None,
    )


def check_data_config(data_cfg: Any) -> None:
    """Raise `ConfigError` for a data config that cannot work, naming the parameter: the
    config's own constraints, then what the contract says (tables, columns, vocabularies) and
    each table's export settings as they apply (its own, else data.<setting>)."""
    check(data_cfg, "data")
    for table in data_cfg.tables or {}:
        if table not in TABLES:
            raise ConfigError(f"data.tables.{table}: not a table of the contract; allowed: {', '.join(TABLES)}")
        decimal, thousands = _setting(data_cfg, table, "decimal"), _setting(data_cfg, table, "thousands")
        if decimal is not None and decimal == thousands:
            raise fail(f"data.tables.{table}.thousands", "from the decimal mark", thousands, "differ")
        allowed = TABLES[table].names
        for name in _table_source(data_cfg, table)[2]:
            if name not in allowed:
                raise ConfigError(
                    f"data.tables.{table}.columns.{name}: not a column of {table}; allowed: {', '.join(allowed)}"
                )
        for name in _values(data_cfg, table):
            if not TABLES[table].column(name).values if name in allowed else True:
                vocab = [c.name for c in TABLES[table].columns if c.values]
                raise ConfigError(
                    f"`data.tables.{table}.values.{name}` must name a vocabulary column of {table} "
                    f"({', '.join(vocab) or 'it has none'}); got {name!r}"
                )


def check_folder(data_cfg: Any) -> None:
    """Raise `ConfigError` when a files source's folder does not exist: said before anything
    else is looked at (a model, a registry), as a mistake in the data settings."""
    if getattr(data_cfg, "source", None) != "files" or not data_cfg.dir:
        return
    folder = Path(data_cfg.dir).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"`data.dir` must be a folder holding the export's tables; got {str(folder)!r}: "
                          "there is no such folder")


def _file_of(data_cfg: Any, table: str) -> tuple[Path, bool]:
    """The file a table is read from, and whether the config names it explicitly."""
    root = Path(data_cfg.dir).expanduser()
    given = _table_source(data_cfg, table)[0]
    if given:
        path = Path(given).expanduser()
        return (path if path.is_absolute() else root / path), True
    preferred = root / f"{table}.{data_cfg.format}"
    if not preferred.exists():
        # Accept the other format too, so a folder of Parquet files works with the csv default.
        for fmt in FORMATS:
            if (root / f"{table}.{fmt}").exists():
                return root / f"{table}.{fmt}", False
    return preferred, False


def table_files(data_cfg: Any) -> dict[str, Path]:
    """The table files that exist for a files/synthetic data config, by table name."""
    found = {}
    for table in TABLES:
        path, _ = _file_of(data_cfg, table)
        if path.is_file():
            found[table] = path
    return found


def _shorten(names: list[str], limit: int = 15) -> str:
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "") if names else "none"


def _pick_columns(read: _Read, table: str, frame: pd.DataFrame, header: list[str], mapping: dict[str, str]) -> None:
    """Keep the contract columns of a freshly read table, under contract names; report what is missing."""
    spec = TABLES[table]
    missing_required = [c for c in spec.required_columns if mapping.get(c, c) not in header]
    if missing_required and len(header) == 1:
        for sep, word in _DELIMITERS.items():
            if sep != read.delimiter and sep in str(header[0]):
                read.fail(
                    table,
                    None,
                    f"the file has a single column {str(header[0])[:60]!r}: looks like the delimiter "
                    f"is {word}, not {_delimiter_word(read)}; set data.delimiter to {word}",
                )
                return
    for name in spec.names:
        user = mapping.get(name, name)
        if user in header:
            continue
        if name in mapping:
            read.fail(
                table,
                name,
                f"data.tables.{table}.columns maps it to {user!r}, which is not a column "
                f"(columns found: {_shorten(header)})",
            )
        elif spec.column(name).required:
            read.fail(
                table,
                name,
                f"required column is missing (columns found: {_shorten(header)}; "
                f"map yours with data.tables.{table}.columns)",
            )
    columns = {}
    for name in spec.names:
        if mapping.get(name, name) in frame:
            column = frame[mapping.get(name, name)]
            if isinstance(column, pd.DataFrame):  # the same header twice
                read.fail(table, name, "the column appears more than once")
                column = column.iloc[:, 0]
            columns[name] = column
    read.tables[table] = frame_of(columns, frame.index)


def _delimiter_word(read: _Read) -> str:
    return _DELIMITERS.get(read.delimiter, repr(read.delimiter))


def _python_encoding(encoding: str) -> str:
    # utf-8-sig reads UTF-8 with or without a byte-order mark (Excel writes one).
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _read_csv(path: Path, wanted: set[str], delimiter: str, encoding: str = "utf-8") -> tuple[pd.DataFrame, list[str]]:
    """Every wanted column as text, and the header: with Arrow's reader (multi-threaded), or
    pandas' when Arrow refuses the file, so that every problem is reported as pandas words it."""
    try:
        return _read_csv_arrow(path, wanted, delimiter, encoding)
    except Exception as err:  # noqa: BLE001 - any refusal: the pandas reader reads it or says why
        log.debug("reading %s with pandas: Arrow's reader refused it (%s)", path, _first_line(err))
        return _read_csv_pandas(path, wanted, delimiter, encoding)


def _read_csv_arrow(path: Path, wanted: set[str], delimiter: str, encoding: str) -> tuple[pd.DataFrame, list[str]]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    python_encoding = _python_encoding(encoding)
    read = pcsv.ReadOptions(encoding="utf8" if python_encoding == "utf-8-sig" else encoding, block_size=16 * 2**20)
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    header = pcsv.open_csv(path, read_options=read, parse_options=parse).schema.names
    if len(set(header)) < len(header) or any(name == "" for name in header):
        raise ValueError("repeated or empty header names: pandas names them")
    keep = [name for name in header if name in wanted]
    if not keep:
        raise ValueError("no wanted column: Arrow would read them all")
    if python_encoding == "utf-8-sig":
        _check_utf8(path)  # Arrow checks only the columns it keeps; a bad byte anywhere is reported
    convert = pcsv.ConvertOptions(
        include_columns=keep, column_types={name: pa.large_string() for name in keep},
        null_values=_NA_TEXT, strings_can_be_null=True, quoted_strings_can_be_null=True,
    )
    table = pcsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    return table.to_pandas(), list(header)


def _check_utf8(path: Path) -> None:
    """Raise UnicodeDecodeError when `path` is not UTF-8 text (read in blocks: never held whole)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as stream:
        while block := stream.read(16 * 2**20):
            decoder.decode(block)
    decoder.decode(b"", final=True)


def _read_csv_pandas(path: Path, wanted: set[str], delimiter: str, encoding: str = "utf-8") -> tuple[pd.DataFrame, list[str]]:
    encoding = _python_encoding(encoding)
    header = list(pd.read_csv(path, nrows=0, sep=delimiter, encoding=encoding).columns)
    # Everything as text: ids keep leading zeros, and the contract parses (and reports) the rest.
    frame = pd.read_csv(
        path,
        sep=delimiter,
        dtype=str,
        usecols=lambda c: c in wanted,
        keep_default_na=False,
        na_values=_NA_TEXT,
        encoding=encoding,
    )
    return frame, header


def encoding_problem(path: Path, encoding: str) -> str:
    """Why `path` does not read as `encoding`: the first line (header = line 1) that does not
    decode, and an encoding that reads the start of the file (read line by line: a large export
    is never held in memory whole)."""
    line, bad, head = 0, b"", b""
    with path.open("rb") as stream:
        for line, raw in enumerate(stream, start=1):  # noqa: B007 - the last line number is read after the loop
            if len(head) < _HEAD_BYTES:
                head += raw
            try:
                raw.decode(_python_encoding(encoding))
            except UnicodeDecodeError as err:
                bad = raw[err.start : err.start + 4]
                head += stream.read(_HEAD_BYTES)
                break
    fits = next((e for e in ("utf-8", "cp1252", "latin-1") if e != encoding and _decodes(head, e)), None)
    suggestion = f"; it reads as {fits}: set data.encoding={fits}" if fits else ""
    shown = "UTF-8" if _python_encoding(encoding) == "utf-8-sig" else encoding
    return f"cannot read {path}: not {shown} text (line {line} has the bytes {bad!r}){suggestion}"


_HEAD_BYTES = 4 * 2**20  # what the suggested encoding is checked on


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(_python_encoding(encoding), errors="strict")
        return True
    except UnicodeDecodeError as err:
        # A multi-byte character cut at the end of what was read is not an error of the file.
        return err.start >= len(data) - 3 and err.reason == "unexpected end of data"


def _read_parquet(path: Path, wanted: set[str], coded: set[str] = frozenset()) -> tuple[pd.DataFrame, list[str]]:
    """The wanted columns, the `coded` ones as categories straight from Parquet's dictionaries
    (never 20 million strings), and the header."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    header = list(schema.names)
    text = {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
    arrow = pq.read_table(path, columns=[c for c in header if c in wanted],
                          read_dictionary=sorted(coded & text & wanted))
    # Dates straight to datetime64 instead of Python date objects: much faster to parse. The
    # Arrow table is released column by column as pandas takes it over: memory holds one copy.
    return arrow.to_pandas(date_as_object=False, self_destruct=True, split_blocks=True), header


def _read_files(data_cfg: Any, only: Collection[str] | None = None) -> _Read:
    read = _Read(delimiter=getattr(data_cfg, "delimiter", ","))
    hint = " (run `churnml generate` first)" if data_cfg.source == "synthetic" else ""
    for table, spec in TABLES.items():
        if only is not None and table not in only:
            read.reported.add((table, None))  # not asked for: not missing
            continue
        path, explicit = _file_of(data_cfg, table)
        mapping = _table_source(data_cfg, table)[2]
        if not path.is_file():
            # An optional table is simply absent, unless the config points at it explicitly.
            if spec.required or explicit:
                what = "required table is missing" if spec.required else "table is missing"
                read.fail(table, None, f"{what}: no file {path}{hint}")
            continue
        fmt = _SUFFIX_FORMAT.get(path.suffix.lower(), data_cfg.format)
        wanted = {mapping.get(name, name) for name in spec.names}
        start = time.perf_counter()
        if path.stat().st_size == 0:
            read.fail(table, None, f"the file {path} is empty")
            continue
        try:
            if fmt == "parquet":
                coded = {mapping.get(c.name, c.name) for c in spec.columns if c.coded}
                frame, header = _read_parquet(path, wanted, coded)
            else:
                delimiter = _setting(data_cfg, table, "delimiter") or ","
                read.delimiter = delimiter
                frame, header = _read_csv(path, wanted, delimiter, _setting(data_cfg, table, "encoding") or "utf-8")
                read.csv.add(table)
        except UnicodeDecodeError:
            read.fail(table, None, encoding_problem(path, _setting(data_cfg, table, "encoding") or "utf-8"))
            continue
        except pd.errors.EmptyDataError:
            read.fail(table, None, f"the file {path} is empty")
            continue
        except Exception as err:  # noqa: BLE001 - pandas and pyarrow raise many types; all are the user's to fix
            read.fail(table, None, f"cannot read {path} as {fmt.upper()}: {_first_line(err)}")
            continue
        _pick_columns(read, table, frame, header, mapping)
        log.info("read %s: %d rows from %s in %.2f s", table, len(frame), path, time.perf_counter() - start)
    return read


def map_values(tables: dict[str, pd.DataFrame], data_cfg: Any) -> dict[str, pd.DataFrame]:
    """The vocabulary columns translated from the export's words to the contract's
    (`data.tables.<table>.values`); values without a mapping stay as they are."""
    out = dict(tables)
    for table, frame in tables.items():
        columns = {c: m for c, m in _values(data_cfg, table).items() if c in frame and m}
        if columns:
            frame = frame.copy()
            for column, mapping in columns.items():
                text = frame[column].astype("str").str.strip()
                frame[column] = text.map(mapping).where(text.isin(list(mapping)), frame[column])
            out[table] = frame
    return out


def _in_users_words(problems: list[Problem], data_cfg: Any, read: _Read) -> list[Problem]:
    """Problems that name the user's own column beside the contract's, and example rows with the
    user's column names and, for CSV files, the line in the file (the header is line 1)."""
    for p in problems:
        mapping = _table_source(data_cfg, p.table)[2]
        if p.column and mapping.get(p.column, p.column) != p.column:
            p.source_column = mapping[p.column]
        if p.examples is not None and len(p.examples):
            examples = p.examples.rename(columns={k: v for k, v in mapping.items() if k in p.examples})
            if p.table in read.csv and "row" in examples:
                examples = examples.rename(columns={"row": "line"})
                examples["line"] = examples["line"] + 1
            p.examples = examples
    return problems


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def _read_sql(data_cfg: Any, only: Collection[str] | None = None) -> _Read:
    import sqlalchemy as sa

    shown = safe_url(data_cfg.url)
    try:
        url = sa.engine.make_url(data_cfg.url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            # Connecting would silently create an empty database file; say what is wrong instead.
            if not url.database.startswith("file:") and not Path(url.database).is_file():
                raise ConfigError(f"data.url points at an SQLite file that does not exist: {url.database}")
        # A database that does not answer fails within seconds (drivers that take the setting).
        timeout = _CONNECT_TIMEOUT.get(url.get_driver_name(), {})
        engine = sa.create_engine(url, connect_args=timeout)
    except ConfigError:
        raise
    except Exception as err:  # noqa: BLE001 - a malformed URL or a driver that is not installed
        raise ConfigError(
            f"data.url must be a usable SQLAlchemy URL such as sqlite:////abs/path.db; got {shown} ({_first_line(err)})"
        ) from err
    read = _Read()
    try:
        try:
            with engine.connect():
                pass
        except sa.exc.DBAPIError as err:  # OperationalError or InterfaceError, by driver
            raise ServiceUnavailable(
                f"cannot reach the database at data.url={shown} ({_first_line(err)}): check that it is "
                "running and reachable from here, and the host, port, database name and credentials"
            ) from err
        for table, spec in TABLES.items():
            if only is not None and table not in only:
                read.reported.add((table, None))  # not asked for: not missing
                continue
            _, query, mapping = _table_source(data_cfg, table)
            if not query:
                if spec.required:
                    read.fail(table, None, f"required table is missing: set data.tables.{table}.query")
                continue
            start = time.perf_counter()
            try:
                frame = _query(engine, query)
            except Exception as err:  # noqa: BLE001 - any failed query is the user's to fix
                shown_query = " ".join(query.split())
                shown_query = shown_query if len(shown_query) <= 200 else shown_query[:199] + "…"
                read.fail(table, None, f"the query failed: {_first_line(err)} (data.tables.{table}.query: {shown_query})")
                continue
            # Drop every non-contract column at once: nothing else from the extract goes further.
            _pick_columns(read, table, frame, [str(c) for c in frame.columns], mapping)
            log.info("read %s: %d rows by query in %.2f s", table, len(frame), time.perf_counter() - start)
    finally:
        engine.dispose()
    return read


def _query(engine: Any, query: str) -> pd.DataFrame:
    """The rows of `query`: through PostgreSQL's COPY as CSV read by Arrow (every column as text,
    parsed by the contract as a file's would be) when the driver is psycopg, else through
    pandas. A million order lines fetched as Python objects take many times longer than COPY."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return _copy_query(engine, query)
    with engine.connect() as conn:
        # A plain string goes to the driver as is: a ':' in a literal is not a parameter.
        return pd.read_sql_query(query, conn)


def _copy_query(engine: Any, query: str) -> pd.DataFrame:
    """`COPY (query) TO STDOUT` as CSV, read by Arrow: every column as text; an unquoted empty
    field (SQL NULL) is missing, a quoted one ('') an empty text."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pcsv

    buffer = io.BytesIO()
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor, cursor.copy(
            f"COPY ({query.strip().rstrip(';')}) TO STDOUT WITH (FORMAT csv, HEADER)"
        ) as copy:
            for block in copy:
                buffer.write(block)
    finally:
        raw.close()
    data = pa.py_buffer(buffer.getbuffer())  # read twice (header, then table) without a copy
    header = pcsv.open_csv(pa.BufferReader(data)).schema.names
    convert = pcsv.ConvertOptions(column_types={name: pa.large_string() for name in header},
                                  null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False)
    table = pcsv.read_csv(pa.BufferReader(data), read_options=pcsv.ReadOptions(block_size=16 * 2**20),
                          parse_options=pcsv.ParseOptions(newlines_in_values=True), convert_options=convert)
    return table.to_pandas()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def load_tables(
    data_cfg: Any,
    as_of: pd.Timestamp | None = None,
    today: date | None = None,
    only: Collection[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Read, check and return the typed input tables described by `data_cfg` (a DataConfig).

    `today` (default: the real date) is the latest date an event may carry. With `as_of`, rows
    dated on or after it are dropped afterwards (not errors; see `contract.as_seen_at`). With
    `only`, just those tables are read (each checked on its own: the rules between tables need
    the others). Raises `ConfigError` for a config that cannot work and one `ContractError` for
    every problem found.
    """
    check_data_config(data_cfg)
    start = time.perf_counter()
    if data_cfg.source == "spark_tables":
        raise ConfigError("data.source=spark_tables is read by the Spark engine (churnml.spark_engine.load_tables)")
    read = _read_sql(data_cfg, only) if data_cfg.source == "sql" else _read_files(data_cfg, only)
    return _checked(read, data_cfg, today, as_of, start)


def tables_from_frames(frames: Mapping[str, pd.DataFrame], data_cfg: Any, today: date | None = None,
                       only: Collection[str] | None = None,
                       headers: Mapping[str, list[str]] | None = None) -> dict[str, pd.DataFrame]:
    """`load_tables` for tables read elsewhere (a Spark catalog's, as pandas frames under the
    user's column names; `headers`: each table's columns, when the frames hold only some):
    picked, typed and checked by the same rules, with the same report."""
    check_data_config(data_cfg)
    start = time.perf_counter()
    read = _Read()
    for table, spec in TABLES.items():
        if only is not None and table not in only:
            read.reported.add((table, None))
            continue
        frame = frames.get(table)
        if frame is None:
            if spec.required:
                read.fail(table, None, f"required table is missing: set data.tables.{table}.table")
            continue
        header = list((headers or {}).get(table) or [str(c) for c in frame.columns])
        _pick_columns(read, table, frame, header, _table_source(data_cfg, table)[2])
    return _checked(read, data_cfg, today, None, start)


def _checked(read: _Read, data_cfg: Any, today: date | None, as_of: pd.Timestamp | None,
             start: float) -> dict[str, pd.DataFrame]:
    """The typed tables of what was read, or the one report of every problem (`ContractError`)."""
    raw = map_values(read.tables, data_cfg)
    tables, problems = check_tables(
        raw, today or date.today(), already_reported=read.reported,
        formats={name: formats(data_cfg, name) for name in raw},
    )
    if read.problems or problems:
        order = list(TABLES)
        # Grouped by table; within one, reading problems first (the sort is stable).
        found = _in_users_words(read.problems + problems, data_cfg, read)
        raise ContractError(sorted(found, key=lambda p: order.index(p.table)))
    for note in _in_users_words(unknown_values(tables), data_cfg, read):
        log.warning("%s", note.render().lstrip("- "))
    if as_of is not None:
        tables = as_seen_at(tables, pd.Timestamp(as_of))
    log.info(
        "loaded %s in %.2f s%s",
        ", ".join(f"{name} {len(frame):,}" for name, frame in tables.items()),
        time.perf_counter() - start,
        f" (as of {pd.Timestamp(as_of):%Y-%m-%d})" if as_of is not None else "",
    )
    return tables
