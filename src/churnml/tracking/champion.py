"""Which model a command uses: the champion of a data source and what goes with it.

`load_scoring_models` resolves `score.model_uri` (this data source's champion by default),
falls back to the export in `paths.models` when the registry has none or the server is down,
finds the switching-cost model of the same training run and the registry version;
`champion_of` is the champion a new training run is compared with.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from churnml.config import Config, ScoreConfig
from churnml.data.source import check_same_accounts, data_source, describe
from churnml.errors import ConfigError, NoModelError, ServiceUnavailable
from churnml.tracking import (
    CHALLENGER,
    CHAMPION,
    TRAIN_HINT,
    alias_version,
    configure,
    connect,
    load_champion,
    load_churn_model,
    load_switching_model,
    version_of_same_run,
    version_tags,
)

log = logging.getLogger(__name__)


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


def no_champion(config: Config, source, tried: str, err: Exception) -> NoModelError:
    """Why there is no champion to score with: no model yet, or the latest lost the gate."""
    ml = config.mlflow
    hint = f"{TRAIN_HINT}, or point score.model_uri at a registered version or an exported model folder"
    challenger = alias_version(ml.churn_model_name, source.alias(CHALLENGER)) if store_exists(config) else None
    if challenger is not None:
        reason = version_tags(ml.churn_model_name, challenger).get("gate.reason", "it did not pass the champion gate")
        return NoModelError(
            f"no champion for {source.label}: the latest model, version {challenger} "
            f"(@{source.alias(CHALLENGER)}), was not made champion because {reason}. Improve the data or "
            f"the model, or score with it anyway: score.model_uri=models:/{ml.churn_model_name}/{challenger}"
        )
    reason = str(err).removesuffix(f"; {TRAIN_HINT}")  # the hint below says it, once
    return NoModelError(f"nothing to score {source.label} with: {reason}; {hint}")


def store_exists(config: Config) -> bool:
    """False for an SQLite tracking store that does not exist yet (looking would create it)."""
    uri = config.mlflow.tracking_uri
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):]).is_file()
    return True


def load_scoring_models(config: Config) -> tuple[Any, Any | None, dict[str, Any]]:
    """(churn model, switching model or None, info) where info has the `name`, `uri` and
    `version` used, the held-out `metrics`, the evaluation `plan` and `plan_reason`, the
    `psi_reference` snapshots and `warnings` for the page. The default `@champion` URI is this
    data source's champion and falls back to its export in `paths.models` (jobs without a
    tracking server). NoModelError (exit 3) when there is none, with the reason; ConfigError
    (exit 2) for a model of another data source."""
    cfg, ml = config.score, config.mlflow
    source = data_source(config.data)
    uri = source_uri(resolve_model_uri(cfg.model_uri, config.paths.root), source)
    export = Path(config.paths.models) / "churn"
    default = f"models:/{ml.churn_model_name}@{source.alias(CHAMPION)}"
    try:
        if uri.startswith(("models:/", "runs:/")):
            if not store_exists(config):
                raise NoModelError(f"no tracking store at {ml.tracking_uri}")
            connect(ml.tracking_uri)  # an unreachable server is found in seconds
        model = load_churn_model(uri, ml.tracking_uri)
        used = uri
    except ServiceUnavailable as err:
        # A monthly job still scores with the exported champion while the server is down.
        if uri != default or not (export / "MLmodel").is_file():
            raise
        log.warning("%s; scoring with the export in %s", err, export)
        model, used = load_churn_model(str(export)), str(export)
    except NoModelError as err:
        if uri != default:
            raise NoModelError(f"no churn model at score.model_uri={cfg.model_uri}: {err}") from err
        if not (export / "MLmodel").is_file():
            raise no_champion(config, source, uri, err) from err
        log.warning("no %s in the registry (%s); scoring with the export in %s", default, err, export)
        model, used = load_churn_model(str(export)), str(export)
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

    switching = switching_for(config, source, used, version, export)
    warnings = []
    if uri != default:
        warnings.append(forced_note(config, source, used, version))
    check = info.get("baseline_check") or {}
    ranked_by = getattr(model, "ranked_by", "model")
    if ranked_by != "model":
        warnings.append(ranked_by_note(ranked_by, check))
    elif check and not check.get("passed", True):
        # A model of an earlier version refused by the gate, and forced.
        from churnml.models.baselines import WORDS

        name = check.get("baseline", "")
        warnings.append(
            f"This list was scored with a model that did not earn its place: on the held-out months it "
            f"ranked the accounts no better than {WORDS.get(name, 'a simple baseline')} (AUC "
            f"{check.get('auc', float('nan')):.3f} against {check.get('baseline_auc', float('nan')):.3f}). "
            "Treat its ranking with care."
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
        "ranked_by": ranked_by,
        "fitted_to": info.get("fitted_to"),
        "horizon_months": info.get("horizon_months"),
    }


def forced_note(config: Config, source, used: str, version: str | None) -> str:
    """In words, for the log and the page: the list was scored with a model named by
    `score.model_uri`, not the data source's champion, and whether the gate had refused it."""
    ml = config.mlflow
    champion = alias_version(ml.churn_model_name, source.alias(CHAMPION)) if store_exists(config) else None
    if champion is not None and champion == version:
        return f"This list was scored with {used} (score.model_uri), which is the champion of {source.label}."
    refused = bool(version and champion) and version_tags(ml.churn_model_name, version).get("gate.alias") == CHALLENGER
    return (f"This list was scored with {used}, named by score.model_uri, not with the champion of {source.label}"
            + (f" (version {champion})" if champion else "")
            + ("; when it was trained it did not rank better than the champion" if refused else "") + ".")


def ranked_by_note(name: str, check: dict) -> str:
    """In words, for sales ops and the log: the list is ranked by a baseline, and why."""
    from churnml.models.baselines import WORDS

    auc, base = check.get("auc", float("nan")), check.get("baseline_auc", float("nan"))
    low, high = check.get("low", float("nan")), check.get("high", float("nan"))
    how = "did no better than" if check.get("verdict") != "loses" else "did worse than"
    return (
        f"This list is ranked by {WORDS.get(name, name)}: on the held-out months the LightGBM model "
        f"{how} it (AUC {auc:.3f} against {base:.3f}; the difference lies between {low:+.3f} and "
        f"{high:+.3f} with 95 % confidence), so the simpler model ranks. Reasons and actions still "
        "come from the LightGBM model."
    )


def switching_for(config: Config, source, used: str, version: str | None, export: Path):
    """The switching-cost model that goes with the churn model `used`: the one registered by
    the same training run for a registry version, the one beside an exported model folder, or
    `score.switching_model_uri` when it is set to something else than its default. None when
    there is none (the list is scored without it)."""
    cfg, ml = config.score, config.mlflow
    if not cfg.switching_model_uri:
        return None
    if cfg.switching_model_uri != ScoreConfig().switching_model_uri:
        candidates = [source_uri(resolve_model_uri(cfg.switching_model_uri, config.paths.root), source)]
    elif used.startswith("models:/"):
        sibling = version_of_same_run(ml.churn_model_name, version, ml.switching_model_name) if version else None
        candidates = [f"models:/{ml.switching_model_name}/{sibling}"] if sibling else []
    else:  # an exported folder: its switching model lies beside it
        candidates = [str(Path(used).parent / "switching")]
    for candidate in candidates:
        try:
            model = load_switching_model(candidate, ml.tracking_uri)
            model.uri = candidate  # where it was loaded from (Spark loads it again there)
            return model
        except NoModelError as err:
            log.info("no switching-cost model at %s (%s)", candidate, err)
    return None


def model_version(uri: str, config: Config) -> str | None:
    """The registry version behind `uri`: models:/name/3 -> '3', models:/name@alias -> the
    alias's version, an export -> the version noted in champion.json beside it."""
    m = re.fullmatch(r"models:/([^/@]+)/(\d+)", uri)
    if m:
        return m.group(2)
    m = re.fullmatch(r"models:/([^/@]+)@([\w-]+)", uri)
    if m:
        configure(config.mlflow)
        return alias_version(m.group(1), m.group(2))
    note = Path(uri).parent / "champion.json"
    if note.is_file():
        try:
            value = json.loads(note.read_text()).get("churn_version")
            return str(value) if value is not None else None
        except (OSError, ValueError):
            return None
    return None


def champion_of(source, mlcfg, account_ids):
    """(version, model) of the source's champion, or None. A champion of other data under the
    same name (another kind, or other accounts) is a configuration mistake, never something to
    compare with."""
    try:
        champion = load_champion(mlcfg, source.alias(CHAMPION))
    except NoModelError as err:
        # A champion that cannot even be loaded cannot score either: the new model replaces it.
        log.warning("the current champion could not be loaded (%s); the new model takes over", err)
        return None
    if champion is None:
        return None
    recorded = champion[1].info.get("source")
    if recorded is None:
        log.info("champion version %s records no data source (trained before sources were recorded)", champion[0])
    elif not source.matches(recorded):
        raise ConfigError(
            f"data.name={source.name!r} already belongs to another data source: its champion (version "
            f"{champion[0]}) was trained on {describe(recorded)}, this run reads {source.label}. "
            "Give this source its own name (data.name=<name>) so the two never mix."
        )
    else:
        check_same_accounts(recorded, account_ids, f"the champion of data.name={source.name!r} (version {champion[0]})")
    return champion
