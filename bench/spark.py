"""Benchmark of `engine=spark` against the pandas engine, as the user runs them: whole
`churnml features` processes on the same world, in the same run.

  pandas  `churnml features` (engine=pandas)
  spark   `churnml features engine=spark engine.master=local[2]`
  ratio   spark / pandas wall time (target at most 2.5 x on the 20,000 x 60 world)
Memory is the peak of the whole process tree (the churnml process, Spark's JVM and its Python
workers), sampled from /proc every 0.2 s: for Spark the driver and its local executors together.
The two features files are then compared (every column; floats to 1e-9).

The world is generated once per size with the synthetic generator and cached as Parquet (see
bench/features.py), so repeated runs only measure.

With --scale, the world that outgrows one machine: the pandas engine's peak memory at 20,000
and 50,000 accounts and its extrapolation to 200,000 (about 190 M order lines), then on the
200,000 x 60 world (generated once, in parts) the month as a user runs it, each a whole process
with its wall time and peak memory: `churnml features engine=spark`, `churnml train` on a
weighted sample of the dataset (`model.sample.negative_rate`), `churnml score engine=spark`.

    .venv/bin/python bench/spark.py                             # 20,000 x 60
    .venv/bin/python bench/spark.py --accounts 2000 --months 48 # the default world
    .venv/bin/python bench/spark.py --scale                     # 200,000 x 60 (long)
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = 2.5
NEGATIVE_RATE = 0.05  # the training sample at 200,000 accounts (model.sample.negative_rate)


def _features_bench():
    """bench/features.py as a module: its world cache and command line."""
    spec = importlib.util.spec_from_file_location("bench_features", HERE / "features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tree_process(command: list[str], log: Path) -> dict:
    """Run `command`; its wall seconds and the peak memory (GB) of its whole process tree."""
    import psutil

    began = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        root, peak = psutil.Process(child.pid), 0
        while child.poll() is None:
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)
    seconds = time.perf_counter() - began
    if child.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit {child.returncode}):\n{log.read_text()[-3000:]}")
    return {"seconds": seconds, "peak_gb": peak / 1024**3}


def same_features(spark_file: Path, pandas_file: Path) -> str:
    """'identical' when both files hold the same features (floats to 1e-9), else what differs."""
    import pandas as pd

    from churnml.io import read_frame

    left, right = read_frame(spark_file), read_frame(pandas_file)
    if list(left.columns) != list(right.columns) or len(left) != len(right):
        return f"DIFFER: {left.shape} against {right.shape}"
    try:
        pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=0, atol=1e-9)
    except AssertionError as err:
        return "DIFFER: " + str(err).splitlines()[0]
    return f"identical ({len(left):,} rows x {left.shape[1]} columns)"


def scale(cache: Path, master: str, months: int = 60) -> None:
    """The pandas engine's peak memory at 20,000 and 50,000 accounts, extrapolated to 200,000,
    against `engine=spark` run on the 200,000-account world."""
    import psutil

    bench = _features_bench()
    root = Path(tempfile.mkdtemp(prefix="churnml-bench-scale-"))
    peaks = {}
    for accounts in (20000, 50000):
        folder = bench.world_dir(cache, accounts, months)
        command = bench.churnml_command("features", folder, root, f"paths.features={root / f'pandas-{accounts}'}")
        peaks[accounts] = tree_process(command, root / f"pandas-{accounts}.log")
        print(f"  pandas engine, {accounts:,} accounts: {peaks[accounts]['seconds']:6.1f} s, "
              f"peak {peaks[accounts]['peak_gb']:5.2f} GB", flush=True)
    per_account = (peaks[50000]["peak_gb"] - peaks[20000]["peak_gb"]) / 30000
    estimate = peaks[50000]["peak_gb"] + per_account * 150000
    machine = psutil.virtual_memory().total / 1024**3
    print(f"  pandas engine, 200,000 accounts: estimated peak {estimate:5.1f} GB (linear in the accounts) "
          f"against {machine:.1f} GB on this machine: {'does not fit' if estimate > machine else 'fits'}", flush=True)
    folder = bench.world_dir(cache, 200000, months)
    command = bench.churnml_command("features", folder, root, f"paths.features={root / 'spark-200000'}",
                                    "engine=spark", f"engine.master='{master}'")
    run = tree_process(command, root / "spark-200000.log")
    print(f"  spark engine, 200,000 accounts: features {run['seconds']:6.1f} s, peak {run['peak_gb']:5.2f} GB "
          f"(driver, JVM and Python workers; master {master})", flush=True)
    # Then the month: train on the driver from a weighted sample of the dataset, score on Spark.
    later = {
        "train": ["train", f"model.sample.negative_rate={NEGATIVE_RATE}"],
        "score": ["score", "engine=spark", f"engine.master='{master}'"],
    }
    for stage, (name, *more) in later.items():
        command = bench.churnml_command(name, folder, root, f"paths.features={root / 'spark-200000'}", *more)
        run = tree_process(command, root / f"{stage}-200000.log")
        text = (root / f"{stage}-200000.log").read_text()
        found = re.search(r"training sample: (\d+) of (\d+) feature rows", text) if stage == "train" else \
            re.search(r"scored (\d+) accounts on Spark", text)
        what = (f"{int(found[1]):,} of {int(found[2]):,} rows sampled (negative_rate {NEGATIVE_RATE})" if stage == "train"
                else f"{int(found[1]):,} accounts in scope") if found else "see its log"
        driver = "driver process" if stage == "train" else "driver, JVM and Python workers"
        print(f"  spark engine, 200,000 accounts: {stage:<8} {run['seconds']:6.1f} s, peak {run['peak_gb']:5.2f} GB "
              f"({driver}; {what})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/churnml-bench"))
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--scale", action="store_true", help="the 200,000-account world (long)")
    args = parser.parse_args()
    if args.scale:
        scale(args.cache, args.master)
        return
    bench = _features_bench()
    folder = bench.world_dir(args.cache, args.accounts, args.months)
    root = Path(tempfile.mkdtemp(prefix="churnml-bench-spark-"))
    runs = {}
    for engine, more in (("pandas", []), ("spark", ["engine=spark", f"engine.master='{args.master}'"])):
        command = bench.churnml_command("features", folder, root, f"paths.features={root / engine}", *more)
        runs[engine] = tree_process(command, root / f"{engine}.log")
    pandas_run, spark_run = runs["pandas"], runs["spark"]
    ratio = spark_run["seconds"] / pandas_run["seconds"]
    print(f"\n{args.accounts:,} accounts x {args.months} months, `churnml features` as whole processes:")
    print(f"  pandas  {pandas_run['seconds']:7.1f} s   peak {pandas_run['peak_gb']:5.2f} GB (process)")
    print(f"  spark   {spark_run['seconds']:7.1f} s   peak {spark_run['peak_gb']:5.2f} GB "
          f"(driver, JVM and Python workers; master {args.master})")
    print(f"  ratio   {ratio:7.2f} x time {'met ' if ratio <= TARGET else 'MISSED'} (target <= {TARGET})   "
          f"{spark_run['peak_gb'] / pandas_run['peak_gb']:5.2f} x peak memory")
    file = "features.parquet"
    print(f"  output  {same_features(root / 'spark' / file, root / 'pandas' / file)}")


if __name__ == "__main__":
    main()
