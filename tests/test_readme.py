"""Every command the README shows is run here (or by `make run` / `make test` in CI).

The README's example paths (`/srv/exports/crm`) point at a small CSV extract made in a tmp
project, and every `churnml` command runs with `paths.root=<tmp>` and a small world, in the order
the README gives them. Each must exit 0.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from helpers.spark import why_no_spark

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SMALL = ["data.accounts=300", "data.months=48"]
EXTRACT = "/srv/exports/crm"

pytestmark = pytest.mark.slow


def readme_commands() -> list[str]:
    """Shell commands in the README's ```bash blocks and its bare ``` blocks (comments
    stripped), in order; yaml blocks and the layout tree are not commands."""
    commands, language = [], None
    for raw in README.read_text().splitlines():
        line = raw.strip()
        if line.startswith("```"):
            language = line[3:] if language is None else None
            continue
        if language == "bash" or (language == "" and "churnml" in line):
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def churnml_part(command: str) -> list[str] | None:
    """The `churnml <stage> …` invocation inside a README line (also inside the cron entry)."""
    match = re.search(
        r"(?:^|/|\s)(churnml\s+(?:--help|[a-z]+)(?:\s[^|>&]*)?)$|(?:^|/|\s)(churnml\s+(?:--help|[a-z]+)\s[^|>&]*)", command
    )
    if not match:
        return None
    return shlex.split((match.group(1) or match.group(2)).strip())


def test_readme_lists_the_two_commands_first():
    commands = readme_commands()
    assert commands[:2] == ["make run", "make test"]


def test_every_readme_command_runs(tmp_path: Path):
    project = tmp_path / "project"
    extract = tmp_path / "crm"
    churnml = [sys.executable, "-m", "churnml.cli"]

    def run(argv: list[str]) -> subprocess.CompletedProcess:
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}\n{proc.stderr[-3000:]}"
        return proc

    # A small CSV extract standing in for the user's /srv/exports/crm, plus the ERP-named copy of
    # the orders that the column-mapping example reads.
    run([*churnml, "generate", f"paths.root={tmp_path / 'gen'}", f"data.dir={extract}", "data.format=csv", *SMALL])
    orders = pd.read_csv(extract / "orders.csv", dtype=str)
    orders.rename(columns={"account_id": "customer_no"}).to_csv(extract / "order_lines.csv", index=False)

    ran = 0
    for command in readme_commands():
        if command.startswith("make "):
            target = command.split()[1]
            if target in ("run", "test"):
                continue  # CI runs exactly these two
            subprocess.run(["make", "-n", target], cwd=ROOT, check=True, capture_output=True)
            continue
        if "mlflow ui" in command:
            _check_mlflow_ui(project)
            continue
        argv = churnml_part(command)
        assert argv is not None, f"README shows a command this test does not know how to run: {command}"
        if "engine=spark" in argv and why_no_spark():
            print(f"skipped `{command}`: {why_no_spark()}")
            continue
        if "data=northwind" in argv:
            from helpers.databases import northwind_in_mariadb, northwind_in_postgres

            why = northwind_in_mariadb() if any("mysql" in a for a in argv) else northwind_in_postgres()
            if why:
                print(f"skipped `{command}`: {why}")
                continue
        args = [a.replace(EXTRACT, str(extract)) for a in argv[1:]]
        extra = [f"paths.root={project}"]
        if "data=files" not in args and "data=northwind" not in args:
            extra += SMALL
        run([*churnml, *args, *extra])
        ran += 1
    assert ran >= 15
    assert (project / "conf" / "experiment" / "tuned.yaml").exists()
    assert any((project / "data" / "scores").glob("*/risk_list.xlsx"))


def _check_mlflow_ui(project: Path) -> None:
    """`mlflow ui` on the project's store serves its page (loopback only, stopped after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mlflow = Path(sys.executable).parent / "mlflow"
    server = subprocess.Popen(
        [str(mlflow), "ui", "--backend-store-uri", f"sqlite:///{project}/mlflow.db",
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    assert page.status == 200
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
