"""Benchmark: the registry as the monthly job and a data scientist meet it, command by command.

In a fresh project on the default synthetic world (or `--accounts`), each command runs as a
process, as a user runs it:
  first       `churnml train`                         the first model: champion
  again       `churnml train`                         nothing changed: no new version, same champion
  refresh     `churnml train model.seed=7`            the champion's recipe refitted: champion
  orders_only `churnml train experiment=orders_only`  another feature set: challenger, champion stays
  multirun    `churnml train -m features=all,orders_only` (the README's): the full model stays champion
  typo        `churnml train +labels.horizn=3`        exit 2, nothing trained
and prints for each: exit code, wall seconds, the versions it added, who holds @champion, the
gate's reason; then the ratios to the first train (the baseline measured in the same run): what
the gate's comparison with a champion costs on top of training, and what a reused version saves.

Targets (issue "Trust in the registry and the console"):
  again        adds no version and leaves @champion where it was
  orders_only  adds a challenger, @champion unchanged; the multirun ends with a features=all champion
  typo         exit 2 naming labels.horizon_months, in under a tenth of a train's time
  gate         a train that compares with a champion takes at most 1.5 x the first train

    .venv/bin/python bench/registry.py                   # the default world (about 5 minutes)
    .venv/bin/python bench/registry.py --accounts 600    # a smaller world
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHURNML = Path(sys.executable).parent / "churnml"
TODAY = "2026-11-27"
STEPS = (
    ("first", ["train"]),
    ("again", ["train"]),
    ("refresh", ["train", "model.seed=7"]),
    ("orders_only", ["train", "experiment=orders_only"]),
    ("multirun", ["train", "-m", "features=all,orders_only"]),
    ("typo", ["train", "+labels.horizn=3"]),
)


def registry(root: Path) -> tuple[int, str | None, str]:
    """(versions of churnml-churn, the version holding @champion, its run's name)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    store = f"sqlite:///{root}/mlflow.db"
    if not (root / "mlflow.db").is_file():
        return 0, None, ""
    client = MlflowClient(store, registry_uri=store)
    try:
        versions = client.search_model_versions("name = 'churnml-churn'")
        champion = client.get_model_version_by_alias("churnml-churn", "champion")
    except MlflowException:
        return 0, None, ""
    return len(versions), str(champion.version), client.get_run(champion.run_id).info.run_name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=2000)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        common = [f"paths.root={root}", f"data.accounts={args.accounts}", f"today={TODAY}"]
        subprocess.run([str(CHURNML), "generate", *common], check=True, capture_output=True)
        for name, argv in STEPS:
            before = registry(root)
            tick = time.perf_counter()
            proc = subprocess.run([str(CHURNML), *argv, *common], capture_output=True, text=True)
            seconds = time.perf_counter() - tick
            after = registry(root)
            said = proc.stdout + proc.stderr
            reason = next((line.split(" - ", 1)[-1] for line in said.splitlines() if "champion gate" in line), "")
            if name == "typo":
                reason = said.strip().splitlines()[-1] if said.strip() else ""
            rows.append({"step": name, "rc": proc.returncode, "seconds": seconds, "added": after[0] - before[0],
                         "champion": after[1], "moved": after[1] != before[1], "run": after[2], "reason": reason})
            print(f"  {name:<12} rc {proc.returncode}  {seconds:6.1f} s  +{after[0] - before[0]} version(s)  "
                  f"@champion {after[1]} ({after[2]})", flush=True)

    by = {r["step"]: r for r in rows}
    base = by["first"]["seconds"]
    print()
    print(f"{'step':<12} {'rc':>3} {'seconds':>8} {'x first':>8} {'added':>6} {'champion':>9} {'moved':>6}  gate")
    for r in rows:
        print(f"{r['step']:<12} {r['rc']:>3} {r['seconds']:>8.1f} {r['seconds'] / base:>8.2f} {r['added']:>6} "
              f"{str(r['champion']):>9} {str(r['moved']):>6}  {r['reason'][:150]}")
    checks = {
        "again adds no version, champion stays": by["again"]["added"] == 0 and not by["again"]["moved"],
        "orders_only is challenger, champion stays": by["orders_only"]["added"] == 1 and not by["orders_only"]["moved"],
        "multirun ends with a features=all champion": "features=all" in by["multirun"]["run"]
        or not by["multirun"]["moved"],
        "typo exits 2 naming labels.horizon_months, < 0.1 x a train":
            by["typo"]["rc"] == 2 and "labels.horizon_months" in by["typo"]["reason"]
            and by["typo"]["seconds"] < 0.1 * base,
        "a gated train <= 1.5 x the first": by["orders_only"]["seconds"] <= 1.5 * base
        and by["refresh"]["seconds"] <= 1.5 * base,
        "every train exits 0": all(r["rc"] == 0 for r in rows if r["step"] != "typo"),
    }
    print()
    for text, met in checks.items():
        print(f"  [{'met' if met else 'MISSED'}] {text}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
