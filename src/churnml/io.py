"""Writers: every file churnml produces goes through here, written atomically.

A file is first written under a temporary name in its own folder and then moved into place with
`os.replace`, so a reader (or a scheduler that looks for the file) never sees half a file, and a
failure leaves the previous version intact.

- `atomic_path(path)`: a context manager giving the temporary path to write to.
- `write_bytes`, `write_text`: small files in one call.
- `write_frame(df, path)`: a DataFrame as Parquet or CSV, chosen by the file's suffix.
- `write_tables(tables, dir, format, truth=)`: tables as `<dir>/<table>.<format>` and, in `truth/`,
  a synthetic world's ground truth.
- `read_frame`, `read_truth`: read back what these write (the truth is not a contract table, so the
  loader does not read it).
- `swap_folder`, `replace_folder`, `recover_folder`: a whole folder replaced all or nothing (the
  monthly outputs of `churnml score`, an exported model).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd

from churnml.config import FORMATS, DataConfig
from churnml.constraints import check_field
from churnml.errors import ConfigError

log = logging.getLogger(__name__)

# Rows per Parquet row group / CSV batch: bounds the memory used while converting big frames.
CHUNK_ROWS = 1_000_000
# Beside the parts of a Parquet dataset: what `write_frame` keeps in a single file's metadata,
# and the categories of its categorical columns.
DATASET_METADATA = "_churnml.json"
# Date columns of the truth tables, parsed back by `read_truth` when it reads CSV.
TRUTH_DATES = {
    "hazard": ["month"],
    "accounts": ["arrival_month", "churn_month", "break_month"],
}


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success move it onto `path`, on failure delete it.

    The temporary name keeps the suffix (`.risk_list.tmp-1a2b3c4d.xlsx`) so writers that pick a
    format from the suffix still work. Creates the folder if needed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.tmp-{uuid.uuid4().hex[:8]}{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def _for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates without a time of day as plain YYYY-MM-DD dates, categories as their values."""
    out = {}
    for name, column in frame.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(column.cat.categories.dtype)
        elif column.dtype.kind == "M" and getattr(column.dtype, "tz", None) is None:
            values = column.dropna()
            if (values == values.dt.normalize()).all():
                column = column.dt.date.astype("date32[pyarrow]")
        out[name] = column
    return pd.DataFrame(out, index=frame.index, copy=False)


def write_frame(
    frame: pd.DataFrame, path: str | os.PathLike, chunk_rows: int = CHUNK_ROWS, metadata: Mapping[str, str] | None = None
) -> Path:
    """Write `frame` atomically as Parquet (`.parquet`) or CSV (`.csv`), without its index.

    Large frames are converted `chunk_rows` rows at a time so memory stays bounded; `metadata`
    (Parquet only) is stored in the file's schema (`read_metadata` gives it back). Returns the path.
    """
    import pyarrow as pa

    target = Path(path)
    kind = target.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise ValueError(f"write_frame writes .csv or .parquet files; got {target.name!r}")
    frame = frame.reset_index(drop=True)
    source = _for_csv(frame) if kind == "csv" else frame
    # The first chunk fixes the schema; the others are converted to it.
    chunks = [source.iloc[lo : lo + chunk_rows] for lo in range(0, len(source), chunk_rows)] or [source]
    first = pa.Table.from_pandas(chunks[0], preserve_index=False)
    with atomic_path(target) as tmp:
        options: dict = {}
        if kind == "parquet":
            import pyarrow.parquet as pq

            writer_class = pq.ParquetWriter
            # Dictionaries for text, dates and flags only: measured numbers rarely repeat, and
            # trying a dictionary for each float column first made writing features 1.7 x slower.
            options["use_dictionary"] = [f.name for f in first.schema if not pa.types.is_floating(f.type)]
        else:
            import pyarrow.csv as pcsv

            writer_class = pcsv.CSVWriter
        schema = first.schema
        if metadata and kind == "parquet":
            schema = schema.with_metadata({**(schema.metadata or {}), **{k.encode(): v.encode() for k, v in metadata.items()}})
            first = first.replace_schema_metadata(schema.metadata)
        def convert(k: int):
            return pa.Table.from_pandas(chunks[k], schema=schema, preserve_index=False) if k < len(chunks) else None

        # The next chunk is converted while this one is written: one chunk ahead, never more.
        with writer_class(tmp, schema, **options) as writer, ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(convert, 1)
            writer.write_table(first)
            del first
            for k in range(1, len(chunks)):
                table = ahead.result()
                ahead = pool.submit(convert, k + 1)
                writer.write_table(table)
                del table
    return target


def read_frame(path: str | os.PathLike, dates: list[str] | None = None, filters: list | None = None,
               keep: Callable[[pd.DataFrame], np.ndarray] | None = None,
               keep_columns: list[str] | None = None) -> pd.DataFrame:
    """Read a frame written by `write_frame` (or a Parquet dataset in parts); `dates` are parsed
    when reading CSV, `filters` (pyarrow's, e.g. `[("snapshot", "in", [t])]`) select Parquet
    rows while reading, and `keep` (a mask from the `keep_columns` of each batch of rows) keeps
    only the rows it selects, so the whole frame is never in memory."""
    target = Path(path)
    if keep is not None:
        return _read_kept(target, keep, keep_columns or [])
    if target.is_dir():
        return _read_dataset(target, filters)
    if target.suffix.lower() == ".parquet":
        return pd.read_parquet(target, filters=filters)
    return pd.read_csv(target, parse_dates=dates or [])


def _read_kept(target: Path, keep: Callable[[pd.DataFrame], np.ndarray], columns: list[str]) -> pd.DataFrame:
    """The rows of a Parquet file or dataset that `keep` selects, batch by batch."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(target), format="parquet")
    kept = []
    for batch in dataset.to_batches():
        mask = keep(pa.Table.from_batches([batch]).select(columns).to_pandas())
        kept.append(batch.filter(pa.array(np.asarray(mask, dtype=bool))))
    table = pa.Table.from_batches(kept, schema=dataset.schema)
    return _dataset_frame(target, table.to_pandas()) if target.is_dir() else table.to_pandas()


def read_columns(path: str | os.PathLike, columns: list[str]) -> pd.DataFrame:
    """Only `columns` of a Parquet file or dataset, in no particular row order."""
    import pyarrow.dataset as ds

    return ds.dataset(str(path), format="parquet").to_table(columns=columns).to_pandas()


def _read_dataset(folder: Path, filters: list | None) -> pd.DataFrame:
    """A Parquet dataset in parts, in the row order and with the categories its metadata records."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    frame = pq.read_table(folder, filters=filters).to_pandas() if filters else \
        ds.dataset(folder, format="parquet").to_table().to_pandas()
    return _dataset_frame(folder, frame)


def _dataset_frame(folder: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a dataset in parts put in the order, and given the categories, it records."""
    try:
        recorded = json.loads((folder / DATASET_METADATA).read_text())
    except (OSError, ValueError):
        recorded = {}
    order = [c for c in recorded.get("order", []) if c in frame]
    if order:  # the parts hold groups of rows; their order is recorded in columns
        frame = frame.sort_values(order, kind="stable", ignore_index=True)
        frame = frame.drop(columns=[c for c in order if c.startswith("_")])
    for name, levels in recorded.get("categories", {}).items():
        if name in frame:
            frame[name] = pd.Categorical(frame[name], categories=levels)
    for name in frame.columns:
        if pd.api.types.is_datetime64_dtype(frame[name].dtype):
            frame[name] = frame[name].astype("datetime64[ns]")
    return frame


def write_dataset_metadata(folder: str | os.PathLike, values: Mapping[str, object]) -> None:
    """Write what a Parquet dataset's readers need beside its parts (`DATASET_METADATA`)."""
    (Path(folder) / DATASET_METADATA).write_text(json.dumps(dict(values), sort_keys=True))


def read_metadata(path: str | os.PathLike, key: str) -> str | None:
    """The value `write_frame` stored under `key` in a Parquet file's schema; None when the
    file or the key is not there (or the file is not Parquet)."""
    import pyarrow.parquet as pq

    if Path(path).is_dir():  # a dataset in parts (the Spark engine's) keeps it beside them
        try:
            return json.loads((Path(path) / DATASET_METADATA).read_text()).get(key)
        except (OSError, ValueError):
            return None
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):  # no such file, or not Parquet: nothing recorded
        return None
    value = metadata.get(key.encode())
    return value.decode() if value is not None else None


def check_format(fmt: str) -> str:
    """The table format, or a ConfigError naming data.format."""
    check_field(DataConfig, "format", fmt, "data.format")
    return fmt


def write_tables(
    tables: Mapping[str, pd.DataFrame],
    directory: str | os.PathLike,
    format: str = "parquet",
    truth: Mapping[str, pd.DataFrame] | None = None,
) -> list[Path]:
    """Write each table to `<dir>/<name>.<format>` and each truth table to `<dir>/truth/`.

    Each file is replaced atomically. Returns the paths written.
    """
    check_format(format)
    root = Path(directory)
    written = [write_frame(frame, root / f"{name}.{format}") for name, frame in tables.items()]
    written += [write_frame(frame, root / "truth" / f"{name}.{format}") for name, frame in (truth or {}).items()]
    return written


def write_table_parts(
    parts: Iterable[tuple[Mapping[str, pd.DataFrame], Mapping[str, pd.DataFrame]]],
    directory: str | os.PathLike,
) -> list[Path]:
    """Write (tables, truth) parts one after another as one Parquet file per table, as
    `write_tables` writes a whole world; only one part is in memory at a time. Each file
    appears when complete (written beside it first). Returns the paths written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(directory)
    writers: dict[Path, pq.ParquetWriter] = {}
    try:
        for tables, truth in parts:
            for path, frame in [*((root / f"{n}.parquet", f) for n, f in tables.items()),
                                *((root / "truth" / f"{n}.parquet", f) for n, f in truth.items())]:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if path not in writers:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    writers[path] = pq.ParquetWriter(_staging_name(path), table.schema)
                writers[path].write_table(table.cast(writers[path].schema))
    except BaseException:
        for path, writer in writers.items():
            writer.close()
            _staging_name(path).unlink(missing_ok=True)
        raise
    for path, writer in writers.items():
        writer.close()
        os.replace(_staging_name(path), path)
    return list(writers)


def _staging_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.parts")


def read_truth(directory: str | os.PathLike, format: str | None = None) -> dict[str, pd.DataFrame]:
    """The ground truth written by `write_tables` (`{"hazard": ..., "accounts": ...}`).

    `format` None: whichever of Parquet or CSV is there. Raises ConfigError when there is none.
    """
    folder = Path(directory) / "truth"
    out = {}
    for name, dates in TRUTH_DATES.items():
        options = [format] if format else list(FORMATS[::-1])
        path = next((folder / f"{name}.{f}" for f in options if (folder / f"{name}.{f}").is_file()), None)
        if path is None:
            raise ConfigError(
                f"no synthetic ground truth {name!r} in {folder}: it exists only for data generated by "
                "`churnml generate`"
            )
        frame = read_frame(path, dates)
        for column in dates:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        frame["account_id"] = frame["account_id"].astype("str")
        out[name] = frame
    return out


# --------------------------------------------------------------------------- folders, all or nothing


def swap_folder(target: str | os.PathLike, fill: Callable[[Path], None]) -> Path:
    """Make folder `target` hold exactly what `fill(staging)` writes into an empty staging
    folder beside it, all or nothing.

    After `fill`, the staging folder is synced, the old folder renamed away, the staging folder
    renamed into place, and the old one deleted. A failure while filling leaves `target`
    untouched; a crash between the two renames leaves the old folder under a hidden name, which
    `recover_folder` (called here first) puts back. Returns `target`."""
    import shutil

    target = Path(target)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    recover_folder(target)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging = parent / f".{target.name}.new-{tag}"
    retired = parent / f".{target.name}.old-{tag}"
    staging.mkdir()
    try:
        fill(staging)
        _sync_dir(staging)
        if target.exists():
            os.rename(target, retired)
        os.rename(staging, target)
        _sync_dir(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if retired.exists() and not target.exists():
            os.rename(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    return target


def replace_folder(target: str | os.PathLike, files: Mapping[str, bytes]) -> dict[str, Path]:
    """Make folder `target` hold exactly `files` (name -> content), all or nothing
    (`swap_folder`; each file is synced). Returns name -> path of every file written."""
    for name in files:
        if Path(name).name != name:
            raise ValueError(f"replace_folder: file names must not contain folders; got {name!r}")

    def write(staging: Path) -> None:
        for name, data in files.items():
            _write_synced(staging / name, data)

    swap_folder(target, write)
    return {name: Path(target) / name for name in files}


def recover_folder(target: str | os.PathLike) -> None:
    """Tidy up after a `replace_folder` that was killed: put a retired folder back when `target`
    is missing, and delete staging or retired folders whose process is gone."""
    import shutil

    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return
    retired = sorted(parent.glob(f".{target.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not target.exists() and retired:
        os.rename(retired.pop(), target)
    for leftover in [*retired, *parent.glob(f".{target.name}.new-*")]:
        if not _owner_alive(leftover.name):
            shutil.rmtree(leftover, ignore_errors=True)


def _owner_alive(name: str) -> bool:
    """Whether the process that made a `.x.new-<pid>-<tag>` folder is still running."""
    try:
        pid = int(name.rsplit("-", 2)[-2])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _sync_dir(path: Path) -> None:
    # A folder's entries are durable only once the folder itself is synced (POSIX).
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
