"""`churnml generate` through the real CLI, `ensure_synthetic`, and the config mirror of the world."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from churnml.catalog import ensure_synthetic
from churnml.catalog import write_synthetic_world as generate_to_dir
from churnml.cli import conf_dir, main, register_configs, to_config
from churnml.config import Config, DataConfig, SyntheticDataConfig
from churnml.data.synthetic import TABLE_NAMES
from churnml.data.world_params import WorldParams
from churnml.errors import ConfigError
from churnml.stages import RunContext
from churnml.stages.generate import run_stage
from conftest import SMALL_WORLD_TODAY

SMALL = ["data.accounts=120", "data.months=20", f"today={SMALL_WORLD_TODAY}"]


def test_generate_writes_the_tables_and_the_truth(tmp_path: Path):
    assert main(["generate", f"paths.root={tmp_path}", "data.format=csv", *SMALL]) == 0
    raw = tmp_path / "data" / "raw"
    assert {p.name for p in raw.glob("*.csv")} == {f"{t}.csv" for t in TABLE_NAMES}
    assert {p.name for p in (raw / "truth").iterdir()} == {"hazard.csv", "accounts.csv", "figures.json"}
    figures = json.loads((raw / "truth" / "figures.json").read_text())
    assert 0 < figures["churn_rate"] < 1 and 0.5 <= figures["oracle_auc"] <= 1
    log = next((tmp_path / "outputs").rglob("generate.log")).read_text()
    assert "simulated 120 accounts over 20 months" in log and "oracle AUC" in log
    assert not list(raw.rglob(".*tmp-*"))


def test_validate_accepts_the_world_and_generating_again_replaces_it(tmp_path: Path):
    raw = tmp_path / "data" / "raw"
    data = SyntheticDataConfig(dir=str(raw), format="parquet", accounts=120, months=20, seed=42)
    generate_to_dir(data, date.fromisoformat(SMALL_WORLD_TODAY))
    first = pd.read_parquet(raw / "orders.parquet")
    assert main(["validate", f"paths.root={tmp_path}", *SMALL]) == 0

    data.seed = 43
    generate_to_dir(data, date.fromisoformat(SMALL_WORLD_TODAY))
    assert not pd.read_parquet(raw / "orders.parquet").equals(first)
    assert not list(raw.rglob(".*tmp-*"))


def test_a_bad_world_parameter_exits_2_and_writes_nothing(tmp_path: Path):
    code = main(["generate", f"paths.root={tmp_path}", "data.world.industry_contest=[1.0]", *SMALL])
    assert code == 2
    assert not (tmp_path / "data").exists()
    log = next((tmp_path / "outputs").rglob("generate.log")).read_text()
    assert "data.world.industry_contest" in log


def test_generate_needs_the_synthetic_data_source(tmp_path: Path):
    config = Config(data=DataConfig(source="files", dir=str(tmp_path)))
    ctx = RunContext(stage="generate", config=config, params={}, output_dir=tmp_path)
    with pytest.raises(ConfigError, match="data=synthetic"):
        run_stage(ctx)


def test_ensure_synthetic_generates_only_into_a_folder_without_tables(tmp_path: Path):
    data = SyntheticDataConfig(dir=str(tmp_path / "raw"), accounts=60, months=12, start="2023-01")
    today = date.fromisoformat(SMALL_WORLD_TODAY)
    assert ensure_synthetic(data, today) is True
    figures = json.loads((tmp_path / "raw" / "truth" / "figures.json").read_text())
    assert figures["oracle_auc"] is None  # 12 months: too short for labelled snapshots
    orders = tmp_path / "raw" / "orders.parquet"
    stamp = orders.stat().st_mtime_ns
    assert ensure_synthetic(data, today) is False
    assert orders.stat().st_mtime_ns == stamp
    files = DataConfig(source="files", dir=str(tmp_path / "empty"))
    assert ensure_synthetic(files, today) is False
    assert not (tmp_path / "empty").exists()


def test_conf_mirrors_every_world_parameter():
    register_configs()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = to_config(compose(config_name="config"))
    assert isinstance(cfg.data, SyntheticDataConfig)
    assert cfg.data.world == WorldParams()
    text = (conf_dir() / "data" / "synthetic.yaml").read_text()
    for name in WorldParams.__dataclass_fields__:
        assert f"\n  {name}:" in text, f"conf/data/synthetic.yaml does not list world.{name}"
