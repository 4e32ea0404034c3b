"""`churnml score`: the monthly retention-priority list.

1. check the score config, load the churn model (exit 3 when there is none) and, if any, the
   switching-cost model;
2. load the tables as they were before the as-of month (default: the month after the latest
   data) and build the features at that snapshot;
3. score every account in scope (`churnml.score.score_accounts`), compare with the latest
   earlier list in `paths.scores`, list the recently lost for win-back, measure drift (PSI);
4. write `risk_list.parquet`, `risk_list.csv`, `risk_list.xlsx` and `report.html` to
   `paths.scores/<YYYY-MM>/`, all or nothing (`churnml.io.replace_folder`);
5. track the run in MLflow: model version, score distribution, PSI per feature.

`score_month` does it all and returns a `ScoreResult`; `churnml run` calls it too.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from churnml import score as sc
from churnml.config import Config, ScoreConfig
from churnml.errors import ConfigError, NoModelError, ServiceUnavailable
from churnml.stages import RunContext

log = logging.getLogger(__name__)

FILES = ("risk_list.parquet", "risk_list.csv", "risk_list.xlsx", "report.html")
_MONTH_DIR = re.compile(r"^\d{4}-\d{2}$")


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


def run_stage(ctx: RunContext) -> None:
    result = score_month(ctx.config, params=ctx.params, output_dir=ctx.output_dir)
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
) -> ScoreResult:
    """Score one month end to end (see the module docstring) and return what was produced.
    `tables` (all rows; the as-of cut is made here) are loaded when not given."""
    started = time.perf_counter()
    cfg = config.score
    check_score_config(cfg)

    churn_model, switching_model, model_info = load_models_for_scoring(config)

    tables, as_of = load_tables_as_of(config, tables)
    from churnml.data.source import check_same_accounts

    recorded = (getattr(churn_model, "info", {}) or {}).get("source")
    check_same_accounts(recorded, tables["accounts"]["account_id"], f"the churn model {model_info['uri']}")
    label = sc.month_label(as_of)
    features = build_snapshot(tables, config, as_of)
    check_model_features(churn_model, features)

    notes: list[str] = []
    if switching_model is None:
        notes.append(
            "No switching-cost model is available (it needs competitor offers with a price gap in "
            "the data): switch probability and switching cost are empty, and the priority has no "
            "low-switching-cost uplift."
        )
    discount = sc.deepest_recent_discount(tables.get("competitor_signals"), as_of)
    tick = time.perf_counter()
    risk_list = sc.score_accounts(
        features, churn_model, switching_model, tables["accounts"], cfg, deepest_discount=discount
    )
    log.info("scored %d accounts in scope in %.2f s", len(risk_list), time.perf_counter() - tick)
    if risk_list.empty:
        raise ConfigError(
            f"no account is in scope at score.as_of={label} (none bought anything in the 12 months "
            "before it); pick a month inside the data"
        )

    folder_root = Path(config.paths.scores)
    previous = previous_list(folder_root, label)
    changes = sc.compare_lists(risk_list, previous[1] if previous else None)
    risk_list = sc.apply_changes(risk_list, changes)
    changes.left["status"] = left_status(changes.left["account_id"], features)
    win_back = sc.win_back_list(features, tables["accounts"], tables["orders"], as_of)

    scope = features[features["in_scope"].astype(bool)]
    psi = drift(churn_model, scope)
    report = sc.build_report(
        risk_list,
        changes,
        win_back,
        cfg,
        as_of=label,
        model=model_info,
        psi=psi,
        notes=notes,
        switching_available=switching_model is not None,
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        html_rows=cfg.html_rows,
    )
    for feature, value in report.drifted:
        log.warning("drift: %s has PSI %.2f against training (threshold %g)", feature, value, cfg.psi_threshold)

    tick = time.perf_counter()
    paths = write_outputs(folder_root / label, risk_list, report)
    log.info("wrote %s in %.2f s", ", ".join(p.name for p in paths.values()), time.perf_counter() - tick)

    result = ScoreResult(
        as_of=label,
        risk_list=risk_list,
        left=changes.left,
        win_back=win_back,
        folder=folder_root / label,
        paths=paths,
        model_uri=model_info.get("uri", cfg.model_uri),
        model_version=model_info.get("version"),
        previous_as_of=changes.previous_as_of,
        drifted=report.drifted,
        notes=notes,
    )
    if track:
        try:
            result.run_id = track_scoring(config, params or {}, output_dir, result, report, psi)
        except ServiceUnavailable as err:
            # The list is out (jobs without a tracking server score from the export); say what is missing.
            log.warning("the scoring run is not tracked: %s", err)
    log.info("score %s done in %.1f s", label, time.perf_counter() - started)
    return result


def check_score_config(cfg: Any) -> None:
    """Raise ConfigError for score settings that cannot work, before any work is done."""
    sc.band_order(cfg.risk_bands)
    sc.check_weights(cfg.weights)
    if cfg.as_of not in (None, ""):
        sc.parse_month(cfg.as_of)
    if not (isinstance(cfg.psi_threshold, (int, float)) and cfg.psi_threshold > 0):
        raise ConfigError(f"score.psi_threshold must be a number > 0; got {cfg.psi_threshold!r}")
    if not (isinstance(cfg.html_rows, int) and cfg.html_rows > 0):
        raise ConfigError(f"score.html_rows must be a whole number > 0; got {cfg.html_rows!r}")
    if not cfg.model_uri:
        raise ConfigError("score.model_uri is empty; give models:/<name>@<alias>, models:/<name>/<version> or a path")


# --------------------------------------------------------------------------- inputs


def resolve_model_uri(uri: str, root: str | Path) -> str:
    """A model URI as MLflow takes it; a relative path is relative to the project root."""
    if "://" in uri or uri.startswith(("models:/", "runs:/")):
        return uri
    path = Path(uri).expanduser()
    return str(path if path.is_absolute() else Path(root) / path)


def source_uri(uri: str, source) -> str:
    """`models:/<name>@champion` (or `@challenger`) as this data source's alias
    (`@champion-<data.name>`); any other URI as it is."""
    m = re.fullmatch(r"(models:/[^/@]+)@(champion|challenger)", uri)
    return f"{m.group(1)}@{source.alias(m.group(2))}" if m else uri


def _no_champion(config: Config, source, tried: str, err: Exception) -> NoModelError:
    """Why there is no champion to score with: no model yet, or the latest lost the gate."""
    from churnml import tracking

    ml = config.mlflow
    hint = "train one with `churnml train`, or point score.model_uri at a registered version or an exported model folder"
    challenger = tracking.alias_version(ml.churn_model_name, source.alias(tracking.CHALLENGER)) if _store_exists(config) else None
    if challenger is not None:
        reason = tracking.version_tags(ml.churn_model_name, challenger).get("gate.reason", "it did not pass the champion gate")
        return NoModelError(
            f"no champion for {source.label}: the latest model, version {challenger} "
            f"(@{source.alias(tracking.CHALLENGER)}), was not made champion because {reason}. Improve the data or "
            f"the model, or score with it anyway: score.model_uri=models:/{ml.churn_model_name}/{challenger}"
        )
    return NoModelError(f"no churn model to score {source.label} with ({tried}: {err}); {hint}")


def _store_exists(config: Config) -> bool:
    """False for an SQLite tracking store that does not exist yet (looking would create it)."""
    uri = config.mlflow.tracking_uri
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):]).is_file()
    return True


def load_models_for_scoring(config: Config) -> tuple[Any, Any | None, dict[str, Any]]:
    """(churn model, switching model or None, info) where info has the `name`, `uri` and
    `version` used, the held-out `metrics`, the evaluation `plan` and `plan_reason`, the
    `psi_reference` snapshots and `warnings` for the page. The default `@champion` URI is this
    data source's champion and falls back to its export in `paths.models` (jobs without a
    tracking server). NoModelError (exit 3) when there is none, with the reason; ConfigError
    (exit 2) for a model of another data source."""
    from churnml import tracking
    from churnml.data.source import data_source, describe

    cfg, ml = config.score, config.mlflow
    source = data_source(config.data)
    uri = source_uri(resolve_model_uri(cfg.model_uri, config.paths.root), source)
    export = Path(config.paths.models) / "churn"
    default = f"models:/{ml.churn_model_name}@{source.alias(tracking.CHAMPION)}"
    try:
        if uri.startswith(("models:/", "runs:/")):
            if not _store_exists(config):
                raise NoModelError(f"no tracking store at {ml.tracking_uri}")
            tracking.connect(ml.tracking_uri)  # an unreachable server is found in seconds
        model = tracking.load_churn_model(uri, ml.tracking_uri)
        used = uri
    except ServiceUnavailable as err:
        # A monthly job still scores with the exported champion while the server is down.
        if uri != default or not (export / "MLmodel").is_file():
            raise
        log.warning("%s; scoring with the export in %s", err, export)
        model, used = tracking.load_churn_model(str(export)), str(export)
    except NoModelError as err:
        if uri != default:
            raise NoModelError(f"no churn model at score.model_uri={cfg.model_uri}: {err}") from err
        if not (export / "MLmodel").is_file():
            raise _no_champion(config, source, uri, err) from err
        log.warning("no %s in the registry (%s); scoring with the export in %s", default, err, export)
        model, used = tracking.load_churn_model(str(export)), str(export)
    info = getattr(model, "info", {}) or {}
    recorded = info.get("source")
    if recorded is not None and not source.matches(recorded):
        raise ConfigError(
            f"the churn model {used} was trained on {describe(recorded)}; this run reads {source.label}. "
            "A model never scores another source's accounts: train one on this data (`churnml train` "
            "with the same data settings) or point score.model_uri at a model trained on it"
        )
    if recorded is None:
        log.warning("the churn model %s records no data source (trained before sources were recorded)", used)
    version = model_version(used, config)
    log.info("churn model %s%s", used, f" (version {version})" if version else "")

    switching = _switching_for(config, source, used, version, export)
    warnings = []
    check = info.get("baseline_check") or {}
    if check and not check.get("passed", True):
        warnings.append(
            f"This list was scored with a model that did not earn its place: its {check.get('text', '')}. "
            "Treat its ranking with care; the simple baseline ranks the accounts about as well."
        )
    return model, switching, {
        "name": ml.churn_model_name if used.startswith("models:/") or used == str(export) else Path(used).name,
        "uri": used,
        "version": version,
        "metrics": dict(getattr(model, "metrics", {}) or {}),
        "psi_reference": list(info.get("psi_reference_snapshots", [])),
        # Models from before evaluation plans were all tested out-of-time.
        "plan": info.get("evaluation_plan_name", "out-of-time test"),
        "plan_reason": info.get("evaluation_reason", ""),
        "warnings": warnings,
    }


def _switching_for(config: Config, source, used: str, version: str | None, export: Path):
    """The switching-cost model that goes with the churn model `used`: the one registered by
    the same training run for a registry version, the one beside an exported model folder, or
    `score.switching_model_uri` when it is set to something else than its default. None when
    there is none (the list is scored without it)."""
    from churnml import tracking

    cfg, ml = config.score, config.mlflow
    if not cfg.switching_model_uri:
        return None
    if cfg.switching_model_uri != ScoreConfig().switching_model_uri:
        candidates = [source_uri(resolve_model_uri(cfg.switching_model_uri, config.paths.root), source)]
    elif used.startswith("models:/"):
        sibling = tracking.version_of_same_run(ml.churn_model_name, version, ml.switching_model_name) if version else None
        candidates = [f"models:/{ml.switching_model_name}/{sibling}"] if sibling else []
    else:  # an exported folder: its switching model lies beside it
        candidates = [str(Path(used).parent / "switching")]
    for candidate in candidates:
        try:
            return tracking.load_switching_model(candidate, ml.tracking_uri)
        except NoModelError as err:
            log.info("no switching-cost model at %s (%s)", candidate, err)
    return None


def model_version(uri: str, config: Config) -> str | None:
    """The registry version behind `uri`: models:/name/3 -> '3', models:/name@alias -> the
    alias's version, an export -> the version noted in champion.json beside it."""
    from churnml import tracking

    m = re.fullmatch(r"models:/([^/@]+)/(\d+)", uri)
    if m:
        return m.group(2)
    m = re.fullmatch(r"models:/([^/@]+)@([\w-]+)", uri)
    if m:
        tracking.configure(config.mlflow)
        return tracking.alias_version(m.group(1), m.group(2))
    note = Path(uri).parent / "champion.json"
    if note.is_file():
        try:
            value = json.loads(note.read_text()).get("churn_version")
            return str(value) if value is not None else None
        except (OSError, ValueError):
            return None
    return None


def load_tables_as_of(
    config: Config, tables: dict[str, pd.DataFrame] | None = None
) -> tuple[dict[str, pd.DataFrame], pd.Timestamp]:
    """The input tables (loaded when not given) as they were before the as-of month, and that
    month (default: the month after the latest data). ConfigError for a month after that or
    before any order."""
    from churnml.data.contract import as_seen_at
    from churnml.features import data_end
    from churnml.stages.model_inputs import load_tables_for

    tables = load_tables_for(config) if tables is None else tables
    end = pd.Timestamp(data_end(tables))
    if config.score.as_of in (None, ""):
        as_of = end
    else:
        as_of = sc.parse_month(config.score.as_of)
        if as_of > end:
            raise ConfigError(
                f"score.as_of={config.score.as_of} is after the data: the latest data is in "
                f"{sc.month_label(end - pd.DateOffset(months=1))}, so the latest month that can be "
                f"scored is {sc.month_label(end)}"
            )
        first = pd.Timestamp(tables["orders"]["order_date"].min()).to_period("M").to_timestamp()
        if as_of <= first:
            raise ConfigError(
                f"score.as_of={config.score.as_of} is not after the first order month "
                f"({sc.month_label(first)}): there is no history to score from"
            )
    tables = as_seen_at(tables, as_of)  # rows dated on or after the as-of month are ignored
    log.info("scoring as of %s (data end %s)", sc.month_label(as_of), sc.month_label(end))
    return tables, as_of


def build_snapshot(tables: dict[str, pd.DataFrame], config: Config, as_of: pd.Timestamp) -> pd.DataFrame:
    """The features of every account at the one snapshot `as_of`."""
    from churnml.features import build_features

    tick = time.perf_counter()
    features = build_features(tables, config.features, config.labels, snapshots=[as_of])
    features = features[features["snapshot"] == as_of]
    log.info("built %d feature rows at %s in %.2f s", len(features), sc.month_label(as_of), time.perf_counter() - tick)
    return features


def check_model_features(model: Any, features: pd.DataFrame) -> None:
    """ConfigError when the data lack features the model was trained with."""
    wanted = list(getattr(model, "features", []) or [])
    missing = [f for f in wanted if f not in features.columns]
    if missing:
        raise ConfigError(
            f"the churn model needs {len(missing)} feature(s) these data do not have "
            f"({', '.join(missing[:8])}{', …' if len(missing) > 8 else ''}): score with the same "
            "`features` option and tables the model was trained with, or retrain"
        )


def previous_list(scores: Path, as_of: str) -> tuple[str, pd.DataFrame] | None:
    """(month, list) of the latest list in `scores` before `as_of`; None when there is none."""
    if not scores.is_dir():
        return None
    months = sorted(
        p.name for p in scores.iterdir()
        if p.is_dir() and _MONTH_DIR.match(p.name) and p.name < as_of and (p / FILES[0]).is_file()
    )
    if not months:
        log.info("no earlier list in %s: nothing to compare with", scores)
        return None
    month = months[-1]
    frame = pd.read_parquet(scores / month / FILES[0])
    log.info("comparing with the list of %s (%d accounts)", month, len(frame))
    return month, frame


def left_status(ids: pd.Series, features: pd.DataFrame) -> list[str]:
    """Why each account that left the list is no longer on it."""
    f = features.set_index(features["account_id"].astype("str"))
    out = []
    for acc in ids.astype("str"):
        if acc not in f.index:
            out.append("no longer in the data")
        elif bool(f.at[acc, "recently_lost"]):
            out.append("recently lost (see win-back)")
        else:
            out.append("out of scope (no purchases in the last 12 months)")
    return out


def drift(churn_model: Any, scope: pd.DataFrame) -> dict[str, float]:
    """PSI of each model feature in scope against training (empty when the model has no reference)."""
    if not hasattr(churn_model, "population_stability") or scope.empty:
        return {}
    psi = churn_model.population_stability(scope)
    return {str(k): float(v) for k, v in psi.items() if np.isfinite(v)}


# --------------------------------------------------------------------------- outputs


def output_bytes(risk_list: pd.DataFrame, report: Any) -> dict[str, bytes]:
    """The four files of a month as bytes. Parquet and CSV hold nothing but the list, so the
    same inputs give the same bytes; the page carries a generated-at line."""
    from churnml.report.excel import workbook_bytes
    from churnml.report.html import page_html

    parquet = io.BytesIO()
    risk_list.to_parquet(parquet, index=False)
    return {
        "risk_list.parquet": parquet.getvalue(),
        "risk_list.csv": risk_list.to_csv(index=False, lineterminator="\n").encode("utf-8"),
        "risk_list.xlsx": workbook_bytes(report),
        "report.html": page_html(report).encode("utf-8"),
    }


def write_outputs(folder: Path, risk_list: pd.DataFrame, report: Any) -> dict[str, Path]:
    """Write the month's four files into `folder`, replacing its previous content all at once."""
    from churnml.io import replace_folder

    files = output_bytes(risk_list, report)
    written = replace_folder(folder, files)
    return {Path(name).suffix.lstrip("."): path for name, path in written.items()}


# --------------------------------------------------------------------------- tracking


def track_scoring(
    config: Config,
    params: Mapping[str, Any],
    output_dir: Path | None,
    result: ScoreResult,
    report: Any,
    psi: Mapping[str, float],
) -> str:
    """One MLflow run: the model version, the score distribution, PSI per feature, the outputs."""
    from churnml import tracking

    metrics = {f"score/{k}": v for k, v in report.distribution.items()}
    metrics.update({f"psi/{k}": v for k, v in psi.items()})
    metrics["drift/features_over_threshold"] = float(len(result.drifted))
    metrics["changes/new"] = float(report.change_counts["new"])
    metrics["changes/left"] = float(len(result.left))
    metrics["win_back/accounts"] = float(len(result.win_back))
    hist, edges = np.histogram(result.risk_list["churn_probability"], bins=20, range=(0, 1))
    tables = {
        "score_histogram": pd.DataFrame({"from": edges[:-1], "to": edges[1:], "accounts": hist}),
        "psi": pd.DataFrame({"feature": list(psi), "psi": list(psi.values())}).sort_values("psi", ascending=False),
    }
    from churnml.data.source import data_source, run_name

    source = data_source(config.data)
    tags = {
        **source.as_tags(),
        "churnml.as_of": result.as_of,
        "churnml.model_uri": result.model_uri,
        "churnml.model_version": result.model_version or "",
        "churnml.previous_list": result.previous_as_of or "",
        "churnml.drift_warning": ", ".join(f for f, _ in result.drifted) or "none",
    }
    run_id = tracking.log_scoring_run(
        config.mlflow,
        params,
        output_dir,
        metrics,
        artifacts=[result.paths[k] for k in ("csv", "html")],
        tables=tables,
        tags=tags,
        run_name=run_name(f"score {result.as_of}", source),
    )
    log.info("tracked scoring run %s", run_id)
    return run_id
