"""Evaluation plots as matplotlib figures (no files here: `churnml.tracking.log_figure` saves them).

Figures are built with `matplotlib.figure.Figure` directly, not pyplot, so nothing depends on a
display or on global state.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from churnml.evaluate import calibration_table

_LABELS = {
    "model": "churn model",
    "baseline_rule": "rule: revenue halved",
    "baseline_rfm": "RFM logistic",
    "oracle": "oracle (true hazard)",
}


def _label(name: str) -> str:
    return _LABELS.get(name, name)


def _ranked_share(score: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-score, kind="stable")
    cum = np.cumsum(values[order]) / max(values.sum(), 1e-12)
    share = np.arange(1, len(score) + 1) / len(score)
    return np.concatenate([[0], share]), np.concatenate([[0], cum])


def roc_figure(scores: pd.DataFrame, scorers: list[str]) -> Figure:
    """ROC curves of each scorer on the held-out rows (`churn` + one column per scorer)."""
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    y = scores["churn"].to_numpy(dtype=float)
    for name in scorers:
        fpr, tpr, _ = roc_curve(y, scores[name].to_numpy(dtype=float))
        ax.plot(fpr, tpr, label=_label(name))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, out-of-time")
    ax.legend(loc="lower right")
    return fig


def gains_figure(scores: pd.DataFrame, scorers: list[str]) -> Figure:
    """Cumulative gains (share of churners caught), lift, and revenue capture (the Pareto curve
    of churned revenue) against the share of the ranked list."""
    fig = Figure(figsize=(14, 4.5))
    gains, lift, revenue = fig.subplots(1, 3)
    y = scores["churn"].to_numpy(dtype=float)
    lost = y * np.clip(scores["revenue_12m"].to_numpy(dtype=float), 0, None)
    for name in scorers:
        s = scores[name].to_numpy(dtype=float)
        share, caught = _ranked_share(s, y)
        gains.plot(share, caught, label=_label(name))
        with np.errstate(divide="ignore", invalid="ignore"):
            lift.plot(share[1:], caught[1:] / share[1:], label=_label(name))
        share, money = _ranked_share(s, lost)
        revenue.plot(share, money, label=_label(name))
    for ax in (gains, revenue):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    gains.set(xlabel="share of list", ylabel="share of churners", title="cumulative gains")
    lift.set(xlabel="share of list", ylabel="lift", title="lift", xlim=(0.01, 1))
    lift.axvline(0.1, color="grey", linestyle=":", linewidth=1)
    revenue.set(xlabel="share of list", ylabel="share of churned revenue", title="revenue capture")
    revenue.axvline(0.1, color="grey", linestyle=":", linewidth=1)
    gains.legend(loc="lower right")
    fig.tight_layout()
    return fig


def calibration_figure(scores: pd.DataFrame, scorers: list[str]) -> Figure:
    """Observed churn rate against mean predicted probability, per equal-width bin."""
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    y = scores["churn"].to_numpy(dtype=float)
    top = 0.0
    for name in scorers:
        table = calibration_table(y, scores[name])
        ax.plot(table["p"], table["y"], marker="o", label=_label(name))
        top = max(top, float(table["p"].max()), float(table["y"].max()))
    top = min(1.0, top * 1.05 + 0.01)
    ax.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="mean predicted probability", ylabel="observed churn rate", title="calibration, out-of-time")
    ax.legend(loc="upper left")
    return fig


def importance_figure(gain: pd.Series, top: int = 25) -> Figure:
    """Horizontal bars of the total gain of the `top` features."""
    shown = gain.head(top)[::-1]
    fig = Figure(figsize=(7, 0.28 * len(shown) + 1.2))
    ax = fig.subplots()
    ax.barh(shown.index, shown.to_numpy() / max(gain.sum(), 1e-12))
    ax.set(xlabel="share of total gain", title="feature importance (gain)")
    fig.tight_layout()
    return fig


def shap_summary_figure(contributions: pd.DataFrame, matrix: pd.DataFrame, top: int = 20, seed: int = 0) -> Figure:
    """SHAP summary: per feature (by mean |contribution|), each row's contribution as a dot,
    coloured by the feature's value rank (blue low, red high; grey for categories / missing)."""
    contrib = contributions.drop(columns=["bias"], errors="ignore")
    order = contrib.abs().mean().sort_values(ascending=False).head(top).index[::-1]
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(8, 0.32 * len(order) + 1.5))
    ax = fig.subplots()
    for i, name in enumerate(order):
        x = contrib[name].to_numpy()
        col = matrix[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            colour = np.full(len(x), 0.5)
        else:
            colour = pd.Series(col.to_numpy(dtype=float)).rank(pct=True).fillna(0.5).to_numpy()
        y = i + rng.uniform(-0.3, 0.3, len(x))
        ax.scatter(x, y, c=colour, cmap="coolwarm", s=4, alpha=0.6, vmin=0, vmax=1, linewidths=0)
    ax.set_yticks(range(len(order)), labels=list(order))
    ax.axvline(0, color="grey", linewidth=1)
    ax.set(xlabel="contribution to log-odds of churn (pred_contrib)", title="SHAP summary")
    fig.tight_layout()
    return fig


def switching_curve_figure(curves: pd.DataFrame, threshold: float = 0.5) -> Figure:
    """Switching probability against the offered discount for a few accounts (one line each)."""
    fig = Figure(figsize=(6.5, 5))
    ax = fig.subplots()
    discounts = 100 * np.asarray(curves.columns, dtype=float)
    for account, row in curves.iterrows():
        ax.plot(discounts, row.to_numpy(dtype=float), label=str(account))
    ax.axhline(threshold, color="grey", linestyle=":", linewidth=1)
    ax.set(
        xlabel="competitor discount (%)",
        ylabel="probability of switching within the horizon",
        title="switching probability by discount",
        ylim=(0, 1),
    )
    ax.legend(loc="upper left", fontsize="small")
    return fig


def revenue_pareto_figure(revenue: pd.Series, top: float = 0.2) -> Figure:
    """The revenue Pareto curve: share of total revenue held by the largest accounts, against the
    share of accounts (largest first), with the share held by the top `top` fraction marked."""
    values = np.asarray(revenue, dtype=float)
    share, held = _ranked_share(values, values)
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    ax.plot(100 * share, 100 * held, label="accounts, largest first")
    ax.plot([0, 100], [0, 100], color="grey", linestyle=":", linewidth=1, label="equal revenue")
    k = max(1, int(np.ceil(top * len(values) - 1e-9)))
    ax.axvline(100 * share[k], color="grey", linestyle="--", linewidth=1)
    ax.annotate(
        f"top {100 * top:.0f} % hold {100 * held[k]:.0f} %",
        (100 * share[k], 100 * held[k]),
        xytext=(8, -16),
        textcoords="offset points",
    )
    ax.set(xlabel="share of accounts (%)", ylabel="share of net revenue (%)", title="revenue Pareto curve",
           xlim=(0, 100), ylim=(0, 105))
    ax.legend(loc="lower right")
    return fig


# --------------------------------------------------------------------------- the notebooks' figures


def churn_rate_figure(rates: Mapping[str, pd.DataFrame], overall: float | None = None, ncols: int = 3) -> Figure:
    """One bar chart per `churn_rates` table (titled by its key): the churn rate of each group
    with its 95 % interval, the revenue-weighted rate as a dot, and the `overall` rate as a line."""
    n = len(rates)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(5 * ncols, 3.6 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, (title, table) in zip(axes, rates.items()):
        x = np.arange(len(table))
        rate = 100 * table["rate"].to_numpy()
        err = 100 * np.vstack([table["rate"] - table["low"], table["high"] - table["rate"]])
        ax.bar(x, rate, yerr=err, capsize=3, color="tab:blue", alpha=0.8, label="churn rate (95 % interval)")
        ax.plot(x, 100 * table["revenue_rate"].to_numpy(), "o", color="tab:red", label="revenue-weighted")
        if overall is not None:
            ax.axhline(100 * overall, color="grey", linestyle=":", linewidth=1, label="all rows")
        tilt = 40 if len(table) > 5 else 0
        labels = [f"{g}{' ' if tilt else chr(10)}(n={n})" for g, n in zip(table.index, table["rows"])]
        ax.set_xticks(x, labels=labels, fontsize="small", rotation=tilt, ha="right" if tilt else "center")
        ax.set(title=title, ylabel="churn within the horizon (%)")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize="small")
    return fig


def label_example_figure(
    revenue: pd.Series, evidence_row: Mapping[str, Any], horizon: int, retained_share: float, title: str = ""
) -> Figure:
    """An account's monthly revenue (`monthly_revenue` column) with the label of one snapshot t
    (`evidence_row`, a row of `label_evidence`): the usual monthly revenue before t, the
    per-month threshold (retained_share x usual), and the window [t, t + H) shaded."""
    t = pd.Timestamp(evidence_row["snapshot"])
    end = t + pd.DateOffset(months=horizon)
    usual = float(evidence_row["usual_monthly_revenue"])
    fig = Figure(figsize=(9, 3.4))
    ax = fig.subplots()
    ax.bar(revenue.index, revenue.to_numpy() / 1e3, width=25, color="tab:blue", alpha=0.7, label="net revenue per month")
    ax.axvspan(t, end, color="tab:orange", alpha=0.15, label=f"label window [t, t + {horizon})")
    ax.hlines(usual / 1e3, t - pd.DateOffset(months=12), t, color="black", linestyle="--",
              label="usual monthly revenue (12 months before t)")
    ax.hlines(retained_share * usual / 1e3, t, end, color="tab:red",
              label=f"threshold: {retained_share:.0%} of usual, per month")
    label = evidence_row["churn"]
    verdict = "not labelled" if pd.isna(label) else ("churn" if label == 1 else "no churn")
    why = []
    if evidence_row["below_threshold"]:
        why.append("revenue below the threshold")
    if evidence_row["loss_recorded"]:
        why.append("loss recorded")
    ax.set(
        ylabel="thousands",
        title=f"{title}\nt = {t:%Y-%m}: {evidence_row['revenue_next'] / 1e3:,.0f}k earned in the window vs "
        f"threshold {evidence_row['threshold'] / 1e3:,.0f}k -> {verdict}" + (f" ({', '.join(why)})" if why else ""),
    )
    ax.title.set_fontsize("medium")
    ax.legend(loc="upper left", fontsize="x-small")
    return fig


def account_story_figure(
    revenue: pd.Series,
    events: pd.DataFrame,
    risk: pd.DataFrame,
    test_snapshots: Sequence[str] = (),
    title: str = "",
) -> Figure:
    """Three panels sharing time: monthly revenue; the account's events by source; churn risk at
    each snapshot (`risk_history`: registered model, evaluation model, oracle if present), with
    the held-out test months shaded and the snapshots labelled churn marked."""
    fig = Figure(figsize=(11, 8))
    top, mid, low = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1.2, 2]})
    top.bar(revenue.index, revenue.to_numpy() / 1e3, width=25, color="tab:blue", alpha=0.7)
    top.set(ylabel="revenue per month (thousands)", title=title)
    sources = list(dict.fromkeys(events["source"])) if len(events) else []
    for i, source in enumerate(sources):
        when = events.loc[events["source"] == source, "date"]
        mid.plot(when, np.full(len(when), i), "|", markersize=14, markeredgewidth=2)
    mid.set_yticks(range(len(sources)), labels=sources)
    mid.set_ylim(-0.7, max(len(sources), 1) - 0.3)
    mid.set(ylabel="events")
    low.plot(risk["snapshot"], risk["churn_probability"], marker="o", label="registered model (risk list)")
    low.plot(risk["snapshot"], risk["evaluation_probability"], marker=".", label="evaluation model")
    if "oracle" in risk:
        low.plot(risk["snapshot"], risk["oracle"], color="grey", linestyle="--", label="true risk (oracle)")
    churned = risk[risk["churn"] == 1]
    low.plot(churned["snapshot"], np.full(len(churned), -0.04), "v", color="tab:red", label="labelled churn")
    if len(test_snapshots):
        first = pd.Timestamp(f"{min(test_snapshots)}-01")
        last = pd.Timestamp(f"{max(test_snapshots)}-01") + pd.DateOffset(months=1)
        for ax in (top, mid, low):
            ax.axvspan(first, last, color="tab:orange", alpha=0.12)
    low.set(ylabel="churn probability", ylim=(-0.08, 1.02), xlabel="snapshot (shaded: held-out test)")
    low.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig
