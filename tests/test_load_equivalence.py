"""The loader gives the same typed tables as the loader before it was made fast, and the build
the same features as the build before it: the default world, read from Parquet and from CSV,
against the hashes stored in `fixtures/default_world_loaded.json` (made with the earlier,
pandas-only loader) and `fixtures/default_world_features.json` (the earlier float64 build)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from churnml.config import SyntheticDataConfig
from churnml.data.load import load_tables
from churnml.data.synthetic import generate_world
from churnml.io import write_tables
from helpers.table_hashes import table_hashes

STORED = Path(__file__).parent / "fixtures" / "default_world_loaded.json"
TODAY = "2026-11-27"


@pytest.mark.slow
def test_the_default_world_loads_as_before(tmp_path: Path):
    world = generate_world(2000, 48, "2021-01", seed=42, today=TODAY)
    write_tables(world.tables, tmp_path / "parquet", "parquet")
    write_tables(world.tables, tmp_path / "csv", "csv")
    stored = json.loads(STORED.read_text())
    for fmt in ("parquet", "csv"):
        tables = load_tables(SyntheticDataConfig(dir=str(tmp_path / fmt), format=fmt), today=pd.Timestamp(TODAY).date())
        assert table_hashes(tables) == stored[fmt], fmt


FEATURES_STORED = Path(__file__).parent / "fixtures" / "default_world_features.json"


@pytest.mark.slow
def test_the_default_worlds_features_are_those_of_the_float64_build():
    """The stored hashes were made with the earlier build (pandas text columns, float64
    features), each feature rounded to the dtype it has now (float32): the same values. Made
    again when "already gone" and the churn label came to follow each account's rhythm (a
    handful of the 54,000 in-scope rows moved, and the columns that depend on scope and labels:
    BG/NBD, peer rates). The BG/NBD columns come out of a numerical optimiser whose last digits
    differ from one CPU to another: they are held to their stored distribution (missing count,
    mean, quantiles) within 1e-4 instead of a hash."""
    import numpy as np

    from churnml.config import FeaturesConfig, LabelsConfig
    from churnml.features import build_features

    world = generate_world(2000, 48, "2021-01", seed=42, today=TODAY)
    frame = build_features(world.tables, FeaturesConfig(), LabelsConfig())
    stored = json.loads(FEATURES_STORED.read_text())
    fitted = stored["fitted"]
    exact = frame[[c for c in frame.columns if c not in fitted]]
    assert table_hashes({"features": exact}) == {"features": stored["features"]}
    assert sorted(c for c in frame.columns if c.startswith("bgnbd_")) == sorted(fitted)
    for column, summary in fitted.items():
        values = frame[column].astype("float64")
        assert str(frame[column].dtype) == summary["dtype"] and int(values.isna().sum()) == summary["missing"]
        np.testing.assert_allclose(values.mean(), summary["mean"], rtol=1e-4)
        np.testing.assert_allclose(np.nanquantile(values, [0.1, 0.25, 0.5, 0.75, 0.9]), summary["quantiles"],
                                   rtol=1e-4, atol=1e-9)
