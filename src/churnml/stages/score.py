"""`churnml score`: the monthly retention-priority list.

1. load the churn model (exit 3 when there is none) and, if any, the switching-cost model
   (`churnml.tracking.champion`);
2. load the tables as they were before the as-of month (default: the month after the latest
   data) and read the features at that snapshot from the features file (built when the file's
   inputs differ);
3. score every account in scope, compare with the latest earlier list in `paths.scores`, list
   the recently lost for win-back, measure drift (`churnml.scoring.month.score_frames`);
4. write `risk_list.parquet`, `risk_list.csv`, `risk_list.xlsx` and `report.html` to
   `paths.scores/<YYYY-MM>/`, all or nothing (`churnml.catalog.write_month`);
5. track the run in MLflow: model version, score distribution, PSI per feature.

`score_month` does it all and returns a `ScoreResult`; `churnml run` calls it too.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from churnml import tracking
from churnml.catalog import (
    inputs_fingerprint,
    list_history,
    load_fingerprinted,
    load_tables_as_of,
    load_tables_for,
    previous_list,
    read_features,
    write_month,
)
from churnml.config import Config
from churnml.data.load import check_folder
from churnml.data.source import check_same_accounts, data_source, run_name
from churnml.errors import ConfigError, ServiceUnavailable
from churnml.features import build_features
from churnml.months import month_label
from churnml.scoring.month import score_frames
from churnml.scoring.risk_list import check_model_features
from churnml.stages import RunContext
from churnml.tracking.champion import load_scoring_models

log = logging.getLogger(__name__)


@dataclass
class ScoreResult:
    """What one scoring run produced: the ranked list (`risk_list`, rank 1 first), the accounts
    that left it, the win-back list, where the four files are, and what was scored with."""

    as_of: str
    risk_list: pd.DataFrame
    left: pd.DataFrame
    win_back: pd.DataFrame
    folder: Path
    paths: dict[str, Path]
    model_uri: str
    model_version: str | None
    previous_as_of: str | None
    drifted: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    run_id: str | None = None
    months_since_fitted: int | None = None  # from the newest snapshot the model was fitted on to as_of


def model_freshness(fitted_to: str | None, as_of: pd.Timestamp) -> int | None:
    """Months from the newest snapshot the model was fitted on (`YYYY-MM`) to `as_of`; None when
    the model does not record it."""
    if not fitted_to:
        return None
    newest = pd.Timestamp(f"{fitted_to}-01")
    return (as_of.year - newest.year) * 12 + (as_of.month - newest.month)


def drift_warning(drifted: list[tuple[str, float]], threshold: float, shown: int = 5) -> str:
    """The drift of a scored month in one line for an operator: how many features moved beyond
    the threshold, the largest first, and what it means."""
    named = ", ".join(f"{f} (PSI {v:.2f})" for f, v in drifted[:shown])
    more = f" and {len(drifted) - shown} more" if len(drifted) > shown else ""
    return (f"drift: {len(drifted)} feature{'s' if len(drifted) != 1 else ''} of this month differ from what the "
            f"model was trained on beyond PSI {threshold:g}: {named}{more}; its ranking may be less reliable "
            "(report.html lists them all)")


def run_stage(ctx: RunContext) -> None:
    result = score_month(ctx.config, params=ctx.params, output_dir=ctx.output_dir, overrides=ctx.overrides)
    log.info(
        "scored %d accounts as of %s with %s%s; outputs in %s",
        len(result.risk_list),
        result.as_of,
        result.model_uri,
        f" (version {result.model_version})" if result.model_version else "",
        result.folder,
    )


# --------------------------------------------------------------------------- the whole month


def score_month(
    config: Config,
    params: Mapping[str, Any] | None = None,
    output_dir: Path | None = None,
    *,
    track: bool = True,
    tables: dict[str, pd.DataFrame] | None = None,
    fingerprint: dict[str, str] | None = None,
    overrides: tuple[str, ...] = (),
) -> ScoreResult:
    """Score one month end to end (see the module docstring) and return what was produced.
    `tables` (all rows; the as-of cut is made here) and the `fingerprint` of their inputs are
    loaded and taken when not given; `overrides` name the tracked run."""
    started = time.perf_counter()
    cfg = config.score
    check_folder(config.data)  # a wrong folder is a data setting to fix, not a missing model
    churn_model, switching_model, model_info = load_scoring_models(config)

    on_spark = config.engine.name == "spark"
    summarised = tables is None and on_spark  # the orders are monthly totals, not lines
    if summarised:
        every, fingerprint = spark_tables(config)
    elif tables is None:
        every, fingerprint = load_fingerprinted(config, lambda: load_tables_for(config))
    else:
        every, fingerprint = tables, fingerprint or inputs_fingerprint(config, tables)
    tables, as_of = load_tables_as_of(config, every)
    label = month_label(as_of)
    recorded = (getattr(churn_model, "info", {}) or {}).get("source")
    check_same_accounts(recorded, tables["accounts"]["account_id"], f"the churn model {model_info['uri']}")

    tick = time.perf_counter()
    # Features are point in time: the file's row at the as-of month is the one built from the cut tables.
    features = read_features(config, fingerprint, snapshots=[as_of])
    if features is None and summarised:
        raise ConfigError(f"score.as_of={label} must be a month of the features on Spark in {config.paths.features}; "
                          "it is not (pick a month inside the data)")
    if features is None:
        features = build_features(tables, config.features, config.labels, snapshots=[as_of])
        log.info("built %d feature rows at %s in %.2f s", (features["snapshot"] == as_of).sum(), label,
                 time.perf_counter() - tick)
    features = features[features["snapshot"] == as_of].reset_index(drop=True)
    check_model_features(churn_model, features)
    if not features["in_scope"].astype(bool).any():
        raise ConfigError(
            f"no account is in scope at score.as_of={label} (none bought anything in the 12 months "
            "before it); pick a month inside the data"
        )

    notes: list[str] = []
    fresh = model_freshness(model_info.get("fitted_to"), as_of)
    if fresh is not None:
        model_info["months_since_fitted"] = fresh
        horizon = config.labels.horizon_months
        newest = f"the newest whose {horizon}-month outcome is known"
        if fresh <= horizon:
            log.info("the model that scores was fitted on snapshots up to %s, %d months before %s: %s",
                     model_info["fitted_to"], fresh, label, newest)
        else:
            log.warning("the model that scores was fitted on snapshots up to %s, %d months before %s: %d months "
                        "older than %s; retrain it with `churnml train`", model_info["fitted_to"], fresh, label,
                        fresh - horizon, newest)
        notes.append(f"The model that scores has seen the snapshots up to {model_info['fitted_to']}, {fresh} "
                     f"months before this list" + (f" ({newest})." if fresh <= horizon else
                                                  f": {fresh - horizon} months older than {newest}."))
    for warning in model_info.get("warnings", []):  # a forced model, a baseline that ranks: one line each
        log.warning("%s", warning)
    if switching_model is None:
        notes.append(
            "No switching-cost model is available (it needs competitor offers with a price gap in "
            "the data): switch probability and switching cost are empty, and the priority has no "
            "low-switching-cost uplift."
        )
    folder_root = Path(config.paths.scores)
    previous = previous_list(folder_root, label)
    outputs = None
    if on_spark:
        tick = time.perf_counter()
        outputs = spark_outputs(config, features, tables, as_of, churn_model, switching_model, model_info)
        log.info("scored %d accounts on Spark (mlflow.pyfunc.spark_udf) in %.2f s", len(outputs),
                 time.perf_counter() - tick)
    tick = time.perf_counter()
    month = score_frames(
        features,
        tables,
        churn_model,
        switching_model,
        cfg,
        as_of,
        previous=previous[1] if previous else None,
        model_info=model_info,
        notes=notes,
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        retained_share=config.labels.retained_share,
        history=list_history(folder_root, label),
        outputs=outputs,
    )
    log.info("scored %d accounts in scope in %.2f s", len(month.risk_list), time.perf_counter() - tick)
    report = month.report
    if report.drifted:
        log.warning("%s", drift_warning(report.drifted, cfg.psi_threshold))

    tick = time.perf_counter()
    paths = write_month(folder_root / label, month.risk_list, report)
    log.info("wrote %s in %.2f s", ", ".join(p.name for p in paths.values()), time.perf_counter() - tick)

    result = ScoreResult(
        as_of=label,
        risk_list=month.risk_list,
        left=month.changes.left,
        win_back=month.win_back,
        folder=folder_root / label,
        paths=paths,
        model_uri=model_info.get("uri", cfg.model_uri),
        model_version=model_info.get("version"),
        previous_as_of=month.changes.previous_as_of,
        drifted=report.drifted,
        notes=notes,
        months_since_fitted=fresh,
    )
    if track:
        try:
            result.run_id = track_scoring(config, params or {}, output_dir, result, report, month.psi, overrides)
        except ServiceUnavailable as err:
            # The list is out (jobs without a tracking server score from the export); say what is missing.
            log.warning("the scoring run is not tracked: %s", err)
    log.info("score %s done in %.1f s", label, time.perf_counter() - started)
    return result


# --------------------------------------------------------------------------- on Spark

SCORE_TABLES = ("accounts", "competitor_signals", "outcomes")


def spark_tables(config: Config) -> tuple[dict[str, pd.DataFrame], dict[str, str] | None]:
    """(the tables scoring needs, the fingerprint of the inputs) for `engine=spark`: the
    features on Spark first when the features file was not built from these inputs; the
    accounts, competitor signals and outcomes on the driver; the orders as monthly totals per
    account summed by Spark (the order lines never reach the driver)."""
    from churnml import spark_engine
    from churnml.catalog import ensure_synthetic, features_match, write_features_on_spark
    from churnml.months import parse_today

    ensure_synthetic(config.data, parse_today(config.today), config.labels)
    fingerprint = inputs_fingerprint(config)
    if not features_match(config, fingerprint):
        log.info("the features file was not built from these inputs: building it on Spark first")
        write_features_on_spark(config, fingerprint)
    tables = load_tables_for(config, only=SCORE_TABLES)
    tables["orders"] = spark_engine.order_months(config)
    return tables, fingerprint


def spark_outputs(config: Config, features: pd.DataFrame, tables: dict[str, pd.DataFrame], as_of: pd.Timestamp,
                  churn_model, switching_model, model_info: Mapping[str, Any]) -> pd.DataFrame:
    """The models' outputs for the accounts in scope, computed on Spark by the models as loaded
    (`churnml.spark_engine.model_outputs`)."""
    from churnml import spark_engine
    from churnml.features.competitor import deepest_discount

    scope = features[features["in_scope"].astype(bool)]
    offered = deepest_discount(tables.get("competitor_signals"), as_of)
    return spark_engine.model_outputs(scope, churn_model, model_info["uri"], switching_model,
                                      getattr(switching_model, "uri", None), offered, engine_cfg=config.engine)


# --------------------------------------------------------------------------- tracking


def track_scoring(
    config: Config,
    params: Mapping[str, Any],
    output_dir: Path | None,
    result: ScoreResult,
    report: Any,
    psi: Mapping[str, float],
    overrides: tuple[str, ...] = (),
) -> str:
    """One MLflow run (named by the month and `overrides`): the model version, the score
    distribution, PSI per feature, the outputs."""
    metrics = {f"score/{k}": v for k, v in report.distribution.items()}
    metrics.update({f"psi/{k}": v for k, v in psi.items()})
    metrics["drift/features_over_threshold"] = float(len(result.drifted))
    metrics["changes/new"] = float(report.change_counts["new"])
    metrics["changes/left"] = float(len(result.left))
    metrics["win_back/accounts"] = float(len(result.win_back))
    if result.months_since_fitted is not None:
        metrics["model/months_since_fitted"] = float(result.months_since_fitted)
    hist, edges = np.histogram(result.risk_list["churn_probability"], bins=20, range=(0, 1))
    tables = {
        "score_histogram": pd.DataFrame({"from": edges[:-1], "to": edges[1:], "accounts": hist}),
        "psi": pd.DataFrame({"feature": list(psi), "psi": list(psi.values())}).sort_values("psi", ascending=False),
    }
    source = data_source(config.data)
    tags = {
        **source.as_tags(),
        "churnml.as_of": result.as_of,
        "churnml.model_uri": result.model_uri,
        "churnml.model_version": result.model_version or "",
        "churnml.previous_list": result.previous_as_of or "",
        "churnml.drift_warning": ", ".join(f for f, _ in result.drifted) or "none",
        "churnml.ranked_by": str(getattr(report, "model", {}).get("ranked_by", "model")),
    }
    run_id = tracking.log_scoring_run(
        config.mlflow,
        params,
        output_dir,
        metrics,
        artifacts=[result.paths[k] for k in ("csv", "html")],
        tables=tables,
        tags=tags,
        run_name=run_name(f"score {result.as_of}", source, overrides=overrides),
    )
    log.info("tracked scoring run %s", run_id)
    return run_id
