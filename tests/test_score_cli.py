"""`churnml train` then `churnml score` through the CLI with the real MLflow registry (SQLite in a
tmp dir): the default `@champion`, the tracked scoring run, the export fallback, exit code 3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from churnml.cli import main

pytestmark = pytest.mark.slow

TODAY = "2025-07-15"
SECRET_NAME = "Zorblax Quintavius"
SECRET_MAIL = "secret-mail.example"
FAST = ["model.churn.n_estimators=60", "model.switching.n_estimators=40", "model.backtest_folds=2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A root with a small world (planted contact details) and models trained by `churnml train`."""
    from churnml import io
    from churnml.data.synthetic import generate_world

    root = tmp_path_factory.mktemp("cliroot")
    world = generate_world(accounts=120, months=30, seed=5, today=TODAY)
    world.tables["contacts"]["full_name"] = SECRET_NAME
    world.tables["contacts"]["email"] = f"someone@{SECRET_MAIL}"
    io.write_tables(world.tables, root / "data" / "raw", "parquet", truth=world.truth)
    assert main(["train", f"paths.root={root}", f"today={TODAY}", *FAST]) == 0
    return root


@pytest.fixture(scope="module")
def scored(trained) -> Path:
    assert main(["score", f"paths.root={trained}", f"today={TODAY}"]) == 0
    return trained


def latest_month(root: Path) -> Path:
    return sorted((root / "data" / "scores").iterdir())[-1]


def test_default_scores_with_the_registered_champion(scored):
    out = latest_month(scored)
    page = (out / "report.html").read_text()
    assert "churnml-churn v1" in page and "models:/churnml-churn@champion" in page
    assert "oot/auc" in page
    rl = pd.read_parquet(out / "risk_list.parquet")
    assert len(rl) > 10 and rl["switching_cost"].notna().any()


def test_the_scoring_run_is_tracked_with_version_distribution_and_psi(scored):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{scored}/mlflow.db")
    exp = client.get_experiment_by_name("churnml")
    runs = client.search_runs([exp.experiment_id], filter_string="tags.`churnml.stage` = 'score'")
    assert len(runs) == 1
    run = runs[0]
    out = latest_month(scored)
    assert run.data.tags["churnml.as_of"] == out.name
    assert run.data.tags["churnml.model_version"] == "1"
    rl = pd.read_parquet(out / "risk_list.parquet")
    assert run.data.metrics["score/accounts"] == len(rl)
    assert run.data.metrics["score/mean"] == pytest.approx(rl["churn_probability"].mean())
    psi = {k[4:]: v for k, v in run.data.metrics.items() if k.startswith("psi/")}
    assert len(psi) > 20
    over = sorted(k for k, v in psi.items() if v > 0.25)
    drift = run.data.tags["churnml.drift_warning"]
    assert (drift == "none") == (not over)
    if over:
        assert sorted(drift.split(", ")) == over
        page = (out / "report.html").read_text()
        assert all(f"<b>{f}</b>" in page for f in over)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"outputs", "psi.csv", "score_histogram.csv"} <= artifacts


def test_no_contact_details_in_logs_or_tracked_artifacts(scored):
    texts = [p.read_text(errors="replace") for p in (scored / "outputs").rglob("*.log")]
    for p in (scored / "mlartifacts").rglob("*"):
        if p.is_file() and p.suffix in (".csv", ".html", ".json", ".yaml", ".txt"):
            texts.append(p.read_text(errors="replace"))
    for p in latest_month(scored).iterdir():
        texts.append(p.read_bytes().decode("latin-1"))
    blob = "\n".join(texts)
    for secret in (SECRET_NAME, SECRET_MAIL, "full_name"):
        assert secret not in blob


def test_a_score_with_a_previous_list_logs_no_third_party_chatter(scored, capfd):
    # The charts of changes since the previous list are drawn with category axes: matplotlib
    # logs an INFO line for each; none of them reaches the log or the console.
    month = latest_month(scored).name
    earlier = (pd.Period(month, "M") - 1).strftime("%Y-%m")
    assert main(["score", f"paths.root={scored}", f"today={TODAY}", f"score.as_of={earlier}"]) == 0
    assert main(["score", f"paths.root={scored}", f"today={TODAY}"]) == 0
    out = capfd.readouterr()
    logs = sorted((scored / "outputs").rglob("*.log"), key=lambda p: p.stat().st_mtime)
    text = logs[-1].read_text()
    assert "comparing with the list of" in text
    assert "matplotlib" not in text and "matplotlib" not in out.out + out.err


def test_a_forced_model_is_one_warning_in_the_log(scored, capfd):
    capfd.readouterr()
    assert main(["score", f"paths.root={scored}", f"today={TODAY}", "score.model_uri=models:/churnml-churn/1"]) == 0
    out = capfd.readouterr()
    logs = sorted((scored / "outputs").rglob("score.log"), key=lambda p: p.stat().st_mtime)
    forced = [line for line in logs[-1].read_text().splitlines() if "named by score.model_uri" in line
              or "(score.model_uri)" in line]
    assert len(forced) == 1 and "[WARNING]" in forced[0], forced
    assert "baseline_" not in forced[0]  # words for sales ops, no internal names
    page = (latest_month(scored) / "report.html").read_text()
    assert "named by score.model_uri" in page or "(score.model_uri)" in page
    assert forced[0] in out.out + out.err or forced[0].split(" - ", 1)[1] in out.out + out.err
    # The default champion is no forced model: nothing said.
    assert main(["score", f"paths.root={scored}", f"today={TODAY}"]) == 0
    logs = sorted((scored / "outputs").rglob("score.log"), key=lambda p: p.stat().st_mtime)
    assert "score.model_uri" not in logs[-1].read_text()


def test_without_a_registry_the_export_is_used(scored, tmp_path):
    for name in ("data", "models"):
        shutil.copytree(scored / name, tmp_path / name)
    shutil.rmtree(tmp_path / "data" / "scores")
    assert main(["score", f"paths.root={tmp_path}", f"today={TODAY}"]) == 0
    page = (latest_month(tmp_path) / "report.html").read_text()
    version = json.loads((tmp_path / "models" / "champion.json").read_text())["churn_version"]
    assert f"v{version}" in page and str(tmp_path / "models" / "churn") in page


def test_a_tracking_server_that_is_down_falls_back_to_the_export(scored, tmp_path):
    for name in ("data", "models"):
        shutil.copytree(scored / name, tmp_path / name)
    shutil.rmtree(tmp_path / "data" / "scores")
    down = "mlflow.tracking_uri=http://127.0.0.1:9"
    # The list still goes out from the exported champion; only its tracking run is missing.
    assert main(["score", f"paths.root={tmp_path}", f"today={TODAY}", down]) == 0
    page = (latest_month(tmp_path) / "report.html").read_text()
    assert str(tmp_path / "models" / "churn") in page


def test_no_registry_and_no_export_exits_3(scored, tmp_path, capsys):
    shutil.copytree(scored / "data" / "raw", tmp_path / "data" / "raw")
    assert main(["score", f"paths.root={tmp_path}", f"today={TODAY}"]) == 3
    out = capsys.readouterr()
    assert "churnml train" in out.out + out.err
    # Each thing said once: the hint to train is not repeated.
    assert (out.out + out.err).count("train one with `churnml train`") == 1


def test_a_data_folder_that_does_not_exist_is_bad_input_not_a_missing_model(scored, tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "folder"
    assert main(["score", f"paths.root={tmp_path}", f"today={TODAY}", "data=files", f"data.dir={missing}"]) == 2
    out = capsys.readouterr()
    text = out.out + out.err
    assert "`data.dir` must be a folder holding the export's tables" in text and str(missing) in text
    assert "Traceback" not in text
    assert not (tmp_path / "data").exists() and not (tmp_path / "mlflow.db").exists()
