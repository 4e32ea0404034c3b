"""Benchmark of the synthetic world: `generate_world` and `write_tables`, on the default world and
on the large one (20,000 accounts x 60 months, about 20 million order lines).

Each size runs in its own subprocess so its peak memory (max RSS) is its own. Printed per size:
  generate  seconds, rows per second (all tables), order lines per second, peak memory
  write     seconds to write every table and the truth as Parquet
  baseline  seconds to write the orders table alone to Parquet with pyarrow, in the same run
  ratio     generate / baseline: the figure to watch (lower is better; it does not depend on the
            machine as much as the seconds do)
and the world's calibration figures (churn rate, oracle AUC, best single column, revenue share).

    .venv/bin/python bench/generate.py              # default and large
    .venv/bin/python bench/generate.py --skip-large # default only (a few seconds)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"default": (2000, 48), "large": (20000, 60)}
TODAY = "2026-11-27"


def measure(accounts: int, months: int, figures: bool) -> dict:
    """Generate, write and (optionally) measure one world in this process; returns the figures."""
    import resource

    import pyarrow as pa
    import pyarrow.parquet as pq

    from churnml.data.synthetic import generate_world
    from churnml.io import write_tables
    from churnml.world_figures import world_figures

    began = time.perf_counter()
    world = generate_world(accounts, months, "2021-01", seed=42, today=TODAY)
    generate = time.perf_counter() - began
    rows = {name: len(frame) for name, frame in world.tables.items()}
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        write_tables(world.tables, folder, "parquet", truth=world.truth)
        write = time.perf_counter() - began
        began = time.perf_counter()
        pq.write_table(pa.Table.from_pandas(world.tables["orders"], preserve_index=False), Path(folder) / "base.parquet")
        baseline = time.perf_counter() - began
    out = {
        "accounts": accounts,
        "months": world.months,
        "rows": rows,
        "generate_s": generate,
        "write_s": write,
        "baseline_s": baseline,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }
    if figures:
        began = time.perf_counter()
        out["figures"] = world_figures(world)
        out["figures_s"] = time.perf_counter() - began
    return out


def run_child(size: str, figures: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", size] + (["--figures"] if figures else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(size: str, r: dict) -> None:
    total = sum(r["rows"].values())
    orders = r["rows"]["orders"]
    print(f"\n{size}: {r['accounts']:,} accounts x {r['months']} months, {total:,} rows ({orders:,} order lines)")
    print(f"  generate   {r['generate_s']:7.1f} s   {total / r['generate_s']:>12,.0f} rows/s   "
          f"{orders / r['generate_s']:>12,.0f} order lines/s")
    print(f"  write      {r['write_s']:7.1f} s   (all tables + truth, Parquet)")
    print(f"  baseline   {r['baseline_s']:7.1f} s   (the orders table alone to Parquet with pyarrow)")
    print(f"  ratio      {r['generate_s'] / r['baseline_s']:7.1f}     generate / baseline")
    print(f"  peak RSS   {r['peak_rss_gb']:7.2f} GiB (limit 8 GiB)")
    f = r.get("figures")
    if f and f["oracle_auc"] is not None:
        print(
            f"  calibration: in-scope churn within 6 months {100 * f['churn_rate']:.1f} % (8-15), "
            f"oracle AUC {f['oracle_auc']:.3f} (0.80-0.92), best single column {f['best_feature']} "
            f"{f['best_feature_auc']:.3f} (< 0.75), top 20 % revenue share {100 * f['top20_revenue_share']:.1f} % "
            f"(70-85); {f['accounts_churned']:,} accounts churned, {100 * f['recorded_share']:.0f} % recorded"
            f"  [{r['figures_s']:.1f} s]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-large", action="store_true", help="only the default world")
    parser.add_argument("--large-figures", action="store_true", help="also compute the large world's figures")
    parser.add_argument("--child", choices=SIZES, help=argparse.SUPPRESS)
    parser.add_argument("--figures", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*SIZES[args.child], figures=args.figures)))
        return
    sizes = ["default"] if args.skip_large else ["default", "large"]
    for size in sizes:
        report(size, run_child(size, figures=size == "default" or args.large_figures))


if __name__ == "__main__":
    main()
