"""`model.sample.negative_rate`: a weighted training sample that keeps what the model is judged
on whole, stays calibrated, and is read from the features file batch by batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.catalog import FEATURES_FILE, inputs_fingerprint, load_model_inputs, read_features
from churnml.cli import compose_config, main
from churnml.errors import ConfigError
from churnml.features.dictionary import feature_columns
from churnml.io import write_frame
from churnml.models.churn import Calibrator
from churnml.models.sample import WEIGHT, keep_mask, sample_weights, whole_snapshots
from helpers.churn_frames import feature_frame
from helpers.features_tables import random_tables

TODAY = "2026-11-27"


def _frame(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame, offers, _ = feature_frame(n_accounts=400, n_snapshots=30, seed=seed)
    return frame, offers


def test_the_sample_keeps_churners_offers_and_whole_snapshots_and_draws_the_rest():
    frame, offers = _frame()
    snaps = np.sort(frame["snapshot"].unique())
    whole = [snaps[-1], snaps[-8]]
    keep = keep_mask(frame, 0.25, 7, whole, offers)
    churned = (frame["churn"] == 1).to_numpy()
    assert keep[churned].all()
    assert keep[frame["snapshot"].isin(whole).to_numpy()].all()
    offered = frame.merge(offers[["account_id", "snapshot"]], on=["account_id", "snapshot"], how="left", indicator=True)
    labelled = frame["labelled"].astype(bool).to_numpy() & frame["churn"].notna().to_numpy()
    assert keep[(offered["_merge"] == "both").to_numpy() & labelled].all()
    unlabelled = ~frame["labelled"].astype(bool).to_numpy()
    assert not keep[unlabelled & ~frame["snapshot"].isin(whole).to_numpy()].any()  # nothing learns from those
    rest = labelled & ~churned & ~frame["snapshot"].isin(whole).to_numpy() & (offered["_merge"] != "both").to_numpy()
    assert 0.22 < keep[rest].mean() < 0.28
    # the same rows every run, other rows with another seed
    assert (keep_mask(frame, 0.25, 7, whole, offers) == keep).all()
    assert (keep_mask(frame, 0.25, 8, whole, offers) != keep).any()


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(0.05, 1.0), seed=st.integers(0, 1000))
def test_weights_count_the_population_back(rate: float, seed: int):
    frame, offers = _frame(seed % 3)
    whole = [frame["snapshot"].max()]
    kept = frame[keep_mask(frame, rate, seed, whole, offers)]
    weights = sample_weights(kept, rate, whole, offers)
    assert set(np.round(np.unique(weights), 9)) <= {1.0, round(1 / rate, 9)}
    labelled = frame[frame["labelled"].astype(bool) & frame["churn"].notna()]
    # Horvitz-Thompson: the weighted labelled rows estimate the population's counts
    labelled_kept = kept["labelled"].astype(bool).to_numpy() & kept["churn"].notna().to_numpy()
    estimate = weights[labelled_kept].sum()
    assert abs(estimate - len(labelled)) < 4 * np.sqrt(len(labelled) / rate) + 1
    assert weights[labelled_kept & (kept["churn"] == 1).to_numpy()].sum() == (labelled["churn"] == 1).sum()


def test_whole_snapshots_are_the_test_the_drift_reference_and_the_newest():
    s = list(pd.date_range("2022-01-01", periods=12, freq="MS"))
    assert whole_snapshots(s, s[:8], s[5:8], 3) == [s[5], s[6], s[7], s[11]]


def test_a_weighted_calibration_of_a_sample_matches_the_full_calibration():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 1, 200_000)
    y = (rng.uniform(0, 1, len(raw)) < 0.3 * raw ** 2).astype(float)
    full = Calibrator.fit("isotonic", raw, y)
    keep = (y == 1) | (rng.uniform(0, 1, len(raw)) < 0.1)
    weights = np.where(y[keep] == 1, 1.0, 10.0)
    grid = np.linspace(0.05, 0.95, 19)
    weighted = Calibrator.fit("isotonic", raw[keep], y[keep], weights).transform(grid)
    unweighted = Calibrator.fit("isotonic", raw[keep], y[keep]).transform(grid)
    assert np.abs(weighted - full.transform(grid)).max() < 0.03
    assert np.abs(unweighted - full.transform(grid)).max() > 0.2  # what the weights correct
    platt = Calibrator.fit("platt", raw[keep], y[keep], weights).transform(grid)
    assert np.abs(platt - Calibrator.fit("platt", raw, y).transform(grid)).max() < 0.03


def test_the_rate_must_be_a_share():
    with pytest.raises(ConfigError, match=r"`model.sample.negative_rate` must be a share in \(0, 1\] or null; got 0"):
        from churnml.constraints import check

        check(compose_config(["model.sample.negative_rate=0"]).model, "model")


def _project_with_features(root: Path, seed: int, accounts: int, months: int) -> list[str]:
    """A project of random tables (Parquet) with its features file; the overrides that read it."""
    tables = random_tables(seed, n_accounts=accounts, months=months)
    (root / "data" / "raw").mkdir(parents=True)
    for name, frame in tables.items():
        write_frame(frame, root / "data" / "raw" / f"{name}.parquet")
    base = [f"paths.root={root}", "data=files", "data.format=parquet", f"today={TODAY}"]
    assert main(["features", *base]) == 0
    return base


def test_train_reads_the_sample_from_the_features_file(tmp_path: Path):
    base = _project_with_features(tmp_path, seed=5, accounts=60, months=40)
    config = compose_config([*base, "model.sample.negative_rate=0.2"])
    full = read_features(config, inputs_fingerprint(config))
    inputs = load_model_inputs(config, sample=True)
    sample = inputs.frame
    assert WEIGHT in sample and WEIGHT not in inputs.features and feature_columns(sample) == inputs.features
    assert 0 < len(sample) < len(full)
    key = ["account_id", "snapshot"]
    merged = sample.merge(full, on=key, suffixes=("", "_full"))
    assert len(merged) == len(sample)  # rows of the file, not rebuilt ones
    for column in inputs.features[:10]:
        pd.testing.assert_series_equal(merged[column], merged[f"{column}_full"], check_names=False)
    assert (full["churn"] == 1).sum() == (sample["churn"] == 1).sum()
    newest = full["snapshot"].max()
    assert (sample["snapshot"] == newest).sum() == (full["snapshot"] == newest).sum()
    # evaluate and tune read every row
    assert len(load_model_inputs(config).frame) == len(full)
    assert (Path(config.paths.features) / FEATURES_FILE).is_file()


def test_with_a_matching_features_file_the_orders_are_never_read(tmp_path: Path, caplog):
    import logging

    base = _project_with_features(tmp_path, seed=6, accounts=30, months=30)
    logger = logging.getLogger("churnml.data.load")
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    try:
        inputs = load_model_inputs(compose_config(base))
    finally:
        logger.removeHandler(caplog.handler)
    read = [r.getMessage() for r in caplog.records if r.getMessage().startswith("read ")]
    assert read and all(m.startswith("read competitor_signals") for m in read), read
    assert len(inputs.offers) > 0 and len(inputs.frame) > 0
