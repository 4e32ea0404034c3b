"""The month's outputs are replaced all or nothing (`churnml.io.replace_folder`): a failure or a
kill at any point leaves either the previous complete set or the new complete set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from churnml.io import recover_folder, replace_folder

OLD = {"risk_list.csv": b"old csv\n", "report.html": b"<p>old</p>"}
NEW = {"risk_list.csv": b"new csv\n", "risk_list.parquet": b"PAR1 new", "report.html": b"<p>new</p>"}


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


class FailingFiles(dict):
    """Files whose writing fails after `good` of them: a disk that fills up mid-write."""

    def __init__(self, files, good):
        super().__init__(files)
        self.good = good

    def items(self):
        for i, item in enumerate(super().items()):
            if i == self.good:
                raise OSError(28, "No space left on device")
            yield item


def test_replace_folder_writes_exactly_the_new_files(tmp_path):
    target = tmp_path / "scores" / "2025-07"
    paths = replace_folder(target, OLD)
    assert contents(target) == OLD and set(paths) == set(OLD)
    replace_folder(target, NEW)
    assert contents(target) == NEW  # nothing of the old set is left over
    assert hidden(target.parent) == []


@pytest.mark.parametrize("good", [0, 1, 2])
def test_a_failure_mid_write_leaves_the_previous_outputs_untouched(tmp_path, good):
    target = tmp_path / "2025-07"
    replace_folder(target, OLD)
    with pytest.raises(OSError, match="No space left"):
        replace_folder(target, FailingFiles(NEW, good))
    assert contents(target) == OLD
    assert hidden(tmp_path) == []


def test_a_failure_on_the_first_run_leaves_nothing(tmp_path):
    target = tmp_path / "2025-07"
    with pytest.raises(OSError):
        replace_folder(target, FailingFiles(NEW, 2))
    assert not target.exists() and hidden(tmp_path) == []


def test_a_crash_between_the_renames_is_recovered(tmp_path):
    """Killed after the old folder was renamed away and before the new one moved in."""
    target = tmp_path / "2025-07"
    replace_folder(target, OLD)
    dead = 2**22 + 12345  # above the default pid_max: no such process
    os.rename(target, tmp_path / f".2025-07.old-{dead}-abcd1234")
    (tmp_path / f".2025-07.new-{dead}-abcd1234").mkdir()
    (tmp_path / f".2025-07.new-{dead}-abcd1234" / "risk_list.csv").write_bytes(b"half")
    recover_folder(target)
    assert contents(target) == OLD and hidden(tmp_path) == []
    replace_folder(target, NEW)
    assert contents(target) == NEW


def test_file_names_may_not_leave_the_folder(tmp_path):
    with pytest.raises(ValueError, match="file names"):
        replace_folder(tmp_path / "m", {"../escape.csv": b"x"})
    assert not (tmp_path / "escape.csv").exists()


SLOW_WRITER = """
import sys, time
from churnml.io import replace_folder

class Slow(dict):
    def items(self):
        for item in super().items():
            yield item
            time.sleep(0.2)   # long enough for the test to kill us mid-write
        time.sleep(30)

replace_folder(sys.argv[1], Slow({f"part{i}.csv": b"new" * 100000 for i in range(50)}))
"""


def test_a_run_killed_mid_write_leaves_the_previous_outputs(tmp_path):
    target = tmp_path / "2025-07"
    replace_folder(target, OLD)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(target)])
    try:
        deadline = time.monotonic() + 60
        staging = []
        while time.monotonic() < deadline and not any(len(list(s.iterdir())) >= 2 for s in staging):
            staging = [p for p in tmp_path.iterdir() if p.name.startswith(".2025-07.new-")]
            time.sleep(0.05)
        assert staging, "the writer never started"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert contents(target) == OLD  # the kill left the previous month's files as they were
    replace_folder(target, NEW)  # the next run tidies up the dead run's staging folder
    assert contents(target) == NEW and hidden(tmp_path) == []
