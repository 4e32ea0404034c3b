"""Writers: atomic files, frames as CSV/Parquet, the world written and read back by the real loader."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from churnml.config import SyntheticDataConfig
from churnml.data.load import load_tables
from churnml.data.synthetic import generate_world
from churnml.io import atomic_path, read_frame, read_truth, write_frame, write_tables, write_text
from conftest import SMALL_WORLD_TODAY


@pytest.fixture(scope="module")
def tiny_world():
    """Small enough that a CSV round trip through the loader stays well under a second."""
    return generate_world(80, 12, "2023-01", seed=5, today=SMALL_WORLD_TODAY)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*tmp-*"))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_world_written_and_loaded_back_is_the_same(tiny_world, tmp_path: Path, fmt: str):
    small_world = tiny_world
    paths = write_tables(small_world.tables, tmp_path, fmt, truth=small_world.truth)
    assert {p.name for p in paths} == {f"{t}.{fmt}" for t in (*small_world.tables, *small_world.truth)}
    assert (tmp_path / "truth" / f"hazard.{fmt}").is_file()
    loaded = load_tables(SyntheticDataConfig(dir=str(tmp_path), format=fmt), today=date.fromisoformat(SMALL_WORLD_TODAY))
    assert set(loaded) == set(small_world.tables)
    for name, frame in small_world.tables.items():
        pdt.assert_frame_equal(loaded[name].reset_index(drop=True), frame, obj=name)
    truth = read_truth(tmp_path, fmt)
    for name, frame in small_world.truth.items():
        pdt.assert_frame_equal(truth[name], frame, check_dtype=False, obj=f"truth {name}")
    assert leftovers(tmp_path) == []


def test_csv_dates_are_plain_iso_dates(tiny_world, tmp_path: Path):
    write_tables(tiny_world.tables, tmp_path, "csv", truth=tiny_world.truth)
    header, first = (tmp_path / "orders.csv").read_text().splitlines()[:2]
    row = dict(zip(header.replace('"', "").split(","), first.replace('"', "").split(",")))
    assert row["order_date"] == tiny_world.tables["orders"]["order_date"].iloc[0].strftime("%Y-%m-%d")
    assert row["custom"] in ("true", "false")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_frames_written_in_chunks_read_back_equal(tmp_path: Path, suffix: str):
    rng = np.random.default_rng(0)
    n = 23
    frame = pd.DataFrame(
        {
            "id": pd.Series([f"x{i:03d}" for i in range(n)], dtype="str"),
            "when": pd.Series(pd.date_range("2024-01-01", periods=n, freq="D")).where(rng.random(n) > 0.2),
            "value": rng.normal(size=n),
            "flag": pd.array(rng.random(n) > 0.5, dtype="boolean"),
            "count": pd.array(rng.integers(0, 9, n), dtype="Int64"),
        },
        index=pd.RangeIndex(100, 100 + n),
    )
    frame.loc[101, "flag"] = pd.NA
    frame.loc[102, "count"] = pd.NA
    path = write_frame(frame, tmp_path / f"t{suffix}", chunk_rows=5)
    back = read_frame(path, dates=["when"])
    expected = frame.reset_index(drop=True)
    if suffix == ".csv":  # CSV carries no dtypes: compare values
        back = back.astype({"id": "str", "flag": "boolean", "count": "Int64"})
        back["when"] = back["when"].astype("datetime64[ns]")
        expected["when"] = expected["when"].astype("datetime64[ns]")
    pdt.assert_frame_equal(back, expected, check_exact=False)


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path: Path):
    path = tmp_path / "frame.parquet"
    good = pd.DataFrame({"a": [1.0, 2.0]})
    write_frame(good, path)
    bad = pd.DataFrame({"a": [1.0, object()]})  # pyarrow cannot convert this column
    with pytest.raises(Exception):  # noqa: B017 - pyarrow raises one of several types here
        write_frame(bad, path)
    pdt.assert_frame_equal(read_frame(path), good)
    assert leftovers(tmp_path) == []


def test_atomic_path_replaces_only_on_success(tmp_path: Path):
    target = tmp_path / "sub" / "report.xlsx"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.parent == target.parent and tmp.suffix == ".xlsx" and tmp != target
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert leftovers(tmp_path) == []


def test_write_frame_refuses_an_unknown_suffix(tmp_path: Path):
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        write_frame(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")
