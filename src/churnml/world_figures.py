"""Calibration figures of a synthetic world: is it realistic, and is it hard enough?

`world_figures(world)` measures, on the observable tables only (plus the truth for the oracle):
- the churn rate of in-scope accounts at the labelled snapshots (label as in DESIGN.md: revenue
  in `[t, t+H)` at most `retained_share` of usual, or a loss recorded in that window);
- the oracle's out-of-time AUC (`oracle_scores` against that label on the last snapshots);
- the AUC of the best single observable column among a few simple ones, on the same snapshots;
- the share of revenue held by the top 20 % of accounts (last 12 months).

Scope, labels and usual revenue are the pipeline's own (`churnml.features.labels`), so the figures measure
the world as the model sees it; the simple columns are computed here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnml.config import LabelsConfig
from churnml.data.summary import top_share
from churnml.data.synthetic import World, oracle_scores
from churnml.features.build import make_panel
from churnml.features.labels import account_status, make_labels
from churnml.features.orders import aggregate, usual_monthly_revenue
from churnml.features.panel import month_numbers


def _month_index(dates: pd.Series, start: pd.Timestamp) -> np.ndarray:
    """Months since `start` (float, NaN where the date is missing)."""
    d = pd.to_datetime(dates)
    out = (d.dt.year - start.year) * 12 + (d.dt.month - start.month)
    return out.to_numpy(dtype=float, na_value=np.nan)


def _matrix(acc: np.ndarray, month: np.ndarray, n: int, m: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Sum of `weights` (or counts) per account and month, for months inside [0, m)."""
    ok = (month >= 0) & (month < m) & (acc >= 0)
    flat = acc[ok].astype(np.int64) * m + month[ok].astype(np.int64)
    w = None if weights is None else weights[ok]
    return np.bincount(flat, w, minlength=n * m).reshape(n, m).astype(float)


def _window(cum: np.ndarray, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
    """Sum over months [lo, hi) per account, from cumulative sums with a leading zero column."""
    n = cum.shape[0]
    rows = np.arange(n)
    lo = np.clip(np.broadcast_to(lo, (n,)), 0, cum.shape[1] - 1)
    hi = np.clip(np.broadcast_to(hi, (n,)), 0, cum.shape[1] - 1)
    return cum[rows, hi] - cum[rows, lo]


def _last_before(events: np.ndarray) -> np.ndarray:
    """For each account and month t, the last month < t holding an event (-inf if none)."""
    n, m = events.shape
    months = np.where(events, np.arange(m)[None, :], -np.inf)
    last = np.maximum.accumulate(months, axis=1)
    return np.concatenate([np.full((n, 1), -np.inf), last], axis=1)  # column t = through t-1


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def snapshot_panel(
    world: World,
    horizon: int = 6,
    retained_share: float = 0.2,
    scope_months: int = 12,
    lost_window_months: int = 3,
    first_snapshot: int = 12,
    rhythm_gaps: float = 2.0,
) -> pd.DataFrame:
    """In-scope accounts at every labelled snapshot from month `first_snapshot` on, with the
    label (`churn`) and a few simple observable columns, computed from the tables only."""
    t0 = world.start
    tables = world.tables
    ids = tables["accounts"]["account_id"].to_numpy()
    n, m, H = len(ids), world.months, horizon
    pos = pd.Index(ids)
    snapshots = np.arange(max(first_snapshot, 1), m - H + 1)
    cfg = LabelsConfig(
        horizon_months=H,
        retained_share=retained_share,
        scope_months=scope_months,
        lost_window_months=lost_window_months,
        rhythm_gaps=rhythm_gaps,
    )
    in_scope, churn, usual = _scope_and_labels(tables, month_numbers(np.datetime64(t0, "M")) + snapshots, cfg)

    def acc_of(frame: pd.DataFrame) -> np.ndarray:
        return pos.get_indexer(frame["account_id"])

    orders = tables["orders"]
    o_acc, o_month = acc_of(orders), _month_index(orders["order_date"], t0)
    revenue = _matrix(o_acc, o_month, n, m, orders["net_amount"].to_numpy(dtype=float))
    bought = _matrix(o_acc, o_month, n, m, (orders["net_amount"] > 0).to_numpy(dtype=float)) > 0
    rev_cum = np.concatenate([np.zeros((n, 1)), np.cumsum(revenue, axis=1)], axis=1)

    late = (orders["delivered_date"] > orders["promised_date"]).to_numpy(dtype=float)
    known = orders["delivered_date"].notna().to_numpy() & orders["promised_date"].notna().to_numpy()
    late_n = np.cumsum(_matrix(o_acc, o_month, n, m, late * known), axis=1)
    known_n = np.cumsum(_matrix(o_acc, o_month, n, m, known.astype(float)), axis=1)
    late_cum = np.concatenate([np.zeros((n, 1)), late_n], axis=1)
    known_cum = np.concatenate([np.zeros((n, 1)), known_n], axis=1)

    comp = tables["complaints"]
    c_acc, c_open = acc_of(comp), _month_index(comp["opened_at"], t0)
    c_res = np.nan_to_num(_month_index(comp["resolved_at"], t0), nan=m + 1)
    # Open at t: opened in a month < t and resolved in a month >= t.
    diff = np.zeros((n, m + 2))
    np.add.at(diff, (c_acc, (c_open + 1).astype(int)), 1)
    np.add.at(diff, (c_acc, np.minimum(c_res + 1, m + 1).astype(int)), -1)
    open_now = np.cumsum(diff, axis=1)[:, : m + 1]

    sig = tables["competitor_signals"]
    s_acc, s_month = acc_of(sig), _month_index(sig["observed_at"], t0)
    sig_cum = np.concatenate([np.zeros((n, 1)), np.cumsum(_matrix(s_acc, s_month, n, m), axis=1)], axis=1)
    gaps = sig.assign(acc=s_acc, month=s_month).dropna(subset=["price_gap"])
    gap = np.full((n, m), np.nan)
    gap[gaps["acc"].to_numpy(), gaps["month"].to_numpy(dtype=int)] = gaps["price_gap"].to_numpy()
    gap_last = pd.DataFrame(gap).ffill(axis=1).to_numpy()
    gap_before = np.concatenate([np.full((n, 1), np.nan), gap_last], axis=1)

    inter = tables["interactions"]
    ex = inter[inter["kind"] == "exec_visit"]
    exec_last = _last_before(_matrix(acc_of(ex), _month_index(ex["occurred_at"], t0), n, m) > 0)
    con = tables["contacts"]
    dm = con[(con["role"] == "decision_maker") & con["end_date"].notna()]
    dm_last = _last_before(_matrix(acc_of(dm), _month_index(dm["end_date"], t0), n, m) > 0)
    buy_last = _last_before(bought)

    rows = []
    for j, t in enumerate(snapshots):
        last3 = np.maximum(_window(rev_cum, t - 3, t), 0)  # returns can make a window negative
        prev3 = np.maximum(_window(rev_cum, t - 6, t - 3), 0)
        lines_known = _window(known_cum, t - 3, t)
        frame = pd.DataFrame(
            {
                "account_id": ids,
                "snapshot": t0 + pd.DateOffset(months=t),
                "t": t,
                "in_scope": in_scope[:, j],
                "churn": churn[:, j],
                "revenue_trend_3m": np.log((last3 + 1) / (prev3 + 1)),
                "revenue_3m_vs_usual": last3 / np.maximum(3 * usual[:, j], 1),
                "months_since_order": np.minimum(t - buy_last[:, t], 99),
                "open_complaints": open_now[:, t],
                "latest_price_gap": np.nan_to_num(gap_before[:, t], nan=0.0),
                "signals_6m": _window(sig_cum, t - 6, t),
                "months_since_exec_visit": np.minimum(t - exec_last[:, t], 99),
                "decision_maker_left_6m": (t - dm_last[:, t]) <= 6,
                "late_share_3m": _window(late_cum, t - 3, t) / np.maximum(lines_known, 1),
                "revenue_12m": np.log1p(np.maximum(_window(rev_cum, t - 12, t), 0)),
            }
        )
        rows.append(frame[frame["in_scope"]])
    if not rows:
        return pd.DataFrame(columns=["account_id", "snapshot", "t", "in_scope", "churn", *FEATURES])
    return pd.concat(rows, ignore_index=True)


def _scope_and_labels(
    tables: dict[str, pd.DataFrame], months: np.ndarray, cfg: LabelsConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In scope (and labelled), churn and usual monthly revenue of every account at the absolute
    `months`, `(A, len(months))` each, as `churnml.features.labels` defines them for the pipeline."""
    panel = make_panel(tables, months)
    op = aggregate(panel, tables["orders"])
    outcomes = tables.get("outcomes")
    status = account_status(panel, op, tables["accounts"], outcomes, cfg)
    churn = make_labels(panel, op, status, outcomes, None, cfg)["churn"]
    return ~np.isnan(churn), churn == 1, usual_monthly_revenue(panel, op, panel.cols)


FEATURES = (
    "revenue_trend_3m",
    "revenue_3m_vs_usual",
    "months_since_order",
    "open_complaints",
    "latest_price_gap",
    "signals_6m",
    "months_since_exec_visit",
    "decision_maker_left_6m",
    "late_share_3m",
    "revenue_12m",
)


def world_figures(world: World, horizon: int = 6, test_snapshots: int = 6, **label_args: Any) -> dict[str, Any]:
    """Churn rate, oracle AUC, best single-feature AUC and revenue concentration of a world.

    The AUCs are out-of-time: on the last `test_snapshots` labelled snapshots of
    `snapshot_panel(world, horizon, **label_args)`.
    """
    panel = snapshot_panel(world, horizon, **label_args)
    truth = world.truth["accounts"]
    churned = truth["churn_month"].notna()
    figures: dict[str, Any] = {
        "snapshots": int(panel["t"].nunique()),
        "in_scope_rows": int(len(panel)),
        "top20_revenue_share": _top_share(world),
        "accounts_churned": int(churned.sum()),
        "recorded_share": float(truth.loc[churned, "outcome_recorded"].mean()) if churned.any() else None,
    }
    test_t = sorted(panel["t"].unique())[-test_snapshots:]
    test = panel[panel["t"].isin(test_t)]
    if test["churn"].nunique() < 2:
        # Too short (or too small) a world for labelled snapshots of both kinds: no rates, no AUCs.
        return figures | {"churn_rate": None, "churn_rate_test": None, "oracle_auc": None,
                          "best_feature": None, "best_feature_auc": None, "feature_aucs": {}}
    oracle = oracle_scores(world.truth, test["snapshot"].unique(), horizon)
    test = test.merge(oracle, on=["account_id", "snapshot"], how="left")
    y = test["churn"].to_numpy()
    aucs = {}
    for name in FEATURES:
        a = _auc(y, test[name].to_numpy(dtype=float))
        aucs[name] = max(a, 1 - a)  # a column may separate either way
    best = max(aucs, key=aucs.get)

    return figures | {
        "churn_rate": float(panel["churn"].mean()),
        "churn_rate_test": float(test["churn"].mean()),
        "oracle_auc": _auc(y, test["oracle"].fillna(0).to_numpy()),
        "best_feature": best,
        "best_feature_auc": aucs[best],
        "feature_aucs": aucs,
    }


def _top_share(world: World) -> float:
    """Share of the last 12 months' net revenue earned by the top 20 % of the accounts that
    bought in them (the world's calibration target, measured on buyers)."""
    orders = world.tables["orders"]
    recent = orders["order_date"] >= world.end - pd.DateOffset(months=12)
    per_account = orders.loc[recent].groupby("account_id")["net_amount"].sum()
    return top_share(per_account[per_account > 0], 0.2)
