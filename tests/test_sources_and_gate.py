"""Models know their data, and a model earns its place: one project holds the demo and a user's
export without mixing them; a model that does not beat the best baseline beyond the noise leaves
the list to that baseline, and the list says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.config import DataConfig, ModelConfig
from churnml.data.source import DataSource, data_source, source_name
from churnml.errors import ConfigError
from churnml.models.gate import baseline_check

TODAY = "2026-11-27"
SMALL = ["data.accounts=300", "data.months=36", "model.num_threads=1", f"today={TODAY}"]


def test_default_names_keep_sources_apart():
    assert source_name("synthetic", "/x/data/raw", None) == ""
    assert source_name("files", "/srv/exports/ACME CRM", None) == "acme-crm"
    assert source_name("sql", None, "postgresql://u:pw@db.local:5432/sales_dw") == "sales_dw"
    assert source_name("sql", None, "postgresql://u:pw@db.local/crm?sslmode=require") == "crm"
    demo = DataSource("synthetic", "/p/data/raw", "")
    crm = DataSource("files", "/srv/exports/crm", "crm")
    assert demo.alias("champion") == "champion" and crm.alias("champion") == "champion-crm"
    # Identity is kind and name: next month's export may land in another folder.
    assert crm.matches({"kind": "files", "location": "/srv/exports/2024-08/crm", "name": "crm"})
    assert not crm.matches({"kind": "synthetic", "name": "crm"}) and not crm.matches(None)


def test_a_run_name_says_what_changed_but_not_where_things_are():
    from datetime import datetime

    from churnml.data.source import run_name

    crm = DataSource("files", "/srv/exports/crm", "crm")
    at = datetime(2026, 12, 7, 18, 51)
    assert run_name("train", crm, at) == "train crm 2026-12-07 18:51"
    named = run_name("train", crm, at, ("data=files", "data.dir=/srv/exports/crm", "paths.root=/p",
                                        "features=orders_only", "+labels.horizon_months=3"))
    assert named == "train crm data=files features=orders_only +labels.horizon_months=3 2026-12-07 18:51"
    long = run_name("train", crm, at, tuple(f"model.churn.num_leaves={i}" for i in range(40)))
    assert len(long) < 160 and long.endswith("… 2026-12-07 18:51")


def test_the_account_sketch_tells_the_same_accounts_from_other_ones():
    from churnml.data.source import account_fingerprint, check_same_accounts, share_of_accounts_present

    ids = pd.Series([f"K{i:05d}" for i in range(5000)])
    recorded = {"kind": "files", "location": "/x", "name": "crm", **account_fingerprint(ids)}
    assert len(recorded["accounts_sketch"]) == 256 and recorded["accounts"] == 5000
    # Next month: a few accounts gone, a few new ones.
    later = pd.concat([ids.iloc[300:], pd.Series([f"N{i}" for i in range(400)])])
    assert share_of_accounts_present(recorded, later) > 0.85
    check_same_accounts(recorded, later, "the model")
    other = pd.Series([f"X{i:05d}" for i in range(5000)])
    assert share_of_accounts_present(recorded, other) == 0.0
    with pytest.raises(ConfigError, match="only about 0% of its accounts are in this data"):
        check_same_accounts(recorded, other, "the model")


def test_a_bad_data_name_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="`data.name` must be letters, digits"):
        data_source(DataConfig(source="files", dir=str(tmp_path), name="my crm/2024"))


def _scores(model, baseline, churn, months=None):
    n = len(churn)
    return pd.DataFrame({"account_id": [f"A{i % 6}" for i in range(n)], "churn": churn,
                         "snapshot": months if months is not None else pd.Timestamp("2024-01-01"),
                         "model": model, "baseline_rfm": baseline, "baseline_recency": -np.asarray(model)})


def _metrics(scores):
    from churnml.evaluate import month_auc

    return {who: {"auc": month_auc(scores["churn"], scores[who], scores["snapshot"])}
            for who in ("model", "baseline_rfm", "baseline_recency")}


def test_a_model_that_orders_every_pair_right_wins_beyond_any_noise():
    churn = np.array([1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0], dtype=float)
    right, wrong = churn * 0.8 + 0.1, 1.0 - (churn * 0.8 + 0.1)
    scores = _scores(right, wrong, churn)
    check = baseline_check(scores, _metrics(scores), rounds=200, seed=1)
    # AUC 1 against 0 in every resample that holds both classes: the interval is one point
    assert (check.auc, check.baseline, check.baseline_auc) == (1.0, "baseline_rfm", 0.0)
    assert (check.low, check.high) == (1.0, 1.0)
    assert check.passed and check.ranked_by == "model" and "the model wins" in check.describe()


def test_the_same_ranking_is_a_tie_and_a_tie_goes_to_the_baseline():
    churn = np.array([0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 1], dtype=float)
    score = np.linspace(0.1, 0.9, 12)
    scores = _scores(score, score * 0.5, churn)  # another scale, the same order
    check = baseline_check(scores, _metrics(scores), rounds=200, seed=1)
    assert (check.low, check.high) == (0.0, 0.0) and check.verdict == "tie"
    assert not check.passed and check.ranked_by == "baseline_rfm"
    assert "a tie within the noise, so the simpler model, the baseline, ranks the list" in check.describe()
    # Without rounds nothing shows the model better: the simpler model ranks.
    assert baseline_check(scores, _metrics(scores), rounds=0).ranked_by == "baseline_rfm"


def test_a_small_lead_inside_the_noise_is_a_tie_and_a_large_one_wins():
    rng = np.random.default_rng(3)
    churn = (rng.random(600) < 0.3).astype(float)
    base = churn * 0.6 + rng.normal(0, 1, 600)
    months = np.repeat(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]), 200)
    slightly = _scores(churn * 0.65 + rng.normal(0, 1, 600), base, churn, months)
    check = baseline_check(slightly, _metrics(slightly), rounds=500, seed=0)
    assert check.low < 0 < check.high and check.verdict == "tie", check.describe()
    better = _scores(churn * 2.0 + rng.normal(0, 1, 600), base, churn, months)
    check = baseline_check(better, _metrics(better), rounds=500, seed=0)
    assert 0 < check.low < check.gain < check.high and check.passed, check.describe()


@given(st.integers(0, 10_000), st.integers(5, 60))
@settings(max_examples=40, deadline=None)
def test_the_bootstrap_auc_is_sklearns_weighted_auc(seed, n):
    from sklearn.metrics import roc_auc_score

    from churnml.models.gate import _weighted_auc

    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    y[:2] = [0.0, 1.0]
    score = np.round(rng.random(n), 1)  # ties on purpose
    weights = rng.integers(1, 4, size=(3, n)).astype(float)
    expected = [roc_auc_score(y, score, sample_weight=w) for w in weights]
    assert np.allclose(_weighted_auc(y, score, weights), expected)


def test_a_model_on_labels_independent_of_its_features_does_not_pass():
    from churnml.models.training import train_models
    from helpers.churn_frames import FEATURES, feature_frame

    frame, offers, cost = feature_frame(n_accounts=300, n_snapshots=30, seed=5)
    rng = np.random.default_rng(0)
    labelled = frame["churn"].notna()
    frame.loc[labelled, "churn"] = (rng.random(int(labelled.sum())) < 0.1).astype(float)
    result = train_models(frame, FEATURES, ModelConfig(num_threads=1), 6, offers)
    assert not result.baseline.passed, result.baseline.describe()


# ----------------------------------------------------------------------------------------------
# From the command line, as a user meets it
# ----------------------------------------------------------------------------------------------


def _export(world, folder: Path, months: int = 18, keep=("accounts", "orders")) -> Path:
    from churnml.data.extracts import cut_extract
    from churnml.io import write_frame

    folder.mkdir(parents=True)
    for name, frame in cut_extract(world.tables, months, keep=keep).items():
        write_frame(frame, folder / f"{name}.csv")
    return folder


def _digest(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "report.html"}


@pytest.mark.slow
def test_the_readme_order_demo_then_an_export_in_the_same_project(tmp_path, capfd, small_world):
    from churnml.cli import main

    root = tmp_path / "project"
    assert main(["run", f"paths.root={root}", *SMALL]) == 0
    (demo_month,) = [p for p in (root / "data" / "scores").iterdir() if p.is_dir()]
    demo_files = _digest(demo_month)
    demo_champion = json.loads((root / "models" / "champion.json").read_text())

    # Every table of the key-account file, two years of it.
    export = _export(small_world, tmp_path / "acme_erp", months=24, keep=tuple(small_world.tables))
    capfd.readouterr()
    common = [f"paths.root={root}", "data=files", f"data.dir={export}", "model.num_threads=1", f"today={TODAY}"]
    assert main(["run", *common]) == 0
    out = capfd.readouterr()
    assert "champion gate (acme_erp)" in out.out + out.err

    # The export has its own list, model and alias; the demo's are untouched.
    (month,) = [p for p in (root / "data" / "scores" / "acme_erp").iterdir() if p.is_dir()]
    assert (month / "risk_list.parquet").is_file()
    assert _digest(demo_month) == demo_files
    assert json.loads((root / "models" / "champion.json").read_text()) == demo_champion
    mine = json.loads((root / "models" / "acme_erp" / "champion.json").read_text())
    assert mine["source"]["kind"] == "files" and mine["source"]["location"] == str(export.resolve())
    assert mine["churn_version"] != demo_champion["churn_version"]
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    assert str(client.get_model_version_by_alias("churnml-churn", "champion-acme_erp").version) == mine["churn_version"]
    assert str(client.get_model_version_by_alias("churnml-churn", "champion").version) == demo_champion["churn_version"]
    # The export's list was scored by the export's model.
    runs = client.search_runs([client.get_experiment_by_name("churnml").experiment_id],
                              "tags.`churnml.stage` = 'score' and tags.`data.name` = 'acme_erp'")
    assert runs and runs[0].data.tags["churnml.model_version"] == mine["churn_version"]
    assert runs[0].info.run_name.startswith("score ") and " acme_erp " in runs[0].info.run_name

    # Forcing the demo's model onto the export's accounts is refused, naming both sources.
    capfd.readouterr()
    code = main(["score", *common, f"score.model_uri=models:/churnml-churn/{demo_champion['churn_version']}"])
    out = capfd.readouterr()
    assert code == 2
    assert "synthetic" in out.out + out.err and str(export.resolve()) in out.out + out.err
    # Other accounts under the export's name (another business unit's file in that folder) too.
    from churnml.data.synthetic import generate_world

    other = generate_world(accounts=300, months=36, seed=11, today=TODAY)
    for name in ("accounts", "orders"):
        other.tables[name]["account_id"] = "X" + other.tables[name]["account_id"].astype(str)
    moved = _export(other, tmp_path / "elsewhere" / "acme_erp", months=24)
    code = main(["score", f"paths.root={root}", "data=files", f"data.dir={moved}", f"today={TODAY}"])
    out = capfd.readouterr()
    assert code == 2 and "of its accounts are in this data" in out.out + out.err


@pytest.mark.slow
def test_a_model_that_does_not_beat_the_baselines_leaves_the_list_to_the_best_one(tmp_path, capfd, small_world):
    from churnml.cli import main

    export = _export(small_world, tmp_path / "erp")
    common = [f"paths.root={tmp_path}", "data=files", f"data.dir={export}", "model.num_threads=1", f"today={TODAY}"]
    # With no bootstrap round nothing shows the model better than the best baseline: a tie,
    # and a tie goes to the simpler model.
    assert main(["train", *common, "model.gate.bootstrap_rounds=0"]) == 0
    out = capfd.readouterr()
    assert "the list is ranked by baseline_" in out.out + out.err
    assert (tmp_path / "models" / "erp" / "champion.json").exists()
    assert main(["score", *common]) == 0
    out = capfd.readouterr()
    assert "WARNING" in out.out + out.err and "This list is ranked by the " in out.out + out.err
    (month,) = [p for p in (tmp_path / "data" / "scores" / "erp").iterdir() if p.is_dir()]
    page = (month / "report.html").read_text()
    assert "This list is ranked by the " in page[: page.index("<table")]
    listed = pd.read_parquet(month / "risk_list.parquet")
    # the baseline ranks, the LightGBM model still gives the reasons
    assert listed["churn_probability"].notna().all() and (listed["reason_1"].fillna("") != "").any()
    from openpyxl import load_workbook

    summary = load_workbook(month / "risk_list.xlsx")["Summary"]
    assert any("This list is ranked by the " in str(c.value) for row in summary.iter_rows(max_row=8) for c in row)


@pytest.mark.slow
def test_a_failed_score_leaves_no_tracking_store_behind(tmp_path, small_world):
    from churnml.cli import main

    export = _export(small_world, tmp_path / "erp", months=12)
    code = main(["score", f"paths.root={tmp_path}", "data=files", f"data.dir={export}", f"today={TODAY}"])
    assert code == 3
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "data" / "scores").exists()


@pytest.mark.slow
def test_a_comparison_experiment_never_takes_the_champion_in_either_order(tmp_path, capfd, small_world):
    import subprocess
    import sys

    from mlflow import MlflowClient

    from churnml.cli import main

    export = _export(small_world, tmp_path / "erp", months=30, keep=tuple(small_world.tables))

    def champion(root: Path) -> tuple[str, str]:
        store = f"sqlite:///{root}/mlflow.db"
        client = MlflowClient(store, registry_uri=store)
        version = client.get_model_version_by_alias("churnml-churn", "champion-erp")
        return str(version.version), client.get_run(version.run_id).info.run_name

    common = ["data=files", f"data.dir={export}", "model.num_threads=1", f"today={TODAY}"]
    root = tmp_path / "one"
    assert main(["train", f"paths.root={root}", *common]) == 0
    before = champion(root)
    # Printed to a pipe (80 columns): every scorer's name whole, so none reads like another.
    printed = capfd.readouterr().out
    from churnml.models.baselines import NAMES

    assert all(f" {name} " in printed for name in NAMES), printed
    assert main(["train", f"paths.root={root}", *common, "experiment=orders_only"]) == 0
    out = capfd.readouterr()
    assert champion(root) == before
    said = out.out + out.err
    assert "cannot be compared" in said and "model.gate.take_champion=true" in said
    assert "is @challenger-erp" in said

    # The README's multirun: the full model stays champion.
    root = tmp_path / "two"
    subprocess.run([sys.executable, "-m", "churnml.cli", "train", "-m", "features=all,orders_only",
                    f"paths.root={root}", *common], check=True, capture_output=True, text=True)
    version, name = champion(root)
    assert "features=all" in name, name
    # The other order: the full model is measured against the orders-only champion on the same rows
    # (it has every feature that one needs), and takes its place only by winning beyond the noise.
    root = tmp_path / "three"
    proc = subprocess.run([sys.executable, "-m", "churnml.cli", "train", "-m", "features=orders_only,all",
                           f"paths.root={root}", *common], check=True, capture_output=True, text=True)
    (second,) = [line for line in (proc.stdout + proc.stderr).splitlines() if "vs champion version 1" in line]
    assert ("better beyond the noise" in second) == ("features=all" in champion(root)[1]), second
