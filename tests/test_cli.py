"""The `churnml` command: help, stages, config errors and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from churnml.cli import STAGES, main


def test_help_lists_every_stage(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for stage in ["generate", "validate", "features", "train", "tune", "evaluate", "score", "run"]:
        assert stage in out
    assert set(STAGES) == {"generate", "validate", "features", "train", "tune", "evaluate", "score", "run"}


def test_unknown_stage_exits_2(capsys):
    assert main(["trian"]) == 2
    err = capsys.readouterr().err
    assert "trian" in err and "train" in err


@pytest.mark.parametrize("typo", ["labels.horizn=3", "+labels.horizn=3", "++labels.horizn=3"])
def test_unknown_override_key_exits_2_and_names_the_nearest_setting(tmp_path: Path, typo: str):
    # Hydra would advise `+labels.horizn=3`, which it then accepts: the run would train a model
    # with the horizon unchanged. Neither form passes.
    proc = subprocess.run(
        [sys.executable, "-m", "churnml.cli", "train", f"paths.root={tmp_path}", typo],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "`labels.horizn`" in proc.stderr and "did you mean `labels.horizon_months`" in proc.stderr
    assert "use +" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "outputs").exists()


def test_cfg_job_prints_the_resolved_config(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "churnml.cli", "score", f"paths.root={tmp_path}", "--cfg", "job", "--resolve"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"raw: {tmp_path}/data/raw" in proc.stdout
    assert "model_uri: models:/churnml-churn@champion" in proc.stdout


def test_stage_help_is_short_and_the_whole_tree_is_one_flag_away():
    from churnml.cli import COMMON_SETTINGS
    from churnml.errors import exit_codes_line

    proc = subprocess.run(
        [sys.executable, "-m", "churnml.cli", "train", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert len(lines) < 50, len(lines)
    # The groups, without the internal schemas; the settings people change, with their defaults.
    assert "  data: files, northwind, spark_tables, sql, synthetic" in lines and "experiment:" in proc.stdout
    assert "_schema" not in proc.stdout
    for key, _ in COMMON_SETTINGS:
        assert any(line.startswith(f"  {key} ") for line in lines), key
    assert "[6]" in next(line for line in lines if line.startswith("  labels.horizon_months"))
    assert "--help --all" in proc.stdout and "--cfg job --resolve" in proc.stdout
    assert exit_codes_line() in proc.stdout

    full = subprocess.run(
        [sys.executable, "-m", "churnml.cli", "train", "--help", "--all"], capture_output=True, text=True
    )
    assert full.returncode == 0 and "Configuration groups" in full.stdout
    assert "horizon_months: 6" in full.stdout and "_schema" not in full.stdout
    assert len(full.stdout.splitlines()) > 3 * len(lines)


def test_the_readme_exit_code_table_is_the_codes_the_code_uses():
    import re

    from churnml import errors

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = dict(re.findall(r"^\| (\d) \| (.+) \|$", readme, flags=re.M))
    assert {int(c) for c in table} == set(errors.EXIT_CODES)
    # Every error a user can meet exits with a code the table explains, in its words.
    for cls in (errors.ConfigError, errors.ContractError, errors.NoModelError, errors.ServiceUnavailable):
        assert str(cls.exit_code) in table
    assert "bad input or configuration" in table[str(errors.EXIT_BAD_INPUT)]
    assert "no model to score with" in table[str(errors.EXIT_NO_MODEL)]
    assert "cannot be reached" in table[str(errors.EXIT_UNEXPECTED)]
    assert "success" in table["0"]


@pytest.mark.parametrize("stage", ["validate"])
def test_multirun_runs_each_job(tmp_path: Path, stage: str):
    # validate on an empty synthetic folder is a user error (exit 2) in each job; multirun still
    # composes both values, which is what this checks: the sweep is expanded and launched.
    proc = subprocess.run(
        [sys.executable, "-m", "churnml.cli", stage, "-m", f"paths.root={tmp_path}",
         "labels.horizon_months=3,6"],
        capture_output=True,
        text=True,
    )
    assert "labels.horizon_months=3" in proc.stdout + proc.stderr
    assert (tmp_path / "multirun").exists()


def test_experiment_files_under_another_paths_root_are_found(tmp_path: Path):
    # `churnml tune` writes its experiment to <paths.root>/conf/experiment/; it must be usable.
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "mine.yaml").write_text(
        "# @package _global_\nlabels:\n  horizon_months: 4\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "churnml.cli", "train", f"paths.root={tmp_path}", "experiment=mine",
         "--cfg", "job"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "horizon_months: 4" in proc.stdout
