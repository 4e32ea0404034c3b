"""The `engine` group: both choices compose, a bad value is named, and `engine=spark` where it
cannot run says what is missing in one line (exit 2), without a traceback."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from churnml.cli import compose_config
from churnml.errors import ConfigError


@pytest.mark.parametrize("engine", ["pandas", "spark"])
def test_each_engine_composes(engine):
    config = compose_config([f"engine={engine}"])
    assert config.engine.name == engine and config.engine.master == "local[*]" and config.engine.buckets is None


def test_spark_settings_with_dots_in_their_names_are_accepted():
    config = compose_config(["engine=spark", "+engine.conf={spark.executor.memory: 16g}"])
    assert config.engine.conf == {"spark.executor.memory": "16g"}


def test_a_bad_engine_value_is_named():
    with pytest.raises(ConfigError, match="engine.buckets"):
        compose_config(["engine=spark", "engine.buckets=0"])


def test_tables_of_a_spark_catalog_need_the_spark_engine():
    config = compose_config(["data=spark_tables", "engine=spark", "data.tables.orders.table=erp.order_lines"])
    assert config.data.tables["orders"].table == "erp.order_lines" and config.data.name == "spark_tables"
    with pytest.raises(ConfigError, match=r"`engine.name` must be spark when data.source is spark_tables.*got 'pandas'"):
        compose_config(["data=spark_tables"])


def test_spark_where_it_cannot_run_says_what_is_missing(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # this Python, and no Java
    done = subprocess.run(
        [str(Path(sys.executable).with_name("churnml")), "features", "engine=spark", f"paths.root={tmp_path}",
         "data=files", f"data.dir={tmp_path}", "data.format=parquet"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    expected = "Java 17" if importlib.util.find_spec("pyspark") else "churnml[spark]"
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
