"""Benchmark of `churnml train` from features to registered models, and the model targets.

For the default world (2,000 accounts x 48 months) and the large one (20,000 x 60), each in its
own subprocess so that its peak memory is its own: generate the world, build the features (not
timed as training), then time
  train      `train_models`: evaluation plan, churn model (inner folds, then every fitting row)
             + baselines + out-of-time metrics, switching-cost model
  publish    one MLflow run (SQLite in a temporary folder): metrics, plots, both models logged and
             registered, champion gate, export
  baseline   one plain LightGBM fit of the same parameters and tree count on every labelled row,
             in the same run
  ratio      (train + publish) / baseline: the figure to watch (lower is better; it depends less on
             the machine than the seconds do)
and prints the model targets (`TARGETS`) with the figures measured on that world:
  out-of-time AUC >= 0.95 x the oracle's, >= 0.03 above the better baseline, calibration error
  < 0.03, switching-cost rank correlation with the truth >= 0.6; training under a minute on the
  default world, under 10 minutes and 8 GiB on the large one.

    .venv/bin/python bench/models.py               # default and large
    .venv/bin/python bench/models.py --skip-large  # default only (about half a minute)
    .venv/bin/python bench/models.py --evaluate    # also time the rolling-origin backtest
    .venv/bin/python bench/models.py --skip-large --seed 7  # another world (default seed 42)
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
TIME_LIMIT_S = {"default": 60.0, "large": 600.0}
MEMORY_LIMIT_GB = 8.0


# The model targets, met on the default world (printed against the figures measured).
TARGETS = {
    "auc_vs_oracle_min": 0.95,  # out-of-time AUC at least 0.95 x the oracle's
    "auc_margin_min": 0.03,  # at least 0.03 above the better baseline
    "ece_max": 0.03,  # calibration error below 0.03
    "switching_spearman_min": 0.6,  # rank correlation with the true switching cost
}

def measure(size: str, evaluate: bool, threads: int | None, seed: int = 42) -> dict:
    """Generate, build features, train and publish one world in this process; returns figures."""
    import resource

    import lightgbm as lgb

    from churnml.config import Config, MlflowConfig, PathsConfig
    from churnml.data.synthetic import generate_world, oracle_from_truth
    from churnml.features import build_features, feature_columns
    from churnml.features.competitor import training_offers
    from churnml.features.dictionary import dictionary_frame
    from churnml.models.churn import category_levels, to_matrix
    from churnml.models.training import ModelInputs, train_models
    from churnml.stages.train import publish

    accounts, months = SIZES[size]
    began = time.perf_counter()
    world = generate_world(accounts, months, "2021-01", seed=seed, today=TODAY)
    generate_s = time.perf_counter() - began
    config = Config()
    if threads:
        config.model.num_threads = threads
    began = time.perf_counter()
    frame = build_features(world.tables, config.features, config.labels)
    features_s = time.perf_counter() - began
    features = feature_columns(frame)
    horizon = config.labels.horizon_months
    inputs = ModelInputs(
        frame=frame,
        features=features,
        offers=training_offers(world.tables["competitor_signals"], config.labels.switch_signal_kinds),
        horizon=horizon,
        dictionary=dictionary_frame(features),
        oracle=oracle_from_truth(world.truth, horizon),
        true_switching_cost=world.truth["accounts"].set_index("account_id")["switching_cost"],
    )
    out: dict = {"size": size, "seed": seed, "accounts": accounts, "months": world.months, "rows": len(frame)}
    out["threads"] = config.model.num_threads
    out.update(features=len(features), generate_s=generate_s, features_s=features_s)

    began = time.perf_counter()
    result = train_models(
        frame, features, config.model, horizon, inputs.offers, inputs.oracle, inputs.true_switching_cost
    )
    out["train_s"] = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        config = Config(
            model=config.model,
            paths=PathsConfig(root=folder, models=str(root / "models")),
            mlflow=MlflowConfig(tracking_uri=f"sqlite:///{root}/mlflow.db", artifact_location=str(root / "art")),
        )
        began = time.perf_counter()
        published = publish(result, inputs, config, {"bench.size": size}, None)
        out["publish_s"] = time.perf_counter() - began
    out["alias"] = published.alias

    # Baseline: the same booster parameters and tree count, one plain fit on all labelled rows.
    rows = result.rows
    levels = category_levels(rows, features)
    began = time.perf_counter()
    lgb.train(
        result.final.params,
        lgb.Dataset(to_matrix(rows, features, levels), label=rows["churn"].to_numpy(dtype=float)),
        num_boost_round=result.final.n_trees,
    )
    out["baseline_s"] = time.perf_counter() - began

    if evaluate:
        from churnml.models.evaluation import backtest

        began = time.perf_counter()
        backtest(frame, features, config.model, horizon, inputs.oracle)
        out["backtest_s"] = time.perf_counter() - began

    out["metrics"] = {k: v for k, v in result.metrics.items() if not k.startswith("timing/")}
    out["split"] = result.plan.describe()
    out["targets"] = TARGETS
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def run_child(size: str, evaluate: bool, threads: int | None, seed: int) -> dict:
    cmd = [sys.executable, __file__, "--child", size, "--seed", str(seed)] + (["--evaluate"] if evaluate else [])
    cmd += ["--threads", str(threads)] if threads else []
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"bench/models.py: the {size} world failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mark(ok: bool | None) -> str:
    return "n/a " if ok is None else ("met " if ok else "MISSED")


def report(r: dict) -> None:
    m, t = r["metrics"], r["targets"]
    total = r["train_s"] + r["publish_s"]
    print(
        f"\n{r['size']} (seed {r['seed']}): {r['accounts']:,} accounts x {r['months']} months, {r['rows']:,} feature rows x "
        f"{r['features']} features, LightGBM on {r['threads']} thread(s)"
    )
    print(f"  split      {r['split']}")
    print(f"  generate   {r['generate_s']:7.1f} s   features {r['features_s']:.1f} s   (not part of training)")
    print(f"  train      {r['train_s']:7.1f} s   folds and fit, baselines, metrics, switching model")
    print(f"  publish    {r['publish_s']:7.1f} s   MLflow run, plots, two registered models, gate, export (@{r['alias']})")
    print(f"  baseline   {r['baseline_s']:7.1f} s   one plain LightGBM fit, same parameters and trees, all labelled rows")
    print(f"  ratio      {total / r['baseline_s']:7.1f}     (train + publish) / baseline")
    if "backtest_s" in r:
        print(f"  backtest   {r['backtest_s']:7.1f} s   `churnml evaluate` without tracking")
    print(f"  peak RSS   {r['peak_rss_gb']:7.2f} GiB")

    def get(key):
        value = m.get(key)
        return None if value is None or value != value else value

    auc, oracle = get("oot/auc"), get("oracle/oot/auc")
    base = max(get("baseline_rule/oot/auc") or 0, get("baseline_rfm/oot/auc") or 0)
    ratio, margin, ece, rho = get("oot/auc_vs_oracle"), get("oot/auc_margin"), get("oot/ece"), get("switching/spearman_true_cost")
    print("  targets:")
    print(f"    {_mark(None if ratio is None else ratio >= t['auc_vs_oracle_min'])} out-of-time AUC {auc:.4f} = "
          f"{ratio if ratio is not None else float('nan'):.3f} x oracle "
          f"{oracle if oracle else float('nan'):.4f} (>= {t['auc_vs_oracle_min']})")
    print(f"    {_mark(None if margin is None else margin >= t['auc_margin_min'])} margin over the better baseline "
          f"({base:.4f}): {margin:+.4f} (>= {t['auc_margin_min']})")
    print(f"    {_mark(None if ece is None else ece < t['ece_max'])} calibration error {ece:.4f} (< {t['ece_max']})")
    above = get("switching/share_above_range")
    rho_text = "undefined" if rho is None else f"{rho:.3f}"
    print(f"    {_mark(None if rho is None else rho >= t['switching_spearman_min'])} switching-cost rank correlation "
          f"with the truth {rho_text} (>= {t['switching_spearman_min']}); "
          f"{100 * above if above is not None else float('nan'):.1f} % of accounts above the largest discount seen")
    limit = TIME_LIMIT_S[r["size"]]
    print(f"    {_mark(total < limit)} training {total:.1f} s (< {limit:.0f} s)")
    print(f"    {_mark(r['peak_rss_gb'] < MEMORY_LIMIT_GB)} peak memory {r['peak_rss_gb']:.2f} GiB (< {MEMORY_LIMIT_GB:.0f} GiB)")
    print(f"  other: pr_auc {m['oot/pr_auc']:.4f}, brier {m['oot/brier']:.4f}, lift top 10 % {m['oot/lift_top10']:.2f}, "
          f"revenue capture 10 % {m['oot/revenue_capture_10']:.3f} "
          f"(oracle {m.get('oracle/oot/revenue_capture_10', float('nan')):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-large", action="store_true", help="only the default world")
    parser.add_argument("--evaluate", action="store_true", help="also time the rolling-origin backtest")
    parser.add_argument("--threads", type=int, help="model.num_threads (default: the config's)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the synthetic world (default 42)")
    parser.add_argument("--child", choices=SIZES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.basicConfig(level=logging.WARNING)
        print(json.dumps(measure(args.child, args.evaluate, args.threads, args.seed), default=str))
        return
    for size in ["default"] if args.skip_large else ["default", "large"]:
        report(run_child(size, args.evaluate, args.threads, args.seed))


if __name__ == "__main__":
    main()
