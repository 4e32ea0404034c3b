"""Failures that say what failed: a tracking server or a database that cannot be reached ends in
seconds with one line naming it, exit 1, and the traceback only in the run's log file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

CHURNML = Path(sys.executable).parent / "churnml"


def run(root: Path, *args: str) -> tuple[int, str, float]:
    began = time.perf_counter()
    done = subprocess.run([str(CHURNML), *args, f"paths.root={root}"], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - began


def test_an_unreachable_tracking_server_fails_fast_with_one_line(tmp_path):
    code, out, seconds = run(tmp_path, "train", "mlflow.tracking_uri=http://127.0.0.1:9", "data.accounts=50",
                             "data.months=12", "today=2026-11-27")
    assert code == 1 and seconds < 15
    assert "cannot reach the MLflow tracking server at http://127.0.0.1:9" in out
    assert "Traceback" not in out
    (log,) = (tmp_path / "outputs").rglob("train.log")
    assert "Traceback" in log.read_text() and "ServiceUnavailable" in log.read_text()
    # It failed before any work: no world generated, no model anywhere.
    assert not (tmp_path / "data").exists() and not (tmp_path / "models").exists()


def test_an_unreachable_database_fails_fast_with_one_line_and_no_password(tmp_path):
    code, out, seconds = run(tmp_path, "validate", "data=sql", "data.url=postgresql+pg8000://ops:s3cret@127.0.0.1:9/sales")
    assert code == 1 and seconds < 15
    assert "cannot reach the database at data.url=postgresql+pg8000://ops:***@127.0.0.1:9/sales" in out
    assert "s3cret" not in out and "Traceback" not in out
