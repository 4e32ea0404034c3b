"""Whether this machine can run the Spark engine: pyspark installed and Java 17 or later."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess


def why_no_spark() -> str | None:
    """None when Spark can run here; otherwise what is missing, for the skip message."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (`make spark` installs churnml[spark])"
    java = shutil.which("java")
    if java is None:
        return "no Java on PATH (Spark needs Java 17 or later)"
    shown = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    found = re.search(r'version "(\d+)', shown)
    if not found or int(found.group(1)) < 17:
        return f"Java 17 or later is needed; found {shown.splitlines()[0] if shown else 'none'}"
    return None
