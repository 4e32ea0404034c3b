"""features.parquet as the hand-off: read while the fingerprint of its inputs matches, rebuilt
(with one log line saying why) when it does not."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from churnml.catalog import FEATURES_FILE, inputs_fingerprint, load_model_inputs, read_features
from churnml.cli import compose_config, main
from churnml.data.load import load_tables
from churnml.features import build_features
from churnml.io import write_frame
from helpers.features_tables import random_tables

TODAY = "2026-11-27"


def _project(root: Path, seed: int = 3) -> dict[str, pd.DataFrame]:
    tables = random_tables(seed, n_accounts=8)
    (root / "data" / "raw").mkdir(parents=True)
    for name, frame in tables.items():
        write_frame(frame, root / "data" / "raw" / f"{name}.parquet")
    return tables


def _config(root: Path, *overrides: str):
    return compose_config([f"paths.root={root}", "data=files", "data.format=parquet", f"today={TODAY}", *overrides])


def _features(root: Path, *overrides: str) -> int:
    return main(["features", f"paths.root={root}", "data=files", "data.format=parquet", f"today={TODAY}", *overrides])


@contextmanager
def _catalog_log(caplog):
    """The catalog's log lines in `caplog`, also after a command's logging set-up stopped them
    from reaching the root logger."""
    logger = logging.getLogger("churnml.catalog")
    logger.addHandler(caplog.handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)


def _tables(config):
    return load_tables(config.data, today=pd.Timestamp(TODAY).date())


def test_a_matching_features_file_is_read_not_built(tmp_path: Path, caplog):
    _project(tmp_path)
    assert _features(tmp_path) == 0
    config = _config(tmp_path)
    tables = _tables(config)
    with _catalog_log(caplog):
        frame = read_features(config, inputs_fingerprint(config))
    assert frame is not None
    assert "its inputs match" in caplog.text
    # What the file holds is what building gives, dtypes included.
    pd.testing.assert_frame_equal(frame, build_features(tables, config.features, config.labels))


def test_the_model_stages_read_the_file(tmp_path: Path, caplog, monkeypatch):
    _project(tmp_path)
    assert _features(tmp_path) == 0
    config = _config(tmp_path)

    def no_build(*args, **kwargs):
        raise AssertionError("features were built although the file matches")

    monkeypatch.setattr("churnml.features.build_features", no_build)
    with _catalog_log(caplog):
        inputs = load_model_inputs(config)
    assert len(inputs.frame) > 0 and "its inputs match" in caplog.text


def test_only_the_snapshots_asked_for_are_read(tmp_path: Path):
    _project(tmp_path)
    assert _features(tmp_path) == 0
    config = _config(tmp_path)
    tables = _tables(config)
    last = build_features(tables, config.features, config.labels)["snapshot"].max()
    frame = read_features(config, inputs_fingerprint(config), snapshots=[last])
    assert frame is not None and set(frame["snapshot"]) == {last}
    assert read_features(config, inputs_fingerprint(config), snapshots=[last + pd.DateOffset(years=5)]) is None


@pytest.mark.parametrize(
    "change, why",
    [
        ("table", "tables changed"),
        ("features", "feature config changed"),
        ("labels", "label config changed"),
    ],
)
def test_a_stale_features_file_is_rebuilt_saying_why(tmp_path: Path, caplog, change, why):
    tables = _project(tmp_path)
    assert _features(tmp_path) == 0
    overrides: list[str] = []
    if change == "table":
        write_frame(tables["orders"].iloc[:-1], tmp_path / "data" / "raw" / "orders.parquet")
    elif change == "features":
        overrides = ["features.exclude=[revenue_12m_log]"]
    else:
        overrides = ["labels.horizon_months=9"]
    config = _config(tmp_path, *overrides)
    with _catalog_log(caplog):
        assert read_features(config, inputs_fingerprint(config)) is None
    assert f"building the features: {tmp_path}" in caplog.text and why in caplog.text


def test_no_file_or_an_old_file_without_a_fingerprint_is_rebuilt(tmp_path: Path, caplog):
    _project(tmp_path)
    config = _config(tmp_path)
    tables = _tables(config)
    with _catalog_log(caplog):
        assert read_features(config, inputs_fingerprint(config)) is None
    assert "there is none yet" in caplog.text
    folder = Path(config.paths.features)
    folder.mkdir(parents=True)
    write_frame(build_features(tables, config.features, config.labels), folder / FEATURES_FILE)
    with _catalog_log(caplog):
        assert read_features(config, inputs_fingerprint(config)) is None
    assert "records no fingerprint" in caplog.text


def test_the_fingerprint_is_stable_and_sees_the_content(tmp_path: Path):
    tables = _project(tmp_path)
    config = _config(tmp_path)
    first = inputs_fingerprint(config)
    assert first == inputs_fingerprint(config)
    # Same size, one value changed: the content, not the file's size or date, is what counts.
    orders = tables["orders"].copy()
    orders.loc[0, "quantity"] = orders.loc[0, "quantity"] + 1
    write_frame(orders, tmp_path / "data" / "raw" / "orders.parquet")
    second = inputs_fingerprint(config)
    assert second["tables"] != first["tables"]
    assert {k for k in first if first[k] != second[k]} == {"tables"}


@pytest.mark.parametrize("months_back", [0, 7])
def test_the_files_row_at_a_month_is_what_scoring_would_build(tmp_path: Path, small_world, months_back):
    """`score` reads the as-of snapshot from the file built on every row; point-in-time features
    make it the row built from the tables cut at that month (labels aside: they look ahead)."""
    from churnml.data.contract import as_seen_at
    from churnml.features import data_end, feature_columns

    tables = small_world.tables
    config = _config(tmp_path)
    as_of = pd.Timestamp(data_end(tables)) - pd.DateOffset(months=months_back)
    every = build_features(tables, config.features, config.labels)
    at = every[every["snapshot"] == as_of].reset_index(drop=True)
    cut = build_features(as_seen_at(tables, as_of), config.features, config.labels, snapshots=[as_of])
    cut = cut[cut["snapshot"] == as_of].reset_index(drop=True)
    columns = ["account_id", "snapshot", "in_scope", "recently_lost", *feature_columns(every)]
    assert len(at) > 100
    pd.testing.assert_frame_equal(at[columns], cut[columns])


def test_a_file_replaced_while_the_features_are_built_is_not_credited_to_them(tmp_path: Path, monkeypatch):
    """The fingerprint is of the files as they were read: an export that lands during the build
    makes the next command rebuild, not reuse features of the old export."""
    import churnml.data.load as load

    tables = _project(tmp_path)
    real = load.load_tables

    def load_then_replace(*args, **kwargs):
        out = real(*args, **kwargs)
        write_frame(tables["orders"].iloc[:-3], tmp_path / "data" / "raw" / "orders.parquet")  # a new export
        return out

    monkeypatch.setattr(load, "load_tables", load_then_replace)
    assert _features(tmp_path) == 0
    config = _config(tmp_path)
    assert read_features(config, inputs_fingerprint(config)) is None


def test_a_databases_fingerprint_sees_the_order_of_its_rows(tmp_path: Path):
    tables = random_tables(4, n_accounts=8)
    config = _config(tmp_path, "data=sql", f"data.url=sqlite:///{tmp_path}/crm.db")
    assert inputs_fingerprint(config) is None  # a database's rows are known once loaded
    first = inputs_fingerprint(config, tables)
    reversed_accounts = {**tables, "accounts": tables["accounts"].iloc[::-1].reset_index(drop=True)}
    assert inputs_fingerprint(config, reversed_accounts)["tables"] != first["tables"]
    assert inputs_fingerprint(config, {k: v.copy() for k, v in tables.items()}) == first
