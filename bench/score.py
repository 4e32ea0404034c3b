"""Benchmark of monthly scoring: accounts scored per second, against the raw booster in the same run.

  baseline  `booster.predict` of the churn model's LightGBM booster on the accounts in scope
            (the floor: no scoring can be faster than predicting once)
  contribs  `booster.predict(pred_contrib=True)` on the same rows: what the reasons cost LightGBM
            itself (TreeSHAP), before any of our code
  score     `churnml.scoring.risk_list.score_accounts`: calibrated probability, pred_contrib, switching cost
            and probability, priority, rank, bands, three reasons in words, actions
  frames    `churnml.scoring.month.score_frames`: the list plus changes, win-back, drift, report data
  outputs   the four files' bytes (Parquet, CSV, the workbook, the page)
  ratio     score / baseline, score / (baseline + contribs) (our overhead on top of LightGBM's
            two calls; the figure to watch, near 1 is best) and score + outputs / baseline.
Also shown: features at the one snapshot (`build_features(snapshots=[t])`) and the whole month.
On the default world, also `churnml score` as a whole process (features file and champion in
place) against its floor in the same run, also a whole process: read the month's features,
`predict` and `pred_contrib`, write the four files (target: at most 3 x).

The worlds are the ones `bench/features.py` caches in `<cache>/<accounts>x<months>/` (generated
once when missing). A model is trained once per world on its last snapshots and exported to
`<cache>/<accounts>x<months>/score-model/`, so repeated runs only measure.

    .venv/bin/python bench/score.py                        # default world, then 20,000 x 60
    .venv/bin/python bench/score.py --accounts 2000 --months 48
    .venv/bin/python bench/score.py --world /tmp/w7             # a world made by `churnml generate data.seed=7`
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TRAIN_SNAPSHOTS = 36  # snapshots the bench model is trained on (the latest ones)


def _features_bench():
    """bench/features.py as a module: its world cache and table reader."""
    spec = importlib.util.spec_from_file_location("bench_features", HERE / "features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_model(folder: Path, tables: dict, cfg) -> Path:
    """The exported model of this world, trained (once) on its latest snapshots."""
    from churnml import tracking
    from churnml.features import build_features, data_end, default_snapshots, feature_columns
    from churnml.features.competitor import training_offers
    from churnml.features.dictionary import dictionary_frame
    from churnml.models.training import (
        build_churn_model,
        build_switching_model,
        input_example,
        switching_example,
        train_models,
    )

    # A model trained by other feature or model code would not fit today's feature columns.
    target = folder / f"score-model-{_features_bench().code_digest('features', 'models')}"
    if (target / "churn" / "MLmodel").is_file():
        return target
    print(f"training the bench model for {folder.name} (once) ...", flush=True)
    began = time.perf_counter()
    snapshots = list(default_snapshots(tables, cfg.features))[-TRAIN_SNAPSHOTS:]
    assert snapshots[-1] <= data_end(tables)
    frame = build_features(tables, cfg.features, cfg.labels, snapshots=snapshots)
    features = feature_columns(frame)
    offers = training_offers(tables["competitor_signals"], cfg.labels.switch_signal_kinds)
    result = train_models(frame, features, cfg.model, cfg.labels.horizon_months, offers)
    families = dict(zip(dictionary_frame(features)["name"], dictionary_frame(features)["family"]))
    tracking.export_model(build_churn_model(result, cfg.model, families, {}), input_example(result), target / "churn")
    switching = build_switching_model(result)
    if switching is not None:
        tracking.export_model(switching, switching_example(result), target / "switching")
    print(f"  trained in {time.perf_counter() - began:.0f} s", flush=True)
    return target


def best_of(repeat: int, fn):
    """(fastest seconds, last result) of `repeat` calls of `fn`."""
    best, out = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - began)
    return best, out


def run(accounts: int, months: int, cache: Path, repeat: int, world: Path | None = None) -> None:
    from churnml import tracking
    from churnml.catalog import month_files
    from churnml.config import Config, SyntheticDataConfig
    from churnml.features import build_features, data_end
    from churnml.features.competitor import deepest_discount
    from churnml.scoring.month import score_frames
    from churnml.scoring.risk_list import score_accounts

    fb = _features_bench()
    folder = world or fb.world_dir(cache, accounts, months)
    tables = fb.read_tables(folder)
    cfg = Config(data=SyntheticDataConfig(dir=str(folder)))
    cfg.score.playbook = _default_playbook()
    models = bench_model(folder, tables, cfg)
    churn = tracking.load_churn_model(str(models / "churn"))
    switching = tracking.load_switching_model(str(models / "switching")) if (models / "switching").is_dir() else None

    as_of = pd.Timestamp(data_end(tables))
    t_features, feats = best_of(1, lambda: build_features(tables, cfg.features, cfg.labels, snapshots=[as_of]))
    feats = feats[feats["snapshot"] == as_of]
    scope = feats[feats["in_scope"].astype(bool)]
    discount = deepest_discount(tables.get("competitor_signals"), as_of)

    t_base, _ = best_of(repeat, lambda: churn.fit.booster.predict(churn.fit.matrix(scope)))
    t_shap, _ = best_of(repeat, lambda: churn.fit.booster.predict(churn.fit.matrix(scope), pred_contrib=True))
    t_score, risk = best_of(
        repeat, lambda: score_accounts(feats, churn, switching, tables["accounts"], cfg.score, deepest_discount=discount)
    )
    # The whole month's frames as `churnml score` makes them: list, changes, win-back, drift, report.
    t_frames, month = best_of(
        repeat,
        lambda: score_frames(
            feats, tables, churn, switching, cfg.score, as_of, model_info={"name": "bench", "metrics": churn.metrics},
            retained_share=cfg.labels.retained_share,
        ),
    )
    t_out, files = best_of(repeat, lambda: month_files(month.risk_list, month.report))
    n = len(scope)
    total = t_features + t_frames + t_out
    world_name = folder.name if world is not None else f"{accounts:,} accounts x {months} months"
    print(f"\n{world_name}: {n:,} accounts in scope at {as_of:%Y-%m}, "
          f"{len(churn.features)} features, {churn.fit.booster.num_trees()} trees, "
          f"switching model {'yes' if switching is not None else 'no'}")
    print(f"  baseline  {t_base:7.3f} s  {n / t_base:>10,.0f} accounts/s   (raw booster.predict)")
    print(f"  contribs  {t_shap:7.3f} s  {n / t_shap:>10,.0f} accounts/s   (booster.predict pred_contrib: "
          "the reasons' own floor)")
    print(f"  score     {t_score:7.3f} s  {n / t_score:>10,.0f} accounts/s   (score_accounts)")
    print(f"  frames    {t_frames:7.3f} s  {n / t_frames:>10,.0f} accounts/s   "
          "(score_frames: the list, changes, win-back, drift, report data)")
    print(f"  outputs   {t_out:7.3f} s  {n / t_out:>10,.0f} accounts/s   "
          f"(parquet+csv+xlsx+html, {sum(len(b) for b in files.values()) / 1e6:.1f} MB)")
    print(f"  features  {t_features:7.3f} s  {n / t_features:>10,.0f} accounts/s   (build_features at one snapshot)")
    print(f"  month     {total:7.3f} s  {n / total:>10,.0f} accounts/s   (features + frames + outputs)")
    print(f"  ratio     score / baseline {t_score / t_base:6.1f} x   "
          f"score / (baseline + contribs) {t_score / (t_base + t_shap):5.2f} x   "
          f"score + outputs / baseline {(t_score + t_out) / t_base:6.1f} x")
    print_list_quality(month, folder, as_of, cfg)
    print_improvements_against_truth(feats, churn, month, folder, as_of, cfg, tables["orders"])
    if world is None and accounts * months <= 100_000:  # the default world: training the champion takes a minute
        print_score_process(folder, repeat, month)


# Which component of the world's true hazard each change acts on.
TRUE_COMPONENT = {
    "resolve_complaints": "complaints",
    "executive_visit": "relationship",
    "delivery_back": "growth_gap",
    "price_matched": "competitor",
}


def print_improvements_against_truth(feats, churn, month, folder: Path, as_of, cfg, orders) -> None:
    """The listed improvements checked against the world: the same change applied to the true
    hazard (its component set to 0 at the latest month), the share where the truth moves the
    same way as the model (down), and the rank correlation of the sizes. For deliveries also the
    path today's hazard leaves out: the world turns every late line into complaints, so
    deliveries back on time lower the hazard of the months ahead where the latest quarter's late
    share (the world's own order lines) is above the year's."""
    from churnml.io import read_truth
    from churnml.scoring.improvements import MIN_GAIN, improvement_effects

    try:
        hazard = read_truth(folder)["hazard"]
    except Exception:  # noqa: BLE001 - a world without truth has nothing to check against
        return
    rl = month.risk_list
    risky = rl[rl["risk_band"] != "low"]["account_id"]
    scope = feats[feats["in_scope"].astype(bool)]
    rows = scope[scope["account_id"].astype(str).isin(set(risky))].reset_index(drop=True)
    effects = improvement_effects(rows, churn)
    effects["gain"] = effects["before"] - effects["after"]
    listed = effects[effects["gain"] >= MIN_GAIN].sort_values(["row", "gain"], ascending=[True, False])
    listed = listed.groupby("row").head(2).copy()
    listed["account_id"] = rows["account_id"].astype(str).to_numpy()[listed["row"].to_numpy()]
    latest = hazard[hazard["month"] == hazard["month"].max()].set_index("account_id")
    listed = listed[listed["account_id"].isin(latest.index)]
    h = latest.loc[listed["account_id"]]
    horizon = cfg.labels.horizon_months
    component = np.array([h.iloc[i][TRUE_COMPONENT[c]] for i, c in enumerate(listed["change"])], dtype=float)
    switch = h["hazard_switch"].to_numpy() * np.exp(-component)
    after = 1 - (1 - switch) * (1 - h["hazard_decline"].to_numpy())
    before = h["hazard"].to_numpy()
    true_gain = (1 - (1 - after) ** horizon) - (1 - (1 - before) ** horizon)
    agree = float((true_gain < 0).mean()) if len(listed) else float("nan")
    rho = pd.Series(listed["gain"].to_numpy()).corr(pd.Series(-true_gain), method="spearman")
    print(f"  improve   {'met ' if agree >= 0.85 else 'MISSED'} the truth moves the same way for {100 * agree:.1f} % of the "
          f"{len(listed):,} listed changes (>= 85 %); rank correlation of the sizes {rho:.2f}")
    for name, part in listed.assign(true=true_gain < 0).groupby("change"):
        print(f"              {name:<20} {len(part):4d} listed, truth agrees for {100 * part['true'].mean():5.1f} %")
    delivery = listed["change"].to_numpy() == "delivery_back"
    if delivery.any() and cfg.data.world.complaints_per_late_line > 0:
        later = _late_share_rose(orders, as_of, listed.loc[delivery, "account_id"])
        ahead = (true_gain[delivery] < 0) | later
        print(f"              {'':<20} deliveries, counting the complaints late lines cause in the months ahead: "
              f"truth agrees for {100 * ahead.mean():5.1f} %")


def _late_share_rose(orders: pd.DataFrame, as_of, accounts: pd.Series) -> np.ndarray:
    """Per account, whether its order lines delivered in the 3 months before `as_of` were late
    more often than those of the 12 months before it (late: delivered after the promised date)."""
    dated = orders[orders["delivered_date"].notna() & orders["promised_date"].notna()]
    dated = dated[dated["account_id"].astype(str).isin(set(accounts)) & (dated["order_date"] < as_of)]
    late = (dated["delivered_date"] > dated["promised_date"]).astype(float)
    key = dated["account_id"].astype(str)
    year = late[dated["order_date"] >= as_of - pd.DateOffset(months=12)].groupby(key).mean()
    quarter = late[dated["order_date"] >= as_of - pd.DateOffset(months=3)].groupby(key).mean()
    return (quarter.reindex(accounts) > year.reindex(accounts)).to_numpy()


def print_list_quality(month, folder: Path, as_of, cfg) -> None:
    """What the list says, checked: the share of listed accounts carrying each reason (none
    above `MAX_REASON_SHARE`), the actions, and the win-back list against the world's truth."""
    from churnml.io import read_truth
    from churnml.scoring.reasons import MAX_REASON_SHARE, REASON_SEP

    rl = month.risk_list
    reasons = rl["reason_features"].str.split(REASON_SEP).explode()
    shares = (reasons[reasons != ""].value_counts() / len(rl)).head(8)
    worst = float(shares.max()) if len(shares) else 0.0
    print(f"  reasons   {'met ' if worst <= MAX_REASON_SHARE else 'MISSED'} the most common reason is carried by "
          f"{100 * worst:.1f} % of the {len(rl):,} listed accounts (<= {100 * MAX_REASON_SHARE:.0f} %); "
          f"{(rl['reason_1'] == 'no notable risk').mean() * 100:.0f} % have no notable risk")
    for name, share in shares.items():
        print(f"              {100 * share:5.1f} %  {name}")
    try:
        truth = read_truth(folder)["accounts"].set_index("account_id")
    except Exception:  # noqa: BLE001 - a world without truth has no precision to print
        return
    wb = month.win_back
    churned = wb["account_id"].map(truth["churn_month"])
    ramp = pd.DateOffset(months=cfg.data.world.ramp_months_max)
    start = as_of - pd.DateOffset(months=12) - ramp
    within = churned.notna() & (churned < as_of) & (churned >= start)
    before = churned.notna() & (churned < as_of)
    precision = float(within.mean()) if len(wb) else float("nan")
    print(f"  win-back  {'met ' if precision >= 0.9 else 'MISSED'} {100 * precision:.1f} % of the {len(wb):,} listed "
          f"accounts truly churned in the 12 months (+{cfg.data.world.ramp_months_max} of fading) before "
          f"{as_of:%Y-%m} (>= 90 %); {100 * float(before.mean()) if len(wb) else float('nan'):.1f} % churned at all")


def print_score_process(folder: Path, repeat: int, month) -> None:
    """`churnml score` as a whole process (a user's monthly command, with the features file and a
    champion in place) against its floor measured in this run, also as a whole process (as the
    features floor is): a Python process that reads the month's rows of the features file, runs
    LightGBM `predict` and `pred_contrib` on them and writes the four files (`month_files` of
    this month's list and report, handed over pickled). The floor inside this process (no
    start-up, no imports) is printed beside it. Target: at most 3 x."""
    import pickle
    import tempfile

    import pyarrow.parquet as pq

    from churnml import tracking

    fb = _features_bench()
    root = Path(tempfile.mkdtemp(prefix="churnml-bench-score-"))
    log = root / "command.log"
    for stage in ("features", "train"):
        fb.whole_process(fb.churnml_command(stage, folder, root), log)
    score = fb.best_process(fb.churnml_command("score", folder, root), repeat, log)
    read_file = "read the features from" in log.read_text()

    features_file = next((root / "data" / "features").rglob("features.parquet"))
    churn = tracking.load_churn_model(str(next((root / "models").rglob("churn"))))
    as_of = pq.read_table(features_file, columns=["snapshot"]).column("snapshot").to_pandas().max()
    out = root / "floor"
    out.mkdir()
    handed = root / "floor.pickle"
    handed.write_bytes(pickle.dumps({"fit": churn.fit, "risk_list": month.risk_list, "report": month.report}))
    floor_args = ["--features", str(features_file), "--as-of", str(as_of.date()), "--out", str(out)]

    t_inside, _ = best_of(repeat, lambda: floor(features_file, as_of, churn.fit, month.risk_list, month.report, out))
    process = fb.best_process([sys.executable, __file__, "--floor", str(handed), *floor_args], repeat)
    ratio = score["seconds"] / process["seconds"]
    print("  whole processes (what a user runs):")
    print(f"    floor     {process['seconds']:7.2f} s   peak {process['peak_gb']:5.2f} GB   (a process: read the month's "
          f"features + predict + pred_contrib + write the four files; {t_inside:.2f} s of it inside one process)")
    print(f"    score     {score['seconds']:7.2f} s   peak {score['peak_gb']:5.2f} GB   (churnml score: "
          f"{'read the features file' if read_file else 'did NOT read the features file'})")
    print(f"    ratio     {ratio:7.2f} x {'met ' if ratio <= 3 else 'MISSED'} (target <= 3)   "
          f"against the floor inside one process {score['seconds'] / t_inside:.2f} x")


def floor(features_file: Path, as_of, fit, risk_list, report, out: Path) -> None:
    """The least any scoring must do: the month's features read, the booster's prediction and
    contributions, the four files written."""
    from churnml.catalog import month_files

    rows = pd.read_parquet(features_file, filters=[("snapshot", "in", [pd.Timestamp(as_of)])])
    matrix = fit.matrix(rows[rows["in_scope"].astype(bool)])
    fit.booster.predict(matrix)
    fit.booster.predict(matrix, pred_contrib=True)
    for name, data in month_files(risk_list, report).items():
        (out / name).write_bytes(data)


def floor_process(handed: Path, features_file: Path, as_of: str, out: Path) -> None:
    """`floor` as its own process, with the booster and the month's list handed over pickled."""
    import pickle

    given = pickle.loads(handed.read_bytes())
    floor(features_file, pd.Timestamp(as_of), given["fit"], given["risk_list"], given["report"], out)


def _default_playbook() -> dict:
    import yaml

    text = (HERE.parent / "conf" / "score" / "default.yaml").read_text()
    return dict(yaml.safe_load(text)["playbook"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, help="one world of this many accounts (with --months)")
    parser.add_argument("--months", type=int)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/churnml-bench"))
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest counts")
    parser.add_argument("--world", type=Path, help="only this world, generated beforehand with the default world "
                        "parameters (another seed or size, e.g. `churnml generate data.seed=7 data.dir=DIR`)")
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--features", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        return floor_process(args.floor, args.features, args.as_of, args.out)
    if (args.accounts is None) != (args.months is None):
        parser.error("give both --accounts and --months, or neither (both default sizes)")
    if args.world is not None:
        sizes = [(args.accounts or 0, args.months or 0)]
    else:
        sizes = [(args.accounts, args.months)] if args.accounts else _features_bench().SIZES
    np.seterr(all="ignore")
    for accounts, months in sizes:
        run(accounts, months, args.cache, args.repeat, args.world)


if __name__ == "__main__":
    sys.exit(main())
