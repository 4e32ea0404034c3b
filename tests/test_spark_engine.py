"""`engine=spark` builds the same features as the pandas engine: on the default world (Parquet),
on a German ERP export (CSV with `;`, decimal comma, dd.mm.yyyy, latin-1), and with the same one
report and exit 2 for a bad input. Runs where pyspark and Java 17+ are present; says why it
skipped otherwise (`.ci/run` installs both)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnml.cli import main
from churnml.data.synthetic import generate_world
from churnml.io import read_frame, write_tables
from helpers.features_tables import random_tables
from helpers.spark import why_no_spark

pytestmark = pytest.mark.skipif(why_no_spark() is not None, reason=f"Spark engine not tested: {why_no_spark()}")

TODAY = "2026-11-27"


@pytest.fixture(scope="module", autouse=True)
def _stop_spark_after_the_module():
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
SPARK = ["engine=spark", "engine.master='local[2]'"]


def _features(root: Path, data: Path, name: str, *overrides: str) -> tuple[int, Path]:
    out = root / name
    code = main(["features", f"paths.root={root}", "data=files", f"data.dir={data}", f"paths.features={out}",
                 f"today={TODAY}", *overrides])
    return code, out / "features.parquet"


def _same_features(spark_file: Path, pandas_file: Path) -> None:
    on_spark, on_pandas = read_frame(spark_file), read_frame(pandas_file)
    assert spark_file.is_dir() and pandas_file.is_file()
    assert list(on_spark.columns) == list(on_pandas.columns)
    assert len(on_pandas) > 0
    pd.testing.assert_frame_equal(on_spark, on_pandas, check_exact=False, rtol=0, atol=1e-9)


def test_the_default_world_gives_the_same_features_on_spark(tmp_path: Path):
    world = generate_world(2000, 48, "2021-01", seed=42, today=TODAY)
    write_tables(world.tables, tmp_path / "raw", "parquet")
    code, on_pandas = _features(tmp_path, tmp_path / "raw", "pandas", "data.format=parquet")
    assert code == 0
    code, on_spark = _features(tmp_path, tmp_path / "raw", "spark", "data.format=parquet", *SPARK)
    assert code == 0
    _same_features(on_spark, on_pandas)


def _german(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.dt.strftime("%d.%m.%Y")
        elif pd.api.types.is_float_dtype(values):
            out[column] = values.map(lambda x: "" if pd.isna(x) else f"{x:.2f}".replace(".", ","))
    return out


def test_a_german_csv_export_gives_the_same_features_on_spark(tmp_path: Path):
    tables = random_tables(4, n_accounts=40, months=36)
    (tmp_path / "raw").mkdir()
    for name, frame in tables.items():
        _german(frame).to_csv(tmp_path / "raw" / f"{name}.csv", sep=";", index=False, encoding="latin-1")
    german = ["data.format=csv", "data.delimiter=';'", "data.decimal=','", "data.date_format='%d.%m.%Y'",
              "data.encoding=latin-1"]
    code, on_pandas = _features(tmp_path, tmp_path / "raw", "pandas", *german)
    assert code == 0
    code, on_spark = _features(tmp_path, tmp_path / "raw", "spark", *german, *SPARK)
    assert code == 0
    _same_features(on_spark, on_pandas)


@pytest.mark.parametrize("breakage", ["bad date", "key repeated across accounts"])
def test_a_bad_input_gets_the_same_report_and_exit_2_on_spark(tmp_path: Path, capfd, breakage):
    tables = random_tables(5, n_accounts=20, months=30)
    orders = tables["orders"].astype({"order_date": "str"})
    if breakage == "bad date":
        orders.loc[[3, 17], "order_date"] = "2023-02-30"
    else:
        other = orders.index[orders["account_id"] != orders.loc[0, "account_id"]][0]
        orders.loc[other, "order_id"] = orders.loc[0, "order_id"]
    tables["orders"] = orders
    (tmp_path / "raw").mkdir()
    for name, frame in tables.items():
        frame.to_csv(tmp_path / "raw" / f"{name}.csv", index=False)
    reports = []
    for name, engine in (("pandas", []), ("spark", SPARK)):
        code, written = _features(tmp_path, tmp_path / "raw", name, "data.format=csv", *engine)
        console = capfd.readouterr()
        assert code == 2 and not written.exists()
        assert "Traceback" not in console.out + console.err
        reports.append(_report(console.out + console.err))
    assert "orders." in reports[0]
    assert reports[1] == reports[0]


def _report(console: str) -> str:
    """The contract report in what a run printed: its first line and the lines that belong to it."""
    lines = console[console.index("The input data breaks the contract"):].splitlines()
    return "\n".join([lines[0], *[line for line in lines[1:] if line.startswith(("-", " "))]])


@pytest.mark.slow
def test_train_and_score_read_the_spark_features_and_list_the_same(tmp_path: Path):
    world = generate_world(400, 36, "2022-01", seed=5, today=TODAY)
    write_tables(world.tables, tmp_path / "raw", "parquet")
    common = [f"paths.root={tmp_path}", "data=files", f"data.dir={tmp_path / 'raw'}", "data.format=parquet",
              f"today={TODAY}"]
    assert main(["features", *common, *SPARK]) == 0
    assert main(["train", *common]) == 0
    logs = "\n".join(p.read_text() for p in (tmp_path / "outputs").rglob("train.log"))
    assert "read the features from" in logs  # the dataset Spark wrote, not a rebuild
    lists = []
    for engine in (SPARK, []):
        if engine != SPARK:
            assert main(["features", *common]) == 0  # the pandas engine's single file replaces it
        assert main(["score", *common, *engine]) == 0
        lists.append(pd.read_parquet(next((tmp_path / "data" / "scores").rglob("risk_list.parquet"))))
        if engine == SPARK:
            logs = "\n".join(p.read_text() for p in (tmp_path / "outputs").rglob("score.log"))
            assert "on Spark (mlflow.pyfunc.spark_udf)" in logs and "read competitor_signals" in logs
            assert "read orders" not in logs  # the order lines were summed by Spark, never loaded on the driver
    pd.testing.assert_frame_equal(lists[0], lists[1])


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with text as plain Python strings (what pyspark converts reliably)."""
    out = frame.copy()
    for column in out.columns:
        kind = out[column].dtype
        if pd.api.types.is_string_dtype(kind) or pd.api.types.is_object_dtype(kind) or isinstance(kind, pd.CategoricalDtype):
            out[column] = np.asarray(out[column].astype(object).where(out[column].notna(), None), dtype=object)
    return out


def _catalog(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The tables as views of the Spark catalog (`crm_<table>`); the overrides that read them."""
    from churnml import spark_engine
    from churnml.config import EngineConfig

    spark = spark_engine.session(EngineConfig(name="spark", master="local[2]"))
    for name, frame in tables.items():
        spark.createDataFrame(_plain(frame)).createOrReplaceTempView(f"crm_{name}")
    return ["data=spark_tables", *[f"data.tables.{name}.table=crm_{name}" for name in tables], *SPARK]


@pytest.mark.slow
def test_tables_of_the_spark_catalog_give_the_same_features(tmp_path: Path):
    tables = random_tables(7, n_accounts=40, months=36)
    write_tables(tables, tmp_path / "raw", "parquet")
    code, on_pandas = _features(tmp_path, tmp_path / "raw", "pandas", "data.format=parquet")
    assert code == 0
    out = tmp_path / "catalog"
    assert main(["features", f"paths.root={tmp_path}", f"paths.features={out}", f"today={TODAY}", *_catalog(tables)]) == 0
    _same_features(out / "features.parquet", on_pandas)


@pytest.mark.slow
def test_a_bad_catalog_table_gets_the_loaders_report_and_exit_2(tmp_path: Path, capfd):
    tables = random_tables(8, n_accounts=20, months=30)
    tables["orders"]["account_id"] = tables["orders"]["account_id"].astype("str")
    tables["orders"].loc[[2, 9], "account_id"] = "NOPE-1"
    out = tmp_path / "catalog"
    code = main(["features", f"paths.root={tmp_path}", f"paths.features={out}", f"today={TODAY}", *_catalog(tables)])
    console = capfd.readouterr()
    assert code == 2 and not (out / "features.parquet").exists()
    report = _report(console.out + console.err)
    assert "orders.account_id" in report and "NOPE-1" in report and "Traceback" not in console.out + console.err


@pytest.mark.slow
def test_train_and_score_from_tables_of_the_spark_catalog(tmp_path: Path):
    world = generate_world(300, 30, "2022-07", seed=9, today=TODAY)
    common = [f"paths.root={tmp_path}", f"today={TODAY}", *_catalog(world.tables)]
    for stage in ("features", "train", "score"):
        assert main([stage, *common]) == 0, stage
    risk = pd.read_parquet(next((tmp_path / "data" / "scores").rglob("risk_list.parquet")))
    assert len(risk) > 0 and risk["churn_probability"].between(0, 1).all()
    logs = "\n".join(p.read_text() for p in (tmp_path / "outputs").rglob("*.log"))
    assert "read the features from" in logs and "on Spark (mlflow.pyfunc.spark_udf)" in logs
