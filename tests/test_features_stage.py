"""`churnml features`: reads the tables, writes features.parquet and the feature dictionary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churnml.cli import main
from churnml.features import FEATURES, feature_columns
from churnml.features.dictionary import FAMILIES
from churnml.io import write_frame
from helpers.features_tables import random_tables

TODAY = "2026-11-27"


def _write(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_frame(frame, folder / f"{name}.parquet")


def _run(root: Path, *overrides: str) -> int:
    return main(["features", f"paths.root={root}", "data=files", "data.format=parquet", f"today={TODAY}", *overrides])


def _log(root: Path) -> str:
    return "\n".join(p.read_text() for p in (root / "outputs").rglob("features.log"))


def test_features_stage_writes_the_frame_and_the_dictionary(tmp_path: Path):
    world = random_tables(1)
    _write(world, tmp_path / "data" / "raw")
    assert _run(tmp_path) == 0
    out = tmp_path / "data" / "features" / "raw"  # data.name: the folder's name
    frame = pd.read_parquet(out / "features.parquet")
    assert list(frame.columns[:5]) == ["account_id", "snapshot", "in_scope", "recently_lost", "labelled"]
    assert {"revenue_12m", "usual_monthly_revenue", "churn", "switch"} <= set(frame.columns)
    assert frame["industry"].dtype == "category"
    assert frame.groupby("snapshot").size().sum() == len(frame) > 0
    dictionary = pd.read_csv(out / "feature_dictionary.csv")
    assert list(dictionary["name"]) == feature_columns(frame)
    assert dictionary["description"].str.len().gt(0).all() and dictionary["reason"].str.len().gt(0).all()
    assert set(dictionary["family"]) == set(FAMILIES)
    text = _log(tmp_path)
    assert f"{len(frame)} rows" in text and "built in" in text
    first = frame["snapshot"].min().strftime("%Y-%m")
    assert f"{first}: " in text and "churn" in text and "switch" in text
    assert not list(out.glob("*.tmp*"))  # nothing half-written left behind


def test_features_stage_with_only_accounts_and_orders(tmp_path: Path):
    world = random_tables(2)
    _write({"accounts": world["accounts"], "orders": world["orders"]}, tmp_path / "data" / "raw")
    assert _run(tmp_path) == 0
    frame = pd.read_parquet(tmp_path / "data" / "features" / "raw" / "features.parquet")
    assert {FEATURES[c].family for c in feature_columns(frame)} == {"orders", "account", "peers"}
    assert frame["churn"].notna().any()


def test_features_stage_orders_only_option(tmp_path: Path):
    _write(random_tables(2), tmp_path / "data" / "raw")
    assert _run(tmp_path, "features=orders_only") == 0
    frame = pd.read_parquet(tmp_path / "data" / "features" / "raw" / "features.parquet")
    assert {FEATURES[c].family for c in feature_columns(frame)} == {"orders", "account"}


def test_features_stage_on_an_empty_synthetic_folder_says_to_generate(tmp_path: Path):
    code = main(["features", f"paths.root={tmp_path}", f"today={TODAY}"])
    assert code == 2
    assert "churnml generate" in _log(tmp_path)
    assert not (tmp_path / "data" / "features").exists()


@pytest.mark.parametrize("override, named", [("labels.horizon_months=0", "labels.horizon_months"),
                                             ("features.families=[orders,tea_leaves]", "features.families")])
def test_features_stage_bad_settings_exit_2(tmp_path: Path, override, named):
    _write(random_tables(1), tmp_path / "data" / "raw")
    assert _run(tmp_path, override) == 2
    assert named in _log(tmp_path)
