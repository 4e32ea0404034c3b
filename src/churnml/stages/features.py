"""`churnml features`: build point-in-time features and labels at every monthly snapshot.

Reads the input tables (contract-checked by the loader), builds one row per account and
snapshot (`churnml.features.build_features`) and writes, atomically:
- `${paths.features}/features.parquet`: keys, flags, revenue, labels and feature columns, with
  the fingerprint of its inputs (`catalog.inputs_fingerprint`): `train`, `evaluate`, `tune` and
  `score` read it instead of building the features again while it matches;
- `${paths.features}/feature_dictionary.csv`: name, family, description, unit, reason of each
  feature column.
Logs the frame's shape, the label rates per snapshot and the time taken.
"""

from __future__ import annotations

import logging
import time

import pandas as pd

from churnml.catalog import load_fingerprinted, require_tables, write_features, write_features_on_spark
from churnml.months import parse_today
from churnml.stages import RunContext

log = logging.getLogger(__name__)


def run_stage(ctx: RunContext) -> None:
    from churnml.data.load import load_tables

    config = ctx.config
    require_tables(config.data)
    if config.engine.name == "spark":
        write_features_on_spark(config)
        return
    started = time.perf_counter()
    tables, fingerprint = load_fingerprinted(config, lambda: load_tables(config.data, today=parse_today(config.today)))
    log.info("loaded the tables in %.1f s", time.perf_counter() - started)
    make_features(config, tables, fingerprint)


def make_features(config, tables: dict[str, pd.DataFrame], fingerprint: dict[str, str]) -> pd.DataFrame:
    """Build the features of `tables`, log their shape and label rates, write them and the
    dictionary to `paths.features` with the `fingerprint` of their inputs
    (`catalog.load_fingerprinted`); returns the frame."""
    from churnml.features import build_features, feature_columns
    from churnml.features.dictionary import FAMILIES, FEATURES, dictionary_frame
    from churnml.features.labels import label_rates

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

    written, dictionary = write_features(config.paths.features, frame, dictionary_frame(features), fingerprint)
    log.info(
        "wrote %s and %s (build %.1f s, write %.1f s)",
        written,
        dictionary.name,
        built - loaded,
        time.perf_counter() - built,
    )
    return frame
