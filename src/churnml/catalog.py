"""The catalog: where each input and output of a config lives, and reading and writing it.

Stages get their inputs and leave their outputs here; the pure functions they call never see
a path. Low-level, atomic file writing is `churnml.io`; reading the contract tables is
`churnml.data.load`; models and runs are `churnml.tracking`.

- the input tables (`load_tables_for`, and `load_tables_as_of` for one month; the synthetic
  world is generated first when its folder holds no tables, so that every command works from
  a fresh clone);
- the synthetic world and its ground truth (`write_synthetic_world`, `ensure_synthetic`,
  `read_truth`);
- what the model stages read (`load_model_inputs`);
- the features folder (`write_features`, and `read_features`: the hand-off to the model stages,
  reused only while the fingerprint of its inputs, `inputs_fingerprint`, matches);
- the experiment config `churnml tune` writes (`experiment_file`);
- the monthly scores folders (`previous_list`, `month_files`, `write_month`).
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from churnml.config import Config
from churnml.errors import ConfigError

log = logging.getLogger(__name__)

FEATURES_FILE = "features.parquet"
DICTIONARY_FILE = "feature_dictionary.csv"
MONTH_FILES = ("risk_list.parquet", "risk_list.csv", "risk_list.xlsx", "report.html")
_MONTH_DIR = re.compile(r"^\d{4}-\d{2}$")


# --------------------------------------------------------------------------- input tables


def require_tables(data) -> None:
    """Raise ConfigError when the synthetic data folder holds no tables yet (say how to get them)."""
    from churnml.data.load import table_files

    if data.source == "synthetic" and not table_files(data):
        raise ConfigError(
            f"data.dir holds no tables yet ({data.dir}): run `churnml generate` to create the "
            "synthetic world (`churnml run` generates it for you), or point at your own tables "
            "with `data=files data.dir=<folder>`"
        )


def load_tables_for(config: Config, only: tuple[str, ...] | None = None,
                    as_of: pd.Timestamp | None = None) -> dict[str, pd.DataFrame]:
    """The input tables of `config.data` (`only` those, when given; as seen before `as_of`,
    when given; the synthetic world is generated first when its folder holds no tables yet, so
    that `churnml train` works from a fresh clone)."""
    from churnml.data.contract import as_seen_at
    from churnml.data.load import load_tables
    from churnml.months import parse_today

    today = parse_today(config.today)
    ensure_synthetic(config.data, today, config.labels)
    if config.data.source == "spark_tables":
        from churnml import spark_engine

        tables = spark_engine.load_tables(config, today, only)
        return tables if as_of is None else as_seen_at(tables, as_of)
    return load_tables(config.data, as_of=as_of, today=today, only=only)


def load_tables_as_of(
    config: Config, tables: dict[str, pd.DataFrame] | None = None
) -> tuple[dict[str, pd.DataFrame], pd.Timestamp]:
    """The input tables (loaded when not given) as they were before the as-of month, and that
    month (`score.as_of`; default: the month after the latest data)."""
    from churnml.data.contract import as_seen_at
    from churnml.features import data_end
    from churnml.months import as_of_month, month_label

    tables = load_tables_for(config) if tables is None else tables
    end = data_end(tables)
    as_of = as_of_month(config.score.as_of, end, tables["orders"]["order_date"].min())
    log.info("scoring as of %s (data end %s)", month_label(as_of), month_label(end))
    return as_seen_at(tables, as_of), as_of  # rows dated on or after the as-of month are ignored


# --------------------------------------------------------------------------- the synthetic world


def _check_synthetic(data_cfg: Any) -> None:
    if getattr(data_cfg, "source", None) != "synthetic" or not hasattr(data_cfg, "accounts"):
        raise ConfigError(
            "churnml generate writes the synthetic world and needs data=synthetic; "
            f"got data.source={getattr(data_cfg, 'source', None)!r}"
        )


def write_synthetic_world(data_cfg: Any, today: date, labels_cfg: Any = None) -> dict[str, Any]:
    """Generate the world `data_cfg` describes, write it to `data_cfg.dir`; returns its figures.

    `labels_cfg` (horizon, retained share, scope) sets how the calibration figures are measured;
    None uses the defaults.
    """
    from churnml.data.synthetic import generate_world
    from churnml.io import check_format, write_tables, write_text
    from churnml.world_figures import world_figures

    _check_synthetic(data_cfg)
    check_format(data_cfg.format)
    folder = Path(data_cfg.dir).expanduser()
    from churnml.data.world_parts import PART_ACCOUNTS

    if data_cfg.accounts > PART_ACCOUNTS:
        return _write_world_in_parts(data_cfg, today, folder)
    began = time.perf_counter()
    world = generate_world(
        data_cfg.accounts, data_cfg.months, data_cfg.start, data_cfg.seed, data_cfg.world, today, progress=True
    )
    rows = {name: len(frame) for name, frame in world.tables.items()}
    log.info(
        "simulated %d accounts over %d months from %s (seed %d) in %.1f s: %s",
        data_cfg.accounts, world.months, f"{world.start:%Y-%m}", data_cfg.seed, time.perf_counter() - began,
        ", ".join(f"{name} {count:,}" for name, count in rows.items()),
    )
    existing = sorted(p.name for p in folder.glob(f"*.{data_cfg.format}")) if folder.is_dir() else []
    if existing:
        log.info("replacing the %d table file(s) already in %s", len(existing), folder)
    began = time.perf_counter()
    paths = write_tables(world.tables, folder, data_cfg.format, truth=world.truth)
    size = sum(p.stat().st_size for p in paths)
    log.info("wrote %d files (%.1f MB) to %s in %.1f s", len(paths), size / 1e6, folder, time.perf_counter() - began)

    label_args = {}
    if labels_cfg is not None:
        label_args = dict(
            horizon=labels_cfg.horizon_months,
            retained_share=labels_cfg.retained_share,
            scope_months=labels_cfg.scope_months,
            lost_window_months=labels_cfg.lost_window_months,
            rhythm_gaps=labels_cfg.rhythm_gaps,
        )
    figures = world_figures(world, **label_args)
    write_text(folder / "truth" / "figures.json", json.dumps(figures, indent=2) + "\n")
    truth = world.truth["accounts"]
    churned = truth["churn_month"].notna()
    reasons = ", ".join(f"{k} {v}" for k, v in truth.loc[churned, "churn_reason"].value_counts().items())
    log.info("ground truth: %d accounts churned (%s)", churned.sum(), reasons or "none")
    if figures["oracle_auc"] is None:
        log.info("the world is too short for calibration figures (it needs labelled snapshots from month 12 on)")
    else:
        log.info(
            "calibration: %.0f %% of losses recorded in outcomes; in-scope churn rate %.1f %%; oracle AUC %.3f "
            "(out-of-time); best single column %s AUC %.3f; top 20 %% of accounts hold %.0f %% of revenue",
            100 * figures["recorded_share"], 100 * figures["churn_rate"], figures["oracle_auc"],
            figures["best_feature"], figures["best_feature_auc"], 100 * figures["top20_revenue_share"],
        )
    return figures


def _write_world_in_parts(data_cfg: Any, today: date, folder: Path) -> dict[str, Any]:
    """Generate a world too large for memory in parts (`data.world_parts`) and write them as
    one Parquet file per table; returns the rows written (no calibration figures: those are
    measured on worlds that fit)."""
    from churnml.constraints import fail
    from churnml.data.world_parts import PART_ACCOUNTS, generate_world_parts
    from churnml.io import write_table_parts

    if data_cfg.format != "parquet":
        raise fail("data.format", f"parquet for a world of more than {PART_ACCOUNTS:,} accounts",
                   data_cfg.format)
    began = time.perf_counter()
    rows: dict[str, int] = {}

    def parts():
        for world in generate_world_parts(data_cfg.accounts, data_cfg.months, data_cfg.start, data_cfg.seed,
                                          data_cfg.world, today):
            for name, frame in world.tables.items():
                rows[name] = rows.get(name, 0) + len(frame)
            log.info("simulated a part of %d accounts (%.0f s so far)", len(world.tables["accounts"]),
                     time.perf_counter() - began)
            yield world.tables, world.truth

    paths = write_table_parts(parts(), folder)
    log.info("wrote %d files (%s) to %s in %.1f s", len(paths), ", ".join(f"{n} {c:,}" for n, c in rows.items()),
             folder, time.perf_counter() - began)
    return {"rows": rows}


def ensure_synthetic(data_cfg: Any, today: date, labels_cfg: Any = None) -> bool:
    """Generate the synthetic world into `data_cfg.dir` only when that folder holds no tables.

    Returns True when it generated. Does nothing (False) for a non-synthetic data source.
    """
    from churnml.data.load import table_files

    if getattr(data_cfg, "source", None) != "synthetic":
        return False
    found = table_files(data_cfg)
    if found:
        log.info("using the %d table(s) already in %s (delete them to regenerate)", len(found), data_cfg.dir)
        return False
    log.info("no tables in %s: generating the synthetic world", data_cfg.dir)
    write_synthetic_world(data_cfg, today, labels_cfg)
    return True


def read_truth(raw_dir: str | Path) -> dict[str, pd.DataFrame] | None:
    """The synthetic world's truth tables (`hazard`, `accounts`) in `<raw>/truth/`, or None."""
    from churnml.io import read_truth as read

    try:
        return read(raw_dir)
    except ConfigError:
        return None


# --------------------------------------------------------------------------- model inputs


def load_model_inputs(config: Config, tables: dict[str, pd.DataFrame] | None = None, frame: pd.DataFrame | None = None,
                      *, sample: bool = False):
    """What `train`, `evaluate` and `tune` read (a `churnml.models.training.ModelInputs`): the
    features frame (read from the features file when its inputs are exactly these tables and
    this run's config, else built: consistent with overrides such as `features=orders_only`
    in a multirun), the competitor offers, the
    feature dictionary and, on the synthetic world, the oracle and the true switching costs
    from `${paths.raw}/truth/` (they never reach a model; they only score the comparison).

    `tables` and `frame` (the features of those tables with this config) are loaded and built
    when not given; `churnml run` passes the ones it already has. When the features file was
    built from these very files, only the competitor signals are loaded beside it (the orders
    are never read). With `sample` and `model.sample.negative_rate` set, the frame is a
    weighted sample (`churnml.models.sample`), read from the features file batch by batch."""
    if tables is None:
        ensure_synthetic(config.data, _today(config), config.labels)
        fingerprint = inputs_fingerprint(config)
        if fingerprint is not None and features_match(config, fingerprint):
            tables = load_tables_for(config, only=("competitor_signals",))
        else:  # the files' fingerprint is the one taken before loading (a database's: of its rows)
            tables = load_tables_for(config)
            fingerprint = fingerprint or inputs_fingerprint(config, tables)
    else:
        fingerprint = inputs_fingerprint(config, tables) if frame is None else None
    return _model_inputs(config, tables, fingerprint, frame, sample)


def _today(config: Config) -> date:
    from churnml.months import parse_today

    return parse_today(config.today)


def _model_inputs(config: Config, tables: dict[str, pd.DataFrame], fingerprint: dict[str, str] | None,
                  frame: pd.DataFrame | None, sample: bool):
    from churnml.data.synthetic import oracle_from_truth
    from churnml.features import build_features, feature_columns
    from churnml.features.competitor import training_offers
    from churnml.features.dictionary import dictionary_frame
    from churnml.models.training import ModelInputs

    started = time.perf_counter()
    offers = training_offers(tables.get("competitor_signals"), config.labels.switch_signal_kinds)
    rate = config.model.sample.negative_rate if sample else None
    keep = None
    if frame is None:
        keep = _sample_keeper(config, fingerprint, offers) if rate else None
        frame = read_features(config, fingerprint, keep=keep)
    if frame is None:
        if "orders" not in tables:  # the matching file could not be read after all
            tables = load_tables_for(config)
        frame = build_features(tables, config.features, config.labels)
    if rate:
        frame = _weighted_sample(config, frame, offers, keep)
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
        offers=offers,
        horizon=horizon,
        dictionary=dictionary_frame(features),
        oracle=oracle,
        true_switching_cost=true_cost,
    )


_SAMPLE_KEYS = ["account_id", "snapshot", "labelled", "in_scope", "churn"]


def _whole(config: Config, keys: pd.DataFrame) -> list[pd.Timestamp]:
    """The snapshots a training sample keeps whole (`churnml.models.sample.whole_snapshots`)
    for the evaluation plan these rows (`_SAMPLE_KEYS`) give."""
    from churnml.models.churn import training_rows
    from churnml.models.pyfunc import REFERENCE_SNAPSHOTS
    from churnml.models.sample import whole_snapshots
    from churnml.models.split import plan_evaluation

    labelled = training_rows(keys)["snapshot"].unique()
    plan = plan_evaluation(labelled, config.labels.horizon_months, config.model.split, config.model.seed)
    return whole_snapshots(keys["snapshot"].unique(), labelled, plan.test, REFERENCE_SNAPSHOTS)


class _Keeper:
    """The rows of a training sample, decided batch by batch while the features file is read."""

    def __init__(self, config: Config, whole: list[pd.Timestamp], offers: pd.DataFrame):
        self.rate, self.seed = config.model.sample.negative_rate, config.model.seed
        self.whole, self.offers = whole, offers
        self.rows = 0

    def __call__(self, batch: pd.DataFrame) -> np.ndarray:
        from churnml.models.sample import keep_mask

        self.rows += len(batch)
        return keep_mask(batch, self.rate, self.seed, self.whole, self.offers)


def _sample_keeper(config: Config, fingerprint: dict[str, str] | None, offers: pd.DataFrame) -> _Keeper | None:
    """A `_Keeper` for the features file when it matches `fingerprint` (None otherwise)."""
    from churnml.io import read_columns

    path = Path(config.paths.features) / FEATURES_FILE
    if fingerprint is None or not path.exists():
        return None
    try:
        keys = read_columns(path, _SAMPLE_KEYS)
    except (OSError, ValueError):
        return None
    return _Keeper(config, _whole(config, keys), offers)


def _weighted_sample(config: Config, frame: pd.DataFrame, offers: pd.DataFrame, keeper: _Keeper | None) -> pd.DataFrame:
    """`frame` (already sampled when read through `keeper`) as the sample, with its weights."""
    from churnml.models.sample import WEIGHT, keep_mask, sample_weights

    rate = config.model.sample.negative_rate
    if keeper is None:  # built in memory: sampled here
        keeper = _Keeper(config, _whole(config, frame[_SAMPLE_KEYS]), offers)
        keeper.rows = len(frame)
        frame = frame[keep_mask(frame, rate, config.model.seed, keeper.whole, offers)].reset_index(drop=True)
    frame = frame.assign(**{WEIGHT: sample_weights(frame, rate, keeper.whole, offers)})
    log.info("training sample: %d of %d feature rows (every churner, every row of %d snapshots kept whole, "
             "and %g of the other labelled rows, each weighted %g)", len(frame), keeper.rows, len(keeper.whole),
             rate, 1 / rate)
    return frame


# --------------------------------------------------------------------------- features


def inputs_fingerprint(config: Config, tables: dict[str, pd.DataFrame] | None = None) -> dict[str, str] | None:
    """What a features frame is made of, as digests: the input tables' content, the data,
    feature and label config, and the code (every source file of churnml and the versions of
    the libraries that parse and compute). Two equal fingerprints give the same frame.

    Table files are hashed as they are now: take the fingerprint before loading them, so that a
    file replaced during a long build is not credited to features of the old one. A database's
    rows are hashed as loaded (`tables`, in order); None when they are not given yet. A Spark
    catalog's tables are hashed by Spark (`churnml.spark_engine.table_digests`)."""
    import hashlib
    from dataclasses import asdict
    from importlib.metadata import version

    from churnml.data.load import table_files

    def digest(*texts: str | bytes) -> str:
        h = hashlib.blake2b(digest_size=12)
        for text in texts:
            h.update(text if isinstance(text, bytes) else text.encode())
        return h.hexdigest()

    if config.data.source == "spark_tables":
        from churnml import spark_engine

        content = [f"{name}:{value}" for name, value in spark_engine.table_digests(config).items()]
    elif config.data.source == "sql":
        if tables is None:
            return None
        content: list[str | bytes] = []
        for name, frame in sorted(tables.items()):
            rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()  # one hash per row, in order
            content += [f"{name}:{list(frame.columns)}:{list(map(str, frame.dtypes))}:", rows.tobytes()]
    else:
        content = []
        for name, path in sorted(table_files(config.data).items()):
            with path.open("rb") as stream:
                # sha1: a fingerprint, not a seal, and the fastest of hashlib's on large files
                content.append(f"{name}:{hashlib.file_digest(stream, 'sha1').hexdigest()}")
    from churnml import code_version

    libraries = [f"{name} {version(name)}" for name in ("numpy", "pandas", "pyarrow", "scipy")]
    return {
        "tables": digest(*content),
        "data config": digest(json.dumps(asdict(config.data), sort_keys=True, default=str)),
        "feature config": digest(json.dumps(asdict(config.features), sort_keys=True, default=str)),
        "label config": digest(json.dumps(asdict(config.labels), sort_keys=True, default=str)),
        "code": digest(code_version(), *libraries),
    }


def load_fingerprinted(config: Config, load: Callable[[], dict[str, pd.DataFrame]]):
    """(the tables `load()` returns, the fingerprint of those inputs): of the files as they were
    when `load` read them, or of a database's rows as loaded."""
    import importlib.metadata  # noqa: F401 - imported here, not by two threads at once

    from churnml.data.load import table_files  # noqa: F401 - the same
    from churnml.parallel import run_all

    # The files are hashed while they are read (both open them before either is done).
    before, tables = run_all(lambda: inputs_fingerprint(config), load)
    return tables, before or inputs_fingerprint(config, tables)


_FINGERPRINT_KEY = "churnml.inputs"
_ROW_GROUP_ROWS = 100_000


def write_features(
    folder: str | Path, frame: pd.DataFrame, dictionary: pd.DataFrame, fingerprint: dict[str, str] | None = None
) -> tuple[Path, Path]:
    """Write the features frame (with the `fingerprint` of its inputs) and its dictionary into
    `folder`; returns both paths."""
    from churnml.io import write_frame

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {_FINGERPRINT_KEY: json.dumps(fingerprint, sort_keys=True)} if fingerprint else None
    # Row groups of a few whole snapshots (about 100,000 rows): `score` reads its month and
    # skips the others; smaller groups would make the file slower to write.
    per_snapshot = int(frame.groupby("snapshot", sort=False).size().max()) if len(frame) else 1
    chunk = per_snapshot * max(1, _ROW_GROUP_ROWS // per_snapshot)
    if (folder / FEATURES_FILE).is_dir():  # the Spark engine's dataset in parts, replaced by one file
        shutil.rmtree(folder / FEATURES_FILE)
    written = write_frame(frame, folder / FEATURES_FILE, chunk_rows=chunk, metadata=metadata)
    return written, write_frame(dictionary, folder / DICTIONARY_FILE)


def _why_not_reused(path: Path, fingerprint: dict[str, str] | None) -> str | None:
    """Why the features file at `path` was not made from inputs with this `fingerprint`, or
    None when it was."""
    from churnml.io import read_metadata

    recorded = read_metadata(path, _FINGERPRINT_KEY)
    if recorded is None:
        why = "there is none yet" if not path.exists() else "it records no fingerprint of its inputs"
        return f"no features file to reuse at {path} ({why}; `churnml features` writes it)"
    if fingerprint is None:
        return f"the inputs of {path} cannot be compared before loading"
    changed = [part for part, value in fingerprint.items() if json.loads(recorded).get(part) != value]
    if changed:
        return f"{path} was made from other inputs ({', '.join(changed)} changed)"
    return None


def features_match(config: Config, fingerprint: dict[str, str] | None) -> bool:
    """Whether the features file was made from inputs with this `fingerprint`."""
    return _why_not_reused(Path(config.paths.features) / FEATURES_FILE, fingerprint) is None


def read_features(
    config: Config, fingerprint: dict[str, str] | None, snapshots: list[pd.Timestamp] | None = None,
    keep: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> pd.DataFrame | None:
    """The features `churnml features` wrote from inputs with this `fingerprint` (only
    `snapshots`, when given; only the rows `keep` selects from their `_SAMPLE_KEYS`), or None
    when there is no such file: one log line says why the features are built instead."""
    from churnml.io import read_frame

    path = Path(config.paths.features) / FEATURES_FILE
    why = _why_not_reused(path, fingerprint)
    if why:
        log.info("building the features: %s", why)
        return None
    started = time.perf_counter()
    filters = [("snapshot", "in", list(snapshots))] if snapshots is not None else None
    try:
        frame = read_frame(path, filters=filters, keep=keep, keep_columns=_SAMPLE_KEYS)
    except (OSError, ValueError) as err:  # a damaged file is rebuilt, not a failure
        log.info("building the features: %s cannot be read (%s)", path, err)
        return None
    if snapshots is not None and set(frame["snapshot"]) != set(snapshots):
        log.info("building the features: %s holds no snapshot %s", path, ", ".join(f"{t:%Y-%m}" for t in snapshots))
        return None
    log.info("read the features from %s (its inputs match) in %.1f s", path, time.perf_counter() - started)
    return frame


def write_features_on_spark(config: Config, fingerprint: dict[str, str] | None = None) -> Path:
    """Build and write the features on Spark (`churnml.spark_engine`) with the `fingerprint` of
    their inputs (taken now when not given), and their dictionary; returns the dataset's path
    (nothing is read back)."""
    from churnml import spark_engine
    from churnml.features.dictionary import dictionary_frame
    from churnml.io import write_frame

    if config.data.source == "sql":
        raise ConfigError("`engine.name` must be pandas with data.source=sql (Spark reads Parquet or CSV files); got spark")
    started = time.perf_counter()
    fingerprint = fingerprint or inputs_fingerprint(config)
    spark = spark_engine.session(config.engine)
    written, features = spark_engine.build_features(config, _today(config), fingerprint, spark)
    write_frame(dictionary_frame(features), written.parent / DICTIONARY_FILE)
    log.info("wrote %s (%d features) on Spark (%s) in %.1f s", written, len(features), config.engine.master,
             time.perf_counter() - started)
    return written


# --------------------------------------------------------------------------- tuned experiments


def experiment_file(config: Config) -> Path:
    """Where `churnml tune` writes the tuned experiment config: `<paths.root>/conf/experiment/<tune.output_experiment>.yaml`."""
    return Path(config.paths.root) / "conf" / "experiment" / f"{config.tune.output_experiment}.yaml"


# --------------------------------------------------------------------------- monthly scores


def previous_list(scores: str | Path, as_of: str) -> tuple[str, pd.DataFrame] | None:
    """(month, list) of the latest list in `scores` before `as_of`; None when there is none."""
    scores = Path(scores)
    if not scores.is_dir():
        return None
    months = sorted(
        p.name for p in scores.iterdir()
        if p.is_dir() and _MONTH_DIR.match(p.name) and p.name < as_of and (p / MONTH_FILES[0]).is_file()
    )
    if not months:
        log.info("no earlier list in %s: nothing to compare with", scores)
        return None
    month = months[-1]
    frame = pd.read_parquet(scores / month / MONTH_FILES[0])
    log.info("comparing with the list of %s (%d accounts)", month, len(frame))
    return month, frame


def list_history(scores: str | Path, as_of: str, months: int = 6) -> pd.DataFrame:
    """`as_of, account_id, churn_probability` of the latest `months` lists in `scores` before
    `as_of` (empty when there are none): the top accounts' risk over time."""
    scores = Path(scores)
    columns = ["as_of", "account_id", "churn_probability"]
    if not scores.is_dir():
        return pd.DataFrame(columns=columns)
    found = sorted(
        p.name for p in scores.iterdir()
        if p.is_dir() and _MONTH_DIR.match(p.name) and p.name < as_of and (p / MONTH_FILES[0]).is_file()
    )[-months:]
    frames = [pd.read_parquet(scores / m / MONTH_FILES[0], columns=columns) for m in found]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def month_files(risk_list: pd.DataFrame, report: Any) -> dict[str, bytes]:
    """The four files of a month as bytes. Parquet and CSV hold nothing but the list, so the
    same inputs give the same bytes; the page carries a generated-at line."""
    from churnml.report.excel import workbook_bytes
    from churnml.report.html import page_html
    from churnml.scoring.risk_list import csv_text

    parquet = io.BytesIO()
    risk_list.to_parquet(parquet, index=False)
    return {
        "risk_list.parquet": parquet.getvalue(),
        "risk_list.csv": csv_text(risk_list).encode("utf-8"),
        "risk_list.xlsx": workbook_bytes(report),
        "report.html": page_html(report).encode("utf-8"),
    }


def write_month(folder: str | Path, risk_list: pd.DataFrame, report: Any) -> dict[str, Path]:
    """Write the month's four files into `folder`, replacing its previous content all at once;
    returns suffix -> path."""
    from churnml.io import replace_folder

    written = replace_folder(folder, month_files(risk_list, report))
    return {Path(name).suffix.lstrip("."): path for name, path in written.items()}
