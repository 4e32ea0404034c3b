"""`churnml features`: build point-in-time features and labels at every monthly snapshot.

Reads the input tables (contract-checked by the loader), builds one row per account and
snapshot (`churnml.features.build_features`) and writes, atomically:
- `${paths.features}/features.parquet`: keys, flags, revenue, labels and feature columns;
- `${paths.features}/feature_dictionary.csv`: name, family, description, unit, reason of each
  feature column.
Logs the frame's shape, the label rates per snapshot and the time taken.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from churnml.stages import RunContext

log = logging.getLogger(__name__)

FEATURES_FILE = "features.parquet"
DICTIONARY_FILE = "feature_dictionary.csv"


def label_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Per snapshot: rows, rows in scope, whether its label window is inside the data, and the
    churn and switch rates among its labelled rows."""
    return frame.groupby("snapshot", sort=True).agg(
        rows=("account_id", "size"),
        in_scope=("in_scope", "sum"),
        labelled=("labelled", "any"),
        churn=("churn", "mean"),
        switch=("switch", "mean"),
    )


def run_stage(ctx: RunContext) -> None:
    from churnml.data.load import load_tables
    from churnml.stages.validate import require_tables, today_from_config

    config = ctx.config
    require_tables(config.data)
    started = time.perf_counter()
    tables = load_tables(config.data, today=today_from_config(config))
    log.info("loaded the tables in %.1f s", time.perf_counter() - started)
    write_features(config, tables)


def write_features(config, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Build the features of `tables`, log their shape and label rates, write them and the
    dictionary to `paths.features`; returns the frame."""
    from churnml.features import build_features, feature_columns
    from churnml.features.dictionary import FAMILIES, FEATURES, dictionary_frame
    from churnml.io import write_frame

    loaded = time.perf_counter()
    frame = build_features(tables, config.features, config.labels)
    built = time.perf_counter()
    features = feature_columns(frame)
    log.info(
        "features: %d rows x %d columns (%d features; families %s), %d snapshots %s to %s, "
        "built in %.1f s",
        len(frame),
        frame.shape[1],
        len(features),
        ", ".join(f for f in FAMILIES if f in {FEATURES[name].family for name in features}),
        frame["snapshot"].nunique(),
        frame["snapshot"].min().strftime("%Y-%m"),
        frame["snapshot"].max().strftime("%Y-%m"),
        built - loaded,
    )
    for snapshot, r in label_rates(frame).iterrows():
        if r["labelled"]:
            log.info(
                "  %s: %d accounts, %d in scope, churn %.1f %%, switch %.1f %%",
                snapshot.strftime("%Y-%m"), r["rows"], r["in_scope"], 100 * r["churn"],
                100 * r["switch"],
            )
        else:
            log.info(
                "  %s: %d accounts, %d in scope, unlabelled (window not inside the data)",
                snapshot.strftime("%Y-%m"), r["rows"], r["in_scope"],
            )

    folder = Path(config.paths.features)
    folder.mkdir(parents=True, exist_ok=True)
    write_frame(frame, folder / FEATURES_FILE)
    write_frame(dictionary_frame(features), folder / DICTIONARY_FILE)
    log.info(
        "wrote %s and %s (build %.1f s, write %.1f s)",
        folder / FEATURES_FILE,
        DICTIONARY_FILE,
        built - loaded,
        time.perf_counter() - built,
    )
    return frame
