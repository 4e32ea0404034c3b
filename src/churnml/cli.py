"""The `churnml` command: `churnml <stage> [hydra overrides...]`, one Hydra app per stage.

This is the only module that knows Hydra. It composes the configuration, turns it into typed
dataclasses, calls the stage, and maps errors to exit codes:
0 ok, 2 bad input or configuration, 3 no model to score with, 1 anything else.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from churnml.errors import EXIT_BAD_INPUT, EXIT_UNEXPECTED, ChurnmlError, ServiceUnavailable, exit_codes_line

log = logging.getLogger("churnml")

STAGES: dict[str, str] = {
    "generate": "write the synthetic key-account world (tables + ground truth) to paths.raw",
    "validate": "check the input tables against the contract and print a summary",
    "features": "build point-in-time features and labels at every monthly snapshot",
    "train": "train, evaluate out-of-time, track and register the churn and switching-cost models",
    "tune": "search churn-model hyperparameters with Optuna; write the best as an experiment file",
    "evaluate": "rolling-origin backtest of the churn model against the baselines",
    "score": "score every account in scope into the ranked retention-priority list",
    "run": "the whole chain: generate (if needed), validate, features, train, score",
}


def project_root() -> Path:
    """The project root: $CHURNML_ROOT, else the repository this package was installed from."""
    env = os.environ.get("CHURNML_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2]


def conf_dir() -> Path:
    return project_root() / "conf"


def register_configs() -> None:
    """Register the typed schemas and the `project_root` resolver (idempotent)."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from churnml import config as c
    from churnml.data.source import source_name

    if not OmegaConf.has_resolver("project_root"):
        OmegaConf.register_new_resolver("project_root", lambda: str(project_root()))
    if not OmegaConf.has_resolver("source_name"):
        OmegaConf.register_new_resolver("source_name", source_name)
    cs = ConfigStore.instance()
    cs.store(group="paths", name="paths_schema", node=c.PathsConfig)
    cs.store(group="data", name="data_schema", node=c.DataConfig)
    cs.store(group="data", name="synthetic_schema", node=c.SyntheticDataConfig)
    cs.store(group="features", name="features_schema", node=c.FeaturesConfig)
    cs.store(group="labels", name="labels_schema", node=c.LabelsConfig)
    cs.store(group="model", name="model_schema", node=c.ModelConfig)
    cs.store(group="tune", name="tune_schema", node=c.TuneConfig)
    cs.store(group="score", name="score_schema", node=c.ScoreConfig)
    cs.store(group="mlflow", name="mlflow_schema", node=c.MlflowConfig)
    cs.store(group="engine", name="engine_schema", node=c.EngineConfig)


def to_config(cfg: Any):
    """Turn a composed DictConfig into the typed `churnml.config.Config`."""
    from omegaconf import OmegaConf

    from churnml.config import Config
    from churnml.constraints import check

    obj = OmegaConf.to_object(cfg)
    groups = {k: v for k, v in obj.items() if k in Config.__dataclass_fields__}
    config = Config(**groups)
    # "data/features/" for the demo (empty data.name) reads as "data/features" everywhere.
    for name in ("root", "data", "raw", "features", "scores", "models"):
        setattr(config.paths, name, os.path.normpath(getattr(config.paths, name)))
    check(config)  # every constraint of every group, once, before any work
    return config


def compose_config(overrides: list[str] | tuple[str, ...] = ()):
    """The typed `churnml.config.Config` that `churnml <stage> <overrides>` would run with, composed
    with Hydra's compose API (no run folder, no logging set-up): for notebooks and scripts.

    Raises `ConfigError` for an override Hydra cannot apply (unknown key, bad value)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from churnml.errors import ConfigError

    register_configs()
    overrides = [str(o) for o in overrides]
    unknown = unknown_settings(overrides)
    if unknown:
        raise ConfigError(f"cannot compose the configuration with overrides {overrides}: {'; '.join(unknown)}")
    overrides += extra_searchpath(overrides)
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name="notebook"):
            cfg = compose(config_name="config", overrides=overrides)
        return to_config(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        # Hydra's own message is often only "Error merging override x=y"; the cause says why.
        why = "; ".join(str(e).strip().splitlines()[0] for e in (err, err.__cause__) if e is not None and str(e).strip())
        raise ConfigError(f"cannot compose the configuration with overrides {overrides}: {why}") from None


def unknown_settings(overrides: list[str]) -> list[str]:
    """One message per override whose key names no churnml setting (`churnml.config.unknown_setting`),
    whether typed as `key=value` or `+key=value`: Hydra would advise `+` for the first and accept
    the second silently."""
    from churnml.config import unknown_setting

    groups = tuple(sorted(p.name for p in conf_dir().iterdir() if p.is_dir()))
    data = [o.split("=", 1)[1] for o in overrides if o.lstrip("+").startswith("data=")]
    option = data[-1] if data and "," not in data[-1] else "synthetic"
    keys = [o.split("=", 1)[0] for o in overrides if "=" in o]
    return [m for m in (unknown_setting(k, option, groups) for k in keys) if m]


def flat_params(cfg: Any) -> dict[str, Any]:
    """The resolved config as dotted keys (`model.churn.num_leaves` -> 15), for tracking."""
    from omegaconf import OmegaConf

    def walk(node: Any, prefix: str) -> dict[str, Any]:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for k, v in node.items():
                out.update(walk(v, f"{prefix}.{k}" if prefix else str(k)))
            return out
        return {prefix: node}

    return walk(OmegaConf.to_container(cfg, resolve=True), "")


def extra_searchpath(overrides: list[str]) -> list[str]:
    """When `paths.root` points elsewhere, also search its `conf/` folder, so experiment files
    written there (e.g. by `churnml tune`) can be used with `experiment=<name>`."""
    roots = [o.split("=", 1)[1] for o in overrides if o.startswith("paths.root=")]
    if not roots or "," in roots[-1]:
        return []
    other = Path(roots[-1]).expanduser().resolve() / "conf"
    if other == conf_dir().resolve() or not other.is_dir():
        return []
    return [f"hydra.searchpath=[file://{other}]"]


# The settings people change, in the order they meet them (`churnml <stage> --help`).
COMMON_SETTINGS: tuple[tuple[str, str], ...] = (
    ("data", "where the tables come from: synthetic (the demo), files, sql (northwind: its example), spark_tables"),
    ("data.dir", "the folder of the key-account file's tables (data=files)"),
    ("data.name", "names this data source: its own outputs, models and champion"),
    ("data.format", "csv or parquet (data=files)"),
    ("labels.horizon_months", "churn is judged over the next H months"),
    ("score.as_of", "the month to score (YYYY-MM); default: the month after the latest data"),
    ("score.model_uri", "the model that scores; default: this data source's champion"),
    ("features", "all, or orders_only (what an orders-only extract allows)"),
    ("engine", "pandas, or spark for data beyond one machine"),
    ("mlflow", "local (SQLite in the project), or server (mlflow.tracking_uri)"),
)


def _stage_help(task, stage: str, full: bool) -> int:
    """A stage's help: short by default (what it does, the config groups, the settings people
    change with their values); with `--all`, Hydra's whole config tree. Never the internal
    `*_schema` options."""
    import contextlib
    import io
    import re

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        try:
            task()
        except SystemExit:
            pass
    lines = []
    for line in captured.getvalue().splitlines():
        m = re.fullmatch(r"(\w+): (.+)", line)
        if m and "_schema" in m.group(2):
            kept = [o for o in m.group(2).split(", ") if not o.endswith("_schema")]
            line = f"{m.group(1)}: {', '.join(kept)}"
        lines.append(line)
        if line.startswith("Override anything in the config"):
            lines.append("(values shown as written; `--cfg job --resolve` shows them resolved)")
    if full:
        print("\n".join(lines))
        return 0
    section = lines[lines.index("== Configuration groups ==") + 1: lines.index("== Config ==")]
    groups = [line for line in section if re.fullmatch(r"\w+: .+", line)]
    config = compose_config([])
    width = max(len(key) for key, _ in COMMON_SETTINGS)
    print(f"churnml {stage}: {STAGES[stage]}\n\nusage: churnml {stage} [group=option ...] [key=value ...]\n")
    print("Config groups (group=option):")
    print("\n".join(f"  {line}" for line in groups))
    print("\nSettings people change (key=value; the default in brackets):")
    for key, meaning in COMMON_SETTINGS:
        value = _setting_value(config, key)
        print(f"  {key:<{width}}  {meaning}" + (f" [{value}]" if value not in (None, "") else ""))
    print(f"\nEvery setting: `churnml {stage} --help --all`; the config a run would use: "
          f"`churnml {stage} <overrides> --cfg job --resolve`.")
    print(exit_codes_line())
    return 0


def _setting_value(config: Any, key: str) -> Any:
    """The value of dotted `key` in the typed config (a group's name: its chosen option)."""
    node = config
    for part in key.split("."):
        node = getattr(node, part, None)
    groups = {"data": "source", "engine": "name"}
    if key in groups:
        return getattr(node, groups[key], None)
    return None if hasattr(node, "__dataclass_fields__") else node


def _traceback_to_log(stage: str) -> None:
    """Append the current exception's traceback to the run's log file only: the console shows
    the one-line message, whoever investigates finds the rest in the log."""
    import traceback

    from hydra.core.hydra_config import HydraConfig

    try:
        path = Path(HydraConfig.get().runtime.output_dir) / f"{stage}.log"
        with path.open("a", encoding="utf-8") as out:
            out.write(traceback.format_exc())
    except (OSError, ValueError):  # no run folder: nothing to append to
        pass


def _print_help() -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print("usage: churnml <stage> \\[overrides...]   (churnml <stage> --help for its config)\n")
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("stage")
    table.add_column("what it does")
    for name, text in STAGES.items():
        table.add_row(name, text)
    console.print(table)
    console.print("\n" + exit_codes_line())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `churnml` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        _print_help()
        return 0
    stage, rest = argv[0], argv[1:]
    if stage not in STAGES:
        print(
            f"churnml: unknown stage {stage!r}; allowed: {', '.join(STAGES)}. See `churnml --help`.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT

    import hydra
    from hydra.core.hydra_config import HydraConfig

    # A crash inside a native library (LightGBM, Arrow) then says where it happened.
    try:
        faulthandler.enable()
    except (AttributeError, ValueError):  # a stderr without a file (captured): nowhere to write
        pass
    quiet_known_warnings()
    register_configs()
    state = {"started": False}

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
    def task(cfg: Any) -> None:
        state["started"] = True
        from churnml.stages import STAGE_FUNCTIONS, RunContext

        quiet_third_party_logs()
        try:
            config = to_config(cfg)
            ctx = RunContext(
                stage=stage,
                config=config,
                params=flat_params(cfg),
                output_dir=Path(HydraConfig.get().runtime.output_dir),
                overrides=tuple(HydraConfig.get().overrides.task),
            )
            STAGE_FUNCTIONS[stage](ctx)
        except ChurnmlError as err:
            log.error("%s", err)
            if isinstance(err, ServiceUnavailable):  # not the user's mistake: keep the details
                _traceback_to_log(stage)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            log.error("interrupted")
            sys.exit(EXIT_UNEXPECTED)
        except Exception:  # noqa: BLE001 - the job must exit 1 with the cause in the log
            log.exception("churnml %s failed unexpectedly", stage)
            sys.exit(EXIT_UNEXPECTED)

    # Hydra's argparse wants flags before overrides; users should not have to care.
    overrides = [a for a in rest if "=" in a and not a.startswith("-")]
    flags = [a for a in rest if a not in overrides]
    unknown = unknown_settings(overrides)
    if unknown:
        for message in unknown:
            print(f"churnml {stage}: {message} (`churnml {stage} --cfg job` shows every setting)", file=sys.stderr)
        return EXIT_BAD_INPUT
    overrides += extra_searchpath(overrides)
    sys.argv = [f"churnml {stage}", *flags, f"hydra.job.name={stage}", *overrides]
    if "--help" in flags or "-h" in flags:
        sys.argv = [a for a in sys.argv if a != "--all"]
        return _stage_help(task, stage, full="--all" in flags)
    try:
        with _composed_once(flags, overrides):
            task()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        # Hydra exits 1 on a config error (unknown key, bad override) before the task starts.
        if code == 1 and not state["started"]:
            return EXIT_BAD_INPUT
        return code
    return 0


@contextmanager
def _composed_once(flags: list[str], overrides: list[str]):
    """Hydra composes the whole config once only to read `hydra.mode` and once more to run
    (half a second each). When nothing can set the mode (no --multirun, no hydra.mode, no
    experiment file, and no config of ours sets it), the first is skipped: Hydra then runs a
    single job, as it would have."""
    from hydra._internal.hydra import Hydra

    can_set_mode = any(f in ("-m", "--multirun") for f in flags) or any(
        o.lstrip("+~").startswith(("hydra.mode", "hydra/", "experiment")) for o in overrides
    )
    original = getattr(Hydra, "get_mode", None)
    if can_set_mode or original is None:
        yield
        return
    Hydra.get_mode = lambda self, config_name, overrides: None  # None: Hydra's own default, a run
    try:
        yield
    finally:
        Hydra.get_mode = original


# pandera imports pyspark.pandas whenever pyspark is installed, and pyspark warns about pandas 3
# (on every start, and in every Spark worker). Whether that matters here is what the engines'
# equivalence tests tell; the warning only tells nothing to a user.
_PYSPARK_PANDAS_WARNING = "PySpark does not yet fully support pandas"


def quiet_known_warnings() -> None:
    """Silence the warnings that tell the user nothing (here and in Spark's Python workers)."""
    import warnings

    warnings.filterwarnings("ignore", message=_PYSPARK_PANDAS_WARNING, category=FutureWarning)
    known = f"ignore:{_PYSPARK_PANDAS_WARNING}:FutureWarning"
    current = os.environ.get("PYTHONWARNINGS")
    if known not in (current or ""):
        os.environ["PYTHONWARNINGS"] = f"{current},{known}" if current else known


# Libraries whose INFO lines tell an operator nothing ("Using categorical units to plot a list of
# strings"); their warnings still reach the log.
_CHATTY_LOGGERS = ("matplotlib",)


def quiet_third_party_logs() -> None:
    """Keep third-party INFO chatter out of the log (after Hydra has set the logging up)."""
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def console_main() -> int:
    """The `churnml` console script: `main`, then a quick exit. The interpreter's last garbage
    collection would walk every object MLflow, pandas and the frames left behind (seconds at
    the end of a score); frozen, they are simply released with the process."""
    import gc

    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console_main())
