"""What `train`, `evaluate` and `tune` read: the features frame built from the input tables, the
competitor offers, and — on the synthetic world only — the ground truth for the oracle's figures.

The features are built from the tables with this run's config (cheap, and always consistent with
overrides such as `features=orders_only` in a multirun). The truth is read from
`${paths.raw}/truth/` and never reaches a model: it only scores the oracle and the switching
costs for comparison.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from churnml.config import Config
from churnml.errors import ConfigError
from churnml.models.training import ModelInputs

log = logging.getLogger(__name__)


def load_tables_for(config: Config) -> dict[str, pd.DataFrame]:
    """The input tables of `config.data` (the synthetic world is generated first when its folder
    holds no tables yet, so that `churnml train` works from a fresh clone)."""
    from churnml.data.load import load_tables
    from churnml.stages.generate import ensure_synthetic
    from churnml.stages.validate import today_from_config

    today = today_from_config(config)
    ensure_synthetic(config.data, today, config.labels)
    return load_tables(config.data, today=today)


def read_truth(raw_dir: str | Path) -> dict[str, pd.DataFrame] | None:
    """The synthetic world's truth tables (`hazard`, `accounts`) in `<raw>/truth/`, or None."""
    from churnml.io import read_truth as read

    try:
        return read(raw_dir)
    except ConfigError:
        return None


def oracle_from_truth(truth: dict[str, pd.DataFrame], horizon: int):
    """A function of held-out rows (`account_id, snapshot`) returning the oracle's churn score."""
    from churnml.data.synthetic import oracle_scores

    def oracle(rows: pd.DataFrame) -> np.ndarray:
        scores = oracle_scores(truth, rows["snapshot"].unique(), horizon)
        keys = rows[["account_id", "snapshot"]].astype({"account_id": str})
        merged = keys.merge(scores, on=["account_id", "snapshot"], how="left")
        missing = int(merged["oracle"].isna().sum())
        if missing:
            log.warning("oracle: %d held-out rows have no true hazard; scored 0", missing)
        return merged["oracle"].fillna(0.0).to_numpy()

    return oracle


def load_model_inputs(
    config: Config, tables: dict[str, pd.DataFrame] | None = None, frame: pd.DataFrame | None = None
) -> ModelInputs:
    """Tables -> features frame, offers, feature dictionary, and the oracle on synthetic data.

    `tables` and `frame` (the features of those tables with this config) are loaded and built
    when not given; `churnml run` passes the ones it already has."""
    from churnml.features import build_features, feature_columns
    from churnml.features.dictionary import dictionary_frame
    from churnml.models.switching import offers

    tables = load_tables_for(config) if tables is None else tables
    started = time.perf_counter()
    frame = build_features(tables, config.features, config.labels) if frame is None else frame
    features = feature_columns(frame)
    log.info(
        "features: %d rows x %d features, %d snapshots (%s to %s), ready in %.1fs",
        len(frame),
        len(features),
        frame["snapshot"].nunique(),
        frame["snapshot"].min().strftime("%Y-%m"),
        frame["snapshot"].max().strftime("%Y-%m"),
        time.perf_counter() - started,
    )
    signals = tables.get("competitor_signals")
    if signals is not None:
        # Trial orders and lost tenders are evidence of a switch (the label), not offers.
        signals = signals[~signals["kind"].isin(config.labels.switch_signal_kinds)]
    horizon = config.labels.horizon_months
    oracle, true_cost = None, None
    if config.data.source == "synthetic":
        truth = read_truth(config.paths.raw)
        if truth is None:
            log.info("no truth in %s/truth: no oracle figures", config.paths.raw)
        else:
            oracle = oracle_from_truth(truth, horizon)
            true_cost = truth["accounts"].set_index("account_id")["switching_cost"]
    return ModelInputs(
        frame=frame,
        features=features,
        offers=offers(signals),
        horizon=horizon,
        dictionary=dictionary_frame(features),
        oracle=oracle,
        true_switching_cost=true_cost,
    )
