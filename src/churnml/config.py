"""Typed configuration: one dataclass per config group, its constraints beside its fields.

These are plain dataclasses; `cli.py` registers them with Hydra as schemas so that a
wrong type or an unknown key in a YAML file or an override is an error that names the key.
Each class declares what its values must be (`constraints`, and `relations()` for rules
between fields); `churnml.constraints.check` checks them once when the config is built, with
one message shape ("`score.risk_bands.high` must be a churn probability in (0, 1); got 1.5").
Stages receive them as objects (`OmegaConf.to_object`), never as Hydra objects.

The defaults here are the only ones: conf/ repeats them for the reader, and a test pins
every group's YAML to its dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

from churnml.constraints import (
    Rule,
    character,
    day,
    each_value,
    keys_among,
    month,
    number,
    one_of,
    optional,
    plain_name,
    share,
    text,
    text_encoding,
    whole,
)
from churnml.data.world_params import WorldParams

# The weights of the retention priority (churnml.scoring.priority).
PRIORITY_WEIGHTS = ("influence", "low_switching_cost")
LOWEST_BAND = "low"  # the band below every threshold of score.risk_bands
CALIBRATION_METHODS = ("isotonic", "platt")
SOURCES = ("synthetic", "files", "sql", "spark_tables")
FORMATS = ("csv", "parquet")  # of table files


@dataclass
class PathsConfig:
    root: str = "${project_root:}"
    data: str = "${paths.root}/data"
    raw: str = "${paths.data}/raw"
    # Each data source in its own folder (data.name; empty for the demo world).
    features: str = "${paths.data}/features/${data.name}"
    scores: str = "${paths.data}/scores/${data.name}"
    models: str = "${paths.root}/models/${data.name}"


@dataclass
class TableSource:
    """Where one table comes from and how its columns are named by the user."""

    path: Optional[str] = None  # files: relative to data.dir (default <table>.<format>)
    query: Optional[str] = None  # sql: the SELECT that returns the table
    table: Optional[str] = None  # spark_tables: the table's name in the Spark catalog (db.table)
    columns: Dict[str, str] = field(default_factory=dict)  # contract name -> user's column
    # column -> {the export's value: the contract's}, e.g. category: {"Reklamation Qualität": quality}
    values: Dict[str, Dict[str, str]] = field(default_factory=dict)
    # How this table's CSV is written, when it differs from data.<setting> (None: as data.<setting>).
    delimiter: Optional[str] = None
    decimal: Optional[str] = None
    thousands: Optional[str] = None
    date_format: Optional[str] = None
    encoding: Optional[str] = None

    constraints = {  # not annotated: class attributes, not fields
        "delimiter": character(),
        "decimal": character(),
        "thousands": character(),
        "encoding": text_encoding(),
    }



@dataclass
class DataConfig:
    source: str = "files"  # synthetic | files | sql | spark_tables
    # Names this data source: its outputs' folders and its registry aliases (churnml.data.source).
    name: str = ""
    dir: str = "${paths.raw}"
    format: str = "csv"  # csv | parquet
    delimiter: str = ","  # csv: the field separator (';' for many European exports)
    decimal: str = "."  # csv: the decimal mark (',' in 1.234,56)
    thousands: Optional[str] = None  # csv: the thousands separator ('.' in 1.234,56); none by default
    date_format: Optional[str] = None  # csv: e.g. '%d.%m.%Y'; none: ISO dates (YYYY-MM-DD) or timestamps
    encoding: str = "utf-8"  # csv: text encoding (a byte-order mark is accepted); e.g. latin-1, cp1252
    url: Optional[str] = None  # sql: an SQLAlchemy URL
    tables: Dict[str, TableSource] = field(default_factory=dict)

    constraints = {
        "source": one_of(*SOURCES),
        "format": one_of(*FORMATS),
        "delimiter": character(),
        "decimal": character(),
        "thousands": character(),
        "encoding": text_encoding(),
    }

    def relations(self) -> Iterator[tuple]:
        if self.source == "sql" and not self.url:
            yield "url", "an SQLAlchemy URL when data.source is sql", self.url
        if self.decimal == self.thousands:
            yield "thousands", "from the decimal mark", self.thousands, "differ"


@dataclass
class SyntheticDataConfig(DataConfig):
    """The built-in synthetic world: written to `dir` by `churnml generate`, and by `churnml run`
    when that folder holds no tables (docs/synthetic_world.md)."""

    source: str = "synthetic"
    format: str = "parquet"
    accounts: int = 2000  # rows of `accounts`: those there at the start plus later arrivals
    months: int = 48  # cut short so that the world ends before today's month
    start: str = "2021-01"  # YYYY-MM
    seed: int = 42  # same seed, same world
    world: WorldParams = field(default_factory=WorldParams)  # every parameter of the simulation

    constraints = {
        **DataConfig.constraints,
        "accounts": whole(at_least=10),
        "months": whole(at_least=1),
        "start": month(),
        "seed": whole(at_least=0),
    }


@dataclass
class FeaturesConfig:
    families: List[str] = field(
        default_factory=lambda: [
            "orders",
            "complaints",
            "competitor",
            "relationship",
            "switching",
            "peers",
            "account",
        ]
    )
    # Snapshots start once this many months of history exist, so windows are not all empty.
    min_history_months: int = 1  # first snapshot this many months after the first order
    # peers: an account with at least this influence is a leader others follow.
    peer_leader_influence: float = 0.7
    # Features left out of the frame. `contract_months_remaining` comes from today's master
    # record: at past snapshots it shows renewals signed later (and non-renewals before a loss),
    # so training on it leaks; `months_to_contract_anniversary` is the leak-free alternative.
    exclude: List[str] = field(default_factory=lambda: ["contract_months_remaining"])

    # Which families and features exist is the feature dictionary's to say
    # (churnml.features.build.check_config).
    constraints = {
        "min_history_months": whole(at_least=0),
        "peer_leader_influence": share(),
    }


@dataclass
class LabelsConfig:
    horizon_months: int = 6
    retained_share: float = 0.2
    scope_months: int = 12
    lost_window_months: int = 3
    # already gone: the lost window stretches to this many of the account's usual gaps between
    # order days (at least lost_window_months, at most scope_months)
    rhythm_gaps: float = 2.0
    # switch evidence: competitor signals of these kinds in [t - months_before, t + H)
    switch_evidence_months_before: int = 3
    switch_signal_kinds: List[str] = field(default_factory=lambda: ["trial_order", "tender_lost"])

    constraints = {
        "horizon_months": whole(at_least=1),
        "retained_share": share("[)"),
        "scope_months": whole(at_least=1),
        "lost_window_months": Rule("a whole number of at least 0 (0 turns the test off)", whole(at_least=0).holds),
        "switch_evidence_months_before": whole(at_least=0),
        "rhythm_gaps": number(above=0),
    }


@dataclass
class LgbmParams:
    num_leaves: int = 7
    learning_rate: float = 0.02
    n_estimators: int = 1500
    min_child_samples: int = 40
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    early_stopping_rounds: int = 50

    constraints = {
        "num_leaves": whole(at_least=2),
        "learning_rate": number(above=0),
        "n_estimators": whole(at_least=1),
        "min_child_samples": whole(at_least=1),
        "feature_fraction": share("(]"),
        "bagging_fraction": share("(]"),
        "bagging_freq": whole(at_least=0),
        "lambda_l2": number(at_least=0),
        "early_stopping_rounds": whole(at_least=1),
    }


@dataclass
class SplitConfig:
    test_snapshots: int = 3  # latest labelled snapshots held out (shrinks to 1 on short extracts)
    min_fit_snapshots: int = 6  # an out-of-time test needs this many snapshots to fit on
    folds: int = 3  # inner folds: tree count and out-of-fold scores for the calibrator
    holdout_share: float = 0.3  # share of the accounts held out when the extract is too short

    constraints = {
        "test_snapshots": whole(at_least=1),
        "min_fit_snapshots": whole(at_least=1),
        "folds": whole(at_least=2),
        "holdout_share": share("()"),
    }


@dataclass
class GateConfig:
    # The model ranks the list only when its AUC beats the best baseline's beyond the noise: the
    # paired bootstrap interval (accounts resampled) of the difference lies above zero. A tie or a
    # loss goes to the simpler model, the baseline. 0 rounds: no interval, the baseline ranks.
    bootstrap_rounds: int = 1000
    confidence: float = 0.95
    # The new model takes @champion whatever the comparison says: promoting a challenger on purpose
    # (another feature set or label definition, which the gate cannot compare with the champion).
    take_champion: bool = False

    constraints = {"bootstrap_rounds": whole(at_least=0), "confidence": share("()")}


@dataclass
class SampleConfig:
    # Train on every churner and this share of the other labelled rows, weighted back (each
    # drawn row counts 1 / negative_rate), for panels larger than the driver's memory; the
    # rows the model is tested and compared on stay whole. null: every row.
    negative_rate: Optional[float] = None

    constraints = {"negative_rate": optional(share("(]"))}


@dataclass
class ModelConfig:
    name: str = "lightgbm"
    seed: int = 42
    calibration: str = "isotonic"  # isotonic | platt
    churn: LgbmParams = field(default_factory=LgbmParams)
    switching: LgbmParams = field(
        default_factory=lambda: LgbmParams(n_estimators=300, num_leaves=4, learning_rate=0.05, min_child_samples=20)
    )
    split: SplitConfig = field(default_factory=SplitConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    backtest_folds: int = 4
    switching_grid_step: float = 0.005
    # switching cost = smallest discount at which the switching probability reaches this
    switching_threshold: float = 0.5
    # features of the switching model: feature families and/or single features ("all" = every one)
    switching_features: List[str] = field(
        default_factory=lambda: [
            "switching",
            "custom_revenue_share_12m",
            "product_lines_12m",
            "tenure_months",
            "share_of_wallet",
        ]
    )
    # LightGBM threads, fixed so that a seed gives the same model. 1 by default: on cores shared
    # with other jobs, OpenMP threads that wait for each other make 2 threads many times slower.
    num_threads: int = 1

    constraints = {
        "seed": whole(at_least=0),
        "calibration": one_of(*CALIBRATION_METHODS),
        "backtest_folds": whole(at_least=1),
        "switching_grid_step": number(above=0),
        "switching_threshold": share("()"),
        "num_threads": whole(at_least=1),
    }


@dataclass
class TuneConfig:
    n_trials: int = 20
    timeout_seconds: Optional[int] = None
    seed: int = 42
    # name -> {low, high, log?, type: int|float}
    space: Dict[str, Any] = field(default_factory=dict)
    output_experiment: str = "tuned"

    # The search space's names and ranges are checked by churnml.models.tuning.check_space.
    constraints = {
        "n_trials": whole(at_least=1),
        "timeout_seconds": optional(whole(at_least=1)),
        "seed": whole(at_least=0),
        "output_experiment": plain_name(),
    }


@dataclass
class ScoreConfig:
    as_of: Optional[str] = None  # YYYY-MM; default: the month after the latest data
    model_uri: str = "models:/churnml-churn@champion"
    switching_model_uri: str = "models:/churnml-switching@champion"
    weights: Dict[str, float] = field(
        default_factory=lambda: {"influence": 0.5, "low_switching_cost": 0.3}
    )
    risk_bands: Dict[str, float] = field(default_factory=lambda: {"high": 0.3, "medium": 0.15})
    psi_threshold: float = 0.25
    top_n: int = 10
    html_rows: int = 1000  # rows of the ranked table on report.html (the workbook has them all)
    # reason -> action; keys: a feature name, the beginning of feature names, or a family (see conf/score)
    playbook: Dict[str, str] = field(default_factory=dict)
    currency: str = "EUR"  # shown with every amount on the page and in the workbook
    # How codes read for people: column -> {code: words}, e.g. industry: {food_beverage: Food & beverage};
    # codes not named here are humanised ("food_beverage" -> "Food beverage").
    labels: Dict[str, Dict[str, str]] = field(default_factory=dict)

    # Which playbook keys exist is the feature dictionary's to say (churnml.scoring.actions).
    constraints = {
        "as_of": optional(month()),
        "model_uri": Rule("models:/<name>@<alias>, models:/<name>/<version> or a path", lambda v: bool(v)),
        "weights": (keys_among(PRIORITY_WEIGHTS), each_value(number(at_least=0))),
        "risk_bands": each_value(share("()", what="a churn probability")),
        "psi_threshold": number(above=0),
        "top_n": whole(at_least=1),
        "html_rows": whole(at_least=1),
        "playbook": each_value(Rule("the text of an action", text().holds)),
        "currency": text(),
        "labels": keys_among(("industry", "tier", "account_manager")),
    }

    def relations(self) -> Iterator[tuple]:
        bands = self.risk_bands
        if not bands:
            yield "risk_bands", "at least one band, e.g. {high: 0.3, medium: 0.15}", dict(bands)
        elif LOWEST_BAND in bands:
            yield "risk_bands", f"bands other than {LOWEST_BAND!r} (the band below every threshold)", dict(bands)
        elif len(set(bands.values())) != len(bands):
            yield "risk_bands", "from band to band", dict(bands), "differ"


@dataclass
class MlflowConfig:
    tracking_uri: str = "sqlite:///${paths.root}/mlflow.db"
    experiment: str = "churnml"
    artifact_location: str = "${paths.root}/mlartifacts"
    churn_model_name: str = "churnml-churn"
    switching_model_name: str = "churnml-switching"

    constraints = {"tracking_uri": text(), "experiment": text(), "churn_model_name": text(), "switching_model_name": text()}


ENGINES = ("pandas", "spark")


@dataclass
class EngineConfig:
    """Where the features are built: in this process (pandas) or on Spark."""

    name: str = "pandas"
    # spark: `local[*]` (every core of this machine), `local[2]`, `yarn`, `k8s://…`, `spark://…`
    master: str = "local[*]"
    conf: Dict[str, str] = field(default_factory=dict)  # any Spark setting, e.g. spark.driver.memory: 8g
    # spark: groups of accounts built as one pandas task each; null: two per core, and one per
    # 2,000 accounts
    buckets: Optional[int] = None

    constraints = {"name": one_of(*ENGINES), "master": text(), "buckets": optional(whole(1))}


@dataclass
class Config:
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=SyntheticDataConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    # The date treated as "today" (YYYY-MM-DD) for the future-date check; default: the real date.
    today: Optional[str] = None

    constraints = {"today": day()}

    def relations(self) -> Iterator[tuple]:
        if self.data.source == "spark_tables" and self.engine.name != "spark":
            yield "engine.name", "spark when data.source is spark_tables (Spark reads its catalog's tables)", self.engine.name


# ----------------------------------------------------------------------------------------------
# Which keys exist: an override naming no setting is refused before Hydra composes anything
# ----------------------------------------------------------------------------------------------


def _schema(data_option: str) -> dict[str, Any]:
    """The root's fields and their types; the `data` group's schema is the chosen option's."""
    import typing

    fields = typing.get_type_hints(Config)
    fields["data"] = SyntheticDataConfig if data_option == "synthetic" else DataConfig
    return fields


def unknown_setting(key: str, data_option: str = "synthetic", groups: tuple[str, ...] = ()) -> str | None:
    """Why the override key `key` (`labels.horizn`, `+labels.horizn`) names no setting, with the
    nearest one that exists; None when it is a setting, a config group among `groups` or Hydra's own.
    `data_option` is the chosen `data` group option (its schema decides which keys exist)."""
    import difflib
    import typing

    name = key.lstrip("+~")
    if name.startswith("hydra") or "/" in name:
        return None
    parts = name.split(".")
    node: Any = _schema(data_option)
    if len(parts) == 1 and parts[0] in {*groups, "experiment"}:
        return None
    path: list[str] = []
    for part in parts:
        if isinstance(node, dict):  # the root
            known = list(node)
        elif isinstance(node, type) and hasattr(node, "__dataclass_fields__"):
            hints = typing.get_type_hints(node)
            known, node = list(hints), hints
        else:
            origin = typing.get_origin(node)
            if origin is typing.Union:  # Optional[X]
                node = next(a for a in typing.get_args(node) if a is not type(None))
                origin = typing.get_origin(node)
            if origin in (dict, Dict):
                node = typing.get_args(node)[1]  # any key, then the value's type
                path.append(part)
                continue
            if node is Any or origin in (list, List):
                return None
            return f"`{'.'.join(path)}` is a single value: it has no `{part}` (in `{name}`)"
        if part not in known:
            choices = known if path else [*known, *groups]
            near = difflib.get_close_matches(part, choices, n=1, cutoff=0.5)
            where = ".".join(path)
            hint = f"; did you mean `{'.'.join([*path, near[0]])}`?" if near else ""
            return (f"`{name}` is not a churnml setting: {'the config' if not where else f'`{where}`'} has no "
                    f"`{part}`{hint}")
        node = node[part] if isinstance(node, dict) else node
        path.append(part)
    return None
