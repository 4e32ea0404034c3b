"""Every MLflow call of churnml: runs, params, metrics, artifacts, models, registry, export.

Default backend: an SQLite file at the project root, artifacts in an absolute folder beside it
(`mlflow.artifact_location`); a `tracking_uri` of a server works the same (its own artifact
store is used when `artifact_location` is empty).

Models are logged as pyfunc models (`churnml.models.pyfunc`) with a signature and an input
example of feature columns only, registered under `mlflow.churn_model_name` and
`mlflow.switching_model_name`, and the champion is exported to `paths.models` so that scoring
jobs can run without a tracking server.
"""

from __future__ import annotations

import json
import logging
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd

from churnml.config import MlflowConfig
from churnml.data.source import CHALLENGER, CHAMPION  # noqa: F401 (the roles, as tracking.CHAMPION)
from churnml.errors import NoModelError, ServiceUnavailable

log = logging.getLogger(__name__)

CHURN_ARTIFACT = "churn_model"
SWITCHING_ARTIFACT = "switching_model"
_PINNED = ("mlflow", "lightgbm", "pandas", "numpy", "scikit-learn", "pyarrow")
_PARAM_VALUE_LIMIT = 6000
_BATCH = 100
TRAIN_HINT = "train one with `churnml train`"


def _mlflow():
    # Imported on first use: importing MLflow takes seconds and most commands never need it.
    import mlflow

    return mlflow


# ----------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------


# The probe finds a server that is down in seconds; a server lost mid-run is retried twice, not
# with MLflow's default backoff of minutes. Uploads keep MLflow's own timeout.
_HTTP_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2"}
_PROBE_TIMEOUT_S = 5


def connect(tracking_uri: str) -> None:
    """Point MLflow at `tracking_uri`. A server URL is probed first: `ServiceUnavailable` (one
    line naming the URI and what to check) when it does not answer."""
    mlflow = _mlflow()
    if tracking_uri.startswith(("http://", "https://")):
        for key, value in _HTTP_SETTINGS.items():
            os.environ.setdefault(key, value)
        _probe(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)


def _probe(tracking_uri: str) -> None:
    import requests

    try:
        requests.get(f"{tracking_uri.rstrip('/')}/health", timeout=_PROBE_TIMEOUT_S)
    except requests.RequestException as err:
        why = type(err).__name__.replace("Error", " error").replace("Exception", "").strip().lower()
        raise ServiceUnavailable(
            f"cannot reach the MLflow tracking server at {tracking_uri} ({why}): check that the server "
            "is running and reachable from here and that mlflow.tracking_uri is right, or track locally "
            "with mlflow=local"
        ) from err


def configure(cfg: MlflowConfig) -> str:
    """Point MLflow at `cfg.tracking_uri` and return the id of `cfg.experiment` (created with the
    absolute `cfg.artifact_location` when it does not exist yet)."""
    mlflow = _mlflow()
    connect(cfg.tracking_uri)
    existing = mlflow.get_experiment_by_name(cfg.experiment)
    if existing is not None:
        return existing.experiment_id
    location = None
    if cfg.artifact_location:
        folder = Path(cfg.artifact_location).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        location = folder.as_uri()
    try:
        return mlflow.create_experiment(cfg.experiment, artifact_location=location)
    except Exception:  # noqa: BLE001 - another job created it at the same moment
        found = mlflow.get_experiment_by_name(cfg.experiment)
        if found is None:
            raise
        return found.experiment_id


@contextmanager
def run(
    cfg: MlflowConfig,
    run_name: str,
    params: Mapping[str, Any] | None = None,
    hydra_dir: Path | None = None,
    tags: Mapping[str, str] | None = None,
    nested: bool = False,
) -> Iterator[str]:
    """A tracked run (yields its id) with the dotted `params` and the `.hydra/` files of
    `hydra_dir` logged. An exception inside marks the run FAILED and propagates."""
    mlflow = _mlflow()
    experiment_id = configure(cfg) if not nested else mlflow.active_run().info.experiment_id
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, nested=nested, tags=dict(tags or {})
    ) as active:
        if params:
            log_params(params)
        if hydra_dir is not None and (Path(hydra_dir) / ".hydra").is_dir():
            mlflow.log_artifacts(str(Path(hydra_dir) / ".hydra"), artifact_path="hydra")
        yield active.info.run_id


def log_params(params: Mapping[str, Any]) -> None:
    """Log params (values as text, cut to MLflow's length limit), in batches."""
    mlflow = _mlflow()
    items = [(k, _param_text(v)) for k, v in params.items()]
    for i in range(0, len(items), _BATCH):
        mlflow.log_params(dict(items[i : i + _BATCH]))


def _param_text(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= _PARAM_VALUE_LIMIT else text[: _PARAM_VALUE_LIMIT - 1] + "…"


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log numeric metrics (names may be namespaced: `oot/auc`); None and non-numbers are skipped."""
    mlflow = _mlflow()
    clean = {}
    for k, v in metrics.items():
        if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        clean[k] = float(v)
    if clean:
        mlflow.log_metrics(clean, step=step)


def set_tags(tags: Mapping[str, Any]) -> None:
    _mlflow().set_tags({k: str(v) for k, v in tags.items()})


def log_figure(figure, path: str) -> None:
    """Log a matplotlib figure as a PNG artifact at `path` (e.g. `plots/roc.png`)."""
    _mlflow().log_figure(figure, path)


def log_dict(obj: Any, path: str) -> None:
    """Log a JSON-serialisable object as `path` (`.json`)."""
    _mlflow().log_dict(obj, path)


def log_frame(frame: pd.DataFrame, path: str) -> None:
    """Log a DataFrame as a CSV artifact at `path`."""
    _mlflow().log_text(frame.to_csv(index=False), path)


def log_files(paths: list[Path] | tuple[Path, ...], artifact_path: str | None = None) -> None:
    """Log existing files as artifacts (under `artifact_path`)."""
    mlflow = _mlflow()
    for p in paths:
        mlflow.log_artifact(str(p), artifact_path=artifact_path)


def log_scoring_run(
    cfg: MlflowConfig,
    params: Mapping[str, Any],
    output_dir: Path | None,
    metrics: Mapping[str, float],
    artifacts: list[Path] | tuple[Path, ...] = (),
    tables: Mapping[str, pd.DataFrame] | None = None,
    tags: Mapping[str, Any] | None = None,
    run_name: str = "score",
) -> str:
    """Track one scoring job in a single call: params, `.hydra/` files, metrics (e.g.
    `score/mean`, `psi/<feature>`), files under `outputs/`, tables as CSV (`name.csv`), tags.
    Returns the run id."""
    with run(cfg, run_name, params, output_dir, tags={"churnml.stage": "score"}) as run_id:
        log_metrics(metrics)
        log_files(list(artifacts), artifact_path="outputs")
        for name, frame in (tables or {}).items():
            log_frame(frame, name if name.endswith(".csv") else f"{name}.csv")
        if tags:
            set_tags(tags)
    return run_id


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------


def pip_requirements() -> list[str]:
    """The pinned versions of the libraries a logged model needs (saves MLflow's slow inference)."""
    out = []
    for name in _PINNED:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out


@contextmanager
def _quiet_model_logging() -> Iterator[None]:
    """Silence MLflow's per-model chatter (the CloudPickle notice, "validating input example", and
    the "Registered model … already exists. Creating a new version" it prints to stderr: our own
    log says which version was registered)."""
    import contextlib
    import io

    loggers = [logging.getLogger(n) for n in ("mlflow.pyfunc", "mlflow.models", "mlflow.store.model_registry")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _model_kwargs(python_model, example: pd.DataFrame) -> dict[str, Any]:
    from mlflow.models import infer_signature

    output = python_model.predict(None, example)
    return {
        "python_model": python_model,
        "signature": infer_signature(example, pd.Series(output, name="prediction"),
                                     params=getattr(python_model, "PARAMS", None)),
        "input_example": example,
        "pip_requirements": pip_requirements(),
    }


@dataclass
class Registered:
    """A registered model version."""

    name: str
    version: str
    model_uri: str


def log_model(python_model, example: pd.DataFrame, artifact: str, registered_name: str) -> Registered:
    """Log `python_model` (a pyfunc wrapper) in the active run with a signature inferred from
    `example` (feature columns only) and register it as a new version of `registered_name`."""
    mlflow = _mlflow()
    with _quiet_model_logging():
        info = mlflow.pyfunc.log_model(
            name=artifact, registered_model_name=registered_name, **_model_kwargs(python_model, example)
        )
    version = str(info.registered_model_version)
    log.info("registered %s version %s", registered_name, version)
    return Registered(name=registered_name, version=version, model_uri=f"models:/{registered_name}/{version}")


def spark_udf(spark, uri: str, result_type: str, params: dict[str, Any] | None = None):
    """The model at `uri` as a Spark UDF (`mlflow.pyfunc.spark_udf`) in this environment,
    returning `result_type` (a DDL struct such as "a double, b double"); its arguments are the
    signature's input columns, by name."""
    mlflow = _mlflow()
    signature = mlflow.models.get_model_info(uri).signature
    if params and (signature is None or signature.params is None):
        raise NoModelError(f"the model at {uri} was saved before churnml scored on Spark (its signature has no "
                           "parameters); train it again (`churnml train`) to score with engine=spark")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per download: noise in a job's log
    with _quiet_model_logging():
        return mlflow.pyfunc.spark_udf(spark, uri, result_type=result_type, env_manager="local", params=params)


def alias_version(name: str, alias: str) -> str | None:
    """The version of `name` that holds `alias`, or None (no such model or alias)."""
    from mlflow.exceptions import MlflowException

    client = _mlflow().MlflowClient()
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def describe_version(name: str, version: str, description: str) -> None:
    """Set the description of a registered model version (what the registry's UI shows)."""
    _mlflow().MlflowClient().update_model_version(name, str(version), description=description)


def set_alias(name: str, alias: str, version: str) -> None:
    """Give `alias` to `version` of `name` (taking it from whichever version held it)."""
    _mlflow().MlflowClient().set_registered_model_alias(name, alias, str(version))
    log.info("%s version %s is now @%s", name, version, alias)


def _local_path(uri: str) -> Path | None:
    if uri.startswith("file://"):
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        return Path(url2pathname(urlparse(uri).path))
    if "://" in uri or uri.startswith(("models:/", "runs:/")):
        return None
    return Path(uri)


def _load(uri: str, kind: str, tracking_uri: str | None):
    """The unwrapped python model at `uri` (models:/name@alias, models:/name/3, runs:/…, a path)."""
    mlflow = _mlflow()
    from mlflow.exceptions import MlflowException

    path = _local_path(uri)
    if path is not None:
        if not (path / "MLmodel").is_file():
            raise NoModelError(f"no {kind} model at {path} (no MLmodel file there); {TRAIN_HINT}")
        uri = str(path)
    elif tracking_uri:
        connect(tracking_uri)
    try:
        return mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except MlflowException as err:
        raise NoModelError(f"no {kind} model at {uri}: {_first_line(err)}; {TRAIN_HINT}") from err
    except OSError as err:
        raise NoModelError(f"no {kind} model at {uri}: {err}; {TRAIN_HINT}") from err


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def load_churn_model(uri: str, tracking_uri: str | None = None):
    """The `churnml.models.pyfunc.ChurnModel` at `uri`. Raises `NoModelError` when there is none."""
    from churnml.models.pyfunc import ChurnModel

    model = _load(uri, "churn", tracking_uri)
    if not isinstance(model, ChurnModel):
        raise NoModelError(f"the model at {uri} is a {type(model).__name__}, not a churn model")
    return model


def load_switching_model(uri: str, tracking_uri: str | None = None):
    """The `churnml.models.pyfunc.SwitchingModel` at `uri`. Raises `NoModelError` when there is none."""
    from churnml.models.pyfunc import SwitchingModel

    model = _load(uri, "switching", tracking_uri)
    if not isinstance(model, SwitchingModel):
        raise NoModelError(f"the model at {uri} is a {type(model).__name__}, not a switching model")
    return model


def load_champion(cfg: MlflowConfig, alias: str = CHAMPION):
    """(version, ChurnModel) of the churn model holding `alias` (a data source's champion), or
    None when there is none."""
    configure(cfg)
    version = alias_version(cfg.churn_model_name, alias)
    if version is None:
        return None
    return version, load_churn_model(f"models:/{cfg.churn_model_name}/{version}")


def version_tags(name: str, version: str) -> dict[str, str]:
    """The tags of the run that registered `version` of `name` ({} when unknown)."""
    client = _mlflow().MlflowClient()
    from mlflow.exceptions import MlflowException

    try:
        run_id = client.get_model_version(name, str(version)).run_id
        return dict(client.get_run(run_id).data.tags) if run_id else {}
    except MlflowException:
        return {}


def version_of_same_run(name: str, version: str, other: str) -> str | None:
    """The version of model `other` registered by the run that registered `version` of `name`
    (the switching model trained beside a churn model), or None."""
    client = _mlflow().MlflowClient()
    from mlflow.exceptions import MlflowException

    try:
        run_id = client.get_model_version(name, str(version)).run_id
        found = client.search_model_versions(f"name = '{other}' and run_id = '{run_id}'")
    except MlflowException:
        return None
    return str(found[0].version) if found else None


# ----------------------------------------------------------------------------------------------
# Export for jobs without a tracking server
# ----------------------------------------------------------------------------------------------


def export_model(python_model, example: pd.DataFrame, target: Path) -> None:
    """Save `python_model` in MLflow's pyfunc format at `target`, replacing what is there without
    ever leaving a half-written folder (`churnml.io.swap_folder`)."""
    from churnml.io import swap_folder

    mlflow = _mlflow()

    def save(staging: Path) -> None:
        with _quiet_model_logging():
            mlflow.pyfunc.save_model(str(staging), **_model_kwargs(python_model, example))

    swap_folder(target, save)
    log.info("exported %s to %s", type(python_model).__name__, target)


def write_json(obj: Any, path: Path) -> None:
    """Write `obj` as JSON to `path` atomically."""
    from churnml.io import write_text

    write_text(path, json.dumps(obj, indent=2, default=str))


def finite(metrics: Mapping[str, float]) -> dict[str, float]:
    """Metrics without NaN/inf values (for JSON)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
