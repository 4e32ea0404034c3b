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
    """The input tables of `config.data` (generating the synthetic world first when its folder
    is empty and the generator offers that)."""
    from churnml.data.load import load_tables, table_files
    from churnml.stages.validate import today_from_config

    data = config.data
    if data.source == "synthetic" and not table_files(data):
        try:
            from churnml.stages.generate import ensure_world
        except ImportError:
            ensure_world = None
        if ensure_world is None:
            raise ConfigError(
                f"data.dir holds no tables yet ({data.dir}): run `churnml generate` first, or point "
                "at your own with `data=files data.dir=<folder>`"
            )
        ensure_world(config)
    return load_tables(data, today=today_from_config(config))


def read_truth(raw_dir: str | Path) -> dict[str, pd.DataFrame] | None:
    """The synthetic world's truth tables (`hazard`, `accounts`) in `<raw>/truth/`, or None."""
    folder = Path(raw_dir) / "truth"
    out = {}
    for name in ("hazard", "accounts"):
        found = sorted(folder.glob(f"{name}.*"))
        if not found:
            return None
        path = found[0]
        out[name] = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    for frame in out.values():
        for column in ("month", "churn_month", "arrival_month", "break_month"):
            if column in frame.columns:
                frame[column] = pd.to_datetime(frame[column])
        frame["account_id"] = frame["account_id"].astype(str)
    return out


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


def load_model_inputs(config: Config, tables: dict[str, pd.DataFrame] | None = None) -> ModelInputs:
    """Tables -> features frame, offers, feature dictionary, and the oracle on synthetic data."""
    from churnml.features import build_features, feature_columns
    from churnml.features.dictionary import dictionary_frame
    from churnml.models.switching import offers

    tables = load_tables_for(config) if tables is None else tables
    started = time.perf_counter()
    frame = build_features(tables, config.features, config.labels)
    features = feature_columns(frame)
    log.info(
        "features: %d rows x %d features, %d snapshots (%s to %s), built in %.1fs",
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
