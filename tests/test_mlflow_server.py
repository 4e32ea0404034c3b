"""`mlflow=server` against a real tracking server: `mlflow server` on 127.0.0.1 with its store in
PostgreSQL (a database of its own, dropped afterwards) and a local artifact root. The whole chain
is tracked there as with SQLite: the run, both models registered, `@champion`, the export, the
list scored with the champion; a server that is down answers within seconds. Skipped, with the
reason, where PostgreSQL does not answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.databases import POSTGRES, why_no_server

pytestmark = [pytest.mark.slow, pytest.mark.database]
CHURNML = Path(sys.executable).parent / "churnml"
SMALL = ["data.accounts=300", "data.months=36", "model.num_threads=1", "today=2026-11-27"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import sqlalchemy as sa

    why = why_no_server(POSTGRES)
    if why:
        pytest.skip(why)
    database = f"churnml_mlflow_{os.getpid()}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database}"))
        conn.execute(sa.text(f"CREATE DATABASE {database}"))
    store = sa.engine.make_url(POSTGRES).set(database=database).render_as_string(hide_password=False)
    artifacts = tmp_path_factory.mktemp("artifacts")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mlflow = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen(
        [str(mlflow), "server", "--backend-store-uri", store, "--artifacts-destination", str(artifacts),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited: {proc.stderr.read()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start within 90 s")
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        admin.dispose()


def test_the_whole_chain_is_tracked_in_a_server_on_postgresql(server, tmp_path):
    from mlflow import MlflowClient

    proc = subprocess.run([str(CHURNML), "run", "mlflow=server", f"mlflow.tracking_uri={server}",
                           f"paths.root={tmp_path}", *SMALL], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    client = MlflowClient(server, registry_uri=server)
    champion = client.get_model_version_by_alias("churnml-churn", "champion")
    assert client.get_model_version_by_alias("churnml-switching", "champion").run_id == champion.run_id
    assert "AUC" in champion.description
    experiment = client.get_experiment_by_name("churnml")
    stages = {r.data.tags.get("churnml.stage") for r in client.search_runs([experiment.experiment_id])}
    assert {"train", "score"} <= stages
    (month,) = [p for p in (tmp_path / "data" / "scores").iterdir() if p.is_dir()]
    assert (month / "risk_list.parquet").is_file() and (tmp_path / "models" / "champion.json").is_file()
    # The scoring run used the registered champion, loaded from the server's artifact store.
    scored = client.search_runs([experiment.experiment_id], "tags.`churnml.stage` = 'score'")
    assert scored[0].data.tags["churnml.model_version"] == champion.version

    # Training again with nothing changed adds no version on the server either.
    before = len(client.search_model_versions("name = 'churnml-churn'"))
    again = subprocess.run([str(CHURNML), "train", "mlflow=server", f"mlflow.tracking_uri={server}",
                            f"paths.root={tmp_path}", *SMALL], capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "nothing changed since champion version" in again.stdout + again.stderr
    assert len(client.search_model_versions("name = 'churnml-churn'")) == before


def test_a_server_that_is_down_answers_within_seconds(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    started = time.perf_counter()
    proc = subprocess.run([str(CHURNML), "score", "mlflow=server", f"mlflow.tracking_uri=http://127.0.0.1:{port}",
                           f"paths.root={tmp_path}", *SMALL], capture_output=True, text=True, timeout=120)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 1 and time.perf_counter() - started <= 15, said
    assert [line for line in said.splitlines() if "[ERROR]" in line] == [
        line for line in said.splitlines() if "cannot reach the MLflow tracking server" in line and "[ERROR]" in line]
    assert "Traceback" not in said
