"""Config tests: every group option and every experiment composes into the typed config."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from churnml.cli import conf_dir, register_configs, to_config
from churnml.config import Config, SyntheticDataConfig

CONF = conf_dir()
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name != "experiment")
OPTIONS = [(g, f.stem) for g in GROUPS for f in sorted((CONF / g).glob("*.yaml"))]
EXPERIMENTS = sorted(f.stem for f in (CONF / "experiment").glob("*.yaml"))


def _compose(overrides: list[str]) -> Config:
    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return to_config(compose(config_name="config", overrides=overrides))


def test_every_group_has_options():
    assert set(GROUPS) >= {"data", "features", "labels", "model", "tune", "score", "mlflow", "paths"}
    assert EXPERIMENTS, "conf/experiment holds at least one experiment"


# Options that only work with another group's choice (checked in tests/test_engine_config.py).
NEEDS = {("data", "spark_tables"): ["engine=spark"]}


@pytest.mark.parametrize("group,option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_group_option_composes(group: str, option: str):
    cfg = _compose([f"{group}={option}", *NEEDS.get((group, option), [])])
    assert isinstance(cfg, Config)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_changes_something(experiment: str):
    default = _compose([])
    cfg = _compose([f"experiment={experiment}"])
    assert cfg != default, f"experiment {experiment} changes nothing"


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_files_are_global_packages(experiment: str):
    text = (CONF / "experiment" / f"{experiment}.yaml").read_text()
    assert text.startswith("# @package _global_")


def test_paths_derive_from_root_not_working_directory(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _compose([])
    root = Path(cfg.paths.root)
    assert root == CONF.parent
    assert Path(cfg.paths.raw) == root / "data" / "raw"
    assert Path(cfg.paths.scores) == root / "data" / "scores"
    assert cfg.mlflow.tracking_uri == f"sqlite:///{root}/mlflow.db"

    moved = _compose([f"paths.root={tmp_path}"])
    assert Path(moved.paths.features) == tmp_path / "data" / "features"
    assert Path(moved.data.dir) == tmp_path / "data" / "raw"


def test_defaults_match_the_documented_interface():
    cfg = _compose([])
    assert isinstance(cfg.data, SyntheticDataConfig)
    assert (cfg.data.accounts, cfg.data.months, cfg.data.start) == (2000, 48, "2021-01")
    assert cfg.labels.horizon_months == 6
    assert cfg.labels.retained_share == 0.2
    assert cfg.labels.scope_months == 12
    assert cfg.labels.lost_window_months == 3
    assert cfg.score.model_uri == "models:/churnml-churn@champion"


@pytest.mark.parametrize("bad", ["labels.horizn=3", "data.acounts=10", "model.churn.num_leafs=3"])
def test_unknown_key_is_an_error_naming_it(bad: str):
    with pytest.raises(Exception) as err:
        _compose([bad])
    assert bad.split("=")[0].split(".")[-1] in str(err.value) + str(err.value.__cause__)


def test_wrong_type_is_an_error():
    with pytest.raises(Exception) as err:
        _compose(["labels.horizon_months=six"])
    assert "horizon_months" in str(err.value) + str(err.value.__cause__)


# Fields whose default is written in conf/ only: the dataclass holds none (empty), by design.
YAML_OWNED = {("score", "playbook"), ("tune", "space")}


def _differences(yaml_value, dataclass_value, path: str) -> list[str]:
    if isinstance(yaml_value, dict) and isinstance(dataclass_value, dict):
        keys = sorted(set(yaml_value) | set(dataclass_value))
        return [d for k in keys for d in _differences(yaml_value.get(k), dataclass_value.get(k), f"{path}.{k}")]
    return [] if yaml_value == dataclass_value else [f"{path}: yaml {yaml_value!r}, dataclass {dataclass_value!r}"]


def test_default_yaml_of_every_group_equals_its_dataclass():
    """Each default has one value: the default option of every group composes into exactly the
    dataclass defaults (resolved against the same project root)."""
    import os
    from dataclasses import asdict

    from omegaconf import OmegaConf

    composed = asdict(_compose([]))
    structured = OmegaConf.merge(OmegaConf.structured(Config), {"paths": {"root": composed["paths"]["root"]}})
    default = OmegaConf.to_object(structured)
    for name in ("root", "data", "raw", "features", "scores", "models"):
        setattr(default.paths, name, os.path.normpath(getattr(default.paths, name)))
    default = asdict(default)
    for group, field in YAML_OWNED:
        assert not default[group][field], f"{group}.{field} has a default in the dataclass and in conf/"
        assert composed[group][field], f"conf/ gives {group}.{field} its default"
        composed[group][field] = default[group][field]
    assert _differences(composed, default, "config") == []


@pytest.mark.parametrize(
    "override, key",
    [
        ("score.risk_bands.high=1.5", "score.risk_bands.high"),
        ("labels.horizon_months=0", "labels.horizon_months"),
        ("model.split.folds=1", "model.split.folds"),
        ("model.churn.learning_rate=0", "model.churn.learning_rate"),
        ("model.calibration=beta", "model.calibration"),
        ("features.peer_leader_influence=2", "features.peer_leader_influence"),
        ("data.world.key_share=1.5", "data.world.key_share"),
        ("data.delimiter='||'", "data.delimiter"),
        ("tune.n_trials=0", "tune.n_trials"),
        ("score.as_of=July", "score.as_of"),
        ("today=yesterday", "today"),
    ],
)
def test_every_constraint_is_checked_once_when_the_config_is_built(override: str, key: str):
    """One validator at the config boundary, one message shape: "`key` must …; got …"."""
    import re

    from churnml.cli import compose_config
    from churnml.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        compose_config([override])
    assert re.fullmatch(rf"`{re.escape(key)}` must .+; got .+", str(err.value)), str(err.value)


@pytest.mark.parametrize(
    "key, nearest",
    [("labels.horizn", "labels.horizon_months"), ("+model.churn.num_leafs", "model.churn.num_leaves"),
     ("lables.horizon_months", "labels"), ("data.tables.orders.colums.x", "data.tables.orders.columns")],
)
def test_an_unknown_key_names_the_nearest_setting(key, nearest):
    from churnml.config import unknown_setting

    message = unknown_setting(key, groups=("labels", "model", "data"))
    assert message is not None and f"did you mean `{nearest}`" in message


@pytest.mark.parametrize(
    "key",
    ["labels.horizon_months", "+data.tables.orders.columns.customer_no", "score.weights.influence",
     "data.accounts", "experiment", "hydra.job.name", "model.gate.take_champion", "data.world.size_sigma"],
)
def test_every_real_setting_passes(key):
    from churnml.config import unknown_setting

    assert unknown_setting(key, groups=("labels", "model", "data")) is None


def test_a_setting_of_another_data_option_is_unknown_there():
    from churnml.config import unknown_setting

    assert unknown_setting("data.accounts", "synthetic") is None
    assert "`data` has no `accounts`" in unknown_setting("data.accounts", "files")
