"""Helpers of the notebooks in `notebooks/`: small pure functions that turn churnml's own tables,
features and models into the views a data scientist looks at (churn rates by group, the label
applied to one account, an account's events and risk over time, the champion's held-out scores).

They take DataFrames, configs and fitted models and return DataFrames; they read no files and
know neither Hydra nor MLflow (the notebooks get the config from `churnml.cli.compose_config`
and the models from `churnml.tracking`). Figures are `matplotlib.figure.Figure`s, as in
`churnml.plots`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from churnml.config import LabelsConfig
from churnml.errors import ConfigError
from churnml.evaluate import METRIC_NAMES, SplitEvaluation

Z95 = 1.959964  # two-sided 95 % normal quantile, for Wilson intervals


# ----------------------------------------------------------------------------------------------
# Revenue by month
# ----------------------------------------------------------------------------------------------


def monthly_revenue(orders: pd.DataFrame, account_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Net revenue per month (rows: month starts, every month from the first to the latest order)
    and account (columns; all accounts with orders, or `account_ids`), 0 for a month without orders."""
    dated = orders[orders["order_date"].notna()]
    month = dated["order_date"].dt.to_period("M").dt.to_timestamp()
    table = dated.groupby([month, dated["account_id"]])["net_amount"].sum().unstack(fill_value=0.0)
    months = pd.date_range(month.min(), month.max(), freq="MS")
    columns = table.columns if account_ids is None else pd.Index(list(account_ids))
    table = table.reindex(index=months, columns=columns, fill_value=0.0)
    table.index.name, table.columns.name = "month", "account_id"
    return table


def revenue_after(frame: pd.DataFrame, orders: pd.DataFrame, months: int) -> pd.Series:
    """Net revenue of each row's account in `[snapshot, snapshot + months)` (index of `frame`):
    the revenue the churn label looks at."""
    monthly = monthly_revenue(orders)
    cum = np.vstack([np.zeros((1, monthly.shape[1])), monthly.to_numpy().cumsum(axis=0)])
    first = monthly.index[0]
    start = (frame["snapshot"].dt.year - first.year) * 12 + (frame["snapshot"].dt.month - first.month)
    lo = np.clip(start.to_numpy(), 0, len(monthly))
    hi = np.clip(start.to_numpy() + months, 0, len(monthly))
    col = monthly.columns.get_indexer(frame["account_id"].astype(str))
    known = col >= 0
    out = np.zeros(len(frame))
    out[known] = cum[hi[known], col[known]] - cum[lo[known], col[known]]
    return pd.Series(out, index=frame.index, name=f"revenue_next_{months}m")


# ----------------------------------------------------------------------------------------------
# Churn rates
# ----------------------------------------------------------------------------------------------


def wilson_interval(successes, n) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval of a rate `successes / n` (arrays); NaN where n is 0."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def churn_rates(
    rows: pd.DataFrame,
    by: str,
    bins: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
    label: str = "churn",
    missing: str = "missing",
) -> pd.DataFrame:
    """Churn rate of labelled rows grouped by column `by` (cut into `bins` edges, right-closed,
    named `names` when given; missing values form their own group named `missing`).

    Columns: `rows`, `churned`, `rate` with its 95 % interval `low`/`high`, and `revenue_rate`,
    the share of the group's trailing-12-month revenue held by rows that churned."""
    if by not in rows.columns:
        raise KeyError(f"churn_rates: no column {by!r} in the rows")
    key = rows[by]
    if bins is not None:
        key = pd.cut(
            pd.to_numeric(key, errors="coerce"),
            bins=list(bins),
            labels=None if names is None else list(names),
            include_lowest=True,
        )
    # Groups in a readable order: bins or categories as defined, other values sorted; missing last.
    if isinstance(key.dtype, pd.CategoricalDtype):
        levels = [str(c) for c in key.cat.categories]
    else:
        levels = [str(v) for v in sorted(key.dropna().unique())]
    key = key.astype(object).where(key.notna(), missing).astype(str)
    y = rows[label].astype(float)
    revenue = rows["revenue_12m"].clip(lower=0.0) if "revenue_12m" in rows else pd.Series(0.0, index=rows.index)
    table = pd.DataFrame({"key": key, "y": y, "rev": revenue, "lost": y * revenue}).groupby("key").agg(
        rows=("y", "size"), churned=("y", "sum"), rev=("rev", "sum"), lost=("lost", "sum")
    )
    order = [lv for lv in [*levels, missing] if lv in table.index]
    table = table.loc[order]
    table["rate"] = table["churned"] / table["rows"]
    table["low"], table["high"] = wilson_interval(table["churned"], table["rows"])
    with np.errstate(divide="ignore", invalid="ignore"):
        table["revenue_rate"] = np.where(table["rev"] > 0, table["lost"] / table["rev"], np.nan)
    table.index.name = by
    return table[["rows", "churned", "rate", "low", "high", "revenue_rate"]].astype(
        {"rows": "int64", "churned": "int64"}
    )


# ----------------------------------------------------------------------------------------------
# The label, applied
# ----------------------------------------------------------------------------------------------


def label_evidence(
    frame: pd.DataFrame, tables: Mapping[str, pd.DataFrame], labels_cfg: LabelsConfig
) -> pd.DataFrame:
    """The numbers behind the churn label of every row of `frame` (same index): `threshold`
    (= retained_share x usual monthly revenue x H), `revenue_next` (revenue earned in
    `[t, t + H)`), `below_threshold`, `loss_recorded` (`outcomes` records a loss in the window),
    next to the `churn` label that `build_features` gave (NaN when unlabelled or out of scope).
    Where labelled and in scope, churn = below_threshold or loss_recorded."""
    H = labels_cfg.horizon_months
    out = frame[["account_id", "snapshot", "in_scope", "labelled", "usual_monthly_revenue"]].copy()
    out["threshold"] = labels_cfg.retained_share * out["usual_monthly_revenue"] * H
    out["revenue_next"] = revenue_after(frame, tables["orders"], H)
    out["below_threshold"] = out["revenue_next"] <= out["threshold"]
    out["loss_recorded"] = False
    outcomes = tables.get("outcomes")
    if outcomes is not None and len(outcomes):
        losses = outcomes[["account_id", "lost_at"]].dropna().astype({"account_id": str})
        keys = out[["account_id", "snapshot"]].astype({"account_id": str}).reset_index()
        pairs = keys.merge(losses, on="account_id")
        end = pairs["snapshot"] + pd.DateOffset(months=H)
        hit = pairs.loc[(pairs["lost_at"] >= pairs["snapshot"]) & (pairs["lost_at"] < end), "index"]
        out.loc[out.index.isin(hit.unique()), "loss_recorded"] = True
    out["churn"] = frame["churn"]
    out["switch"] = frame["switch"]
    return out


def label_walkthrough(
    frame: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    account_id: str,
    labels_cfg: LabelsConfig,
) -> pd.DataFrame:
    """`label_evidence` of one account, one row per snapshot, oldest first."""
    rows = frame[frame["account_id"].astype(str) == str(account_id)]
    if rows.empty:
        raise KeyError(f"label_walkthrough: account {account_id!r} has no rows in the features frame")
    evidence = label_evidence(rows, tables, labels_cfg)
    return evidence.drop(columns="account_id").sort_values("snapshot").reset_index(drop=True)


def label_examples(
    evidence: pd.DataFrame, min_history_months: int = 12
) -> dict[str, tuple[str, pd.Timestamp]]:
    """Accounts that show the cases of the label, as (account_id, snapshot), the account with the
    most usual revenue in each (a different account for each case), preferring snapshots with
    `min_history_months` of history:
    `stopped` (bought next to nothing in the window), `partial` (still buying, but below the
    threshold: most of the business moved elsewhere), `recorded` (revenue above the threshold,
    but `outcomes` records the loss) and `retained` (in scope, not churned). `evidence` comes
    from `label_evidence`."""
    rows = evidence[evidence["labelled"].astype(bool) & evidence["churn"].notna()]
    first = rows["snapshot"].min() + pd.DateOffset(months=min_history_months)
    if (rows["snapshot"] >= first).any():
        rows = rows[rows["snapshot"] >= first]
    share = rows["revenue_next"] / rows["threshold"].where(rows["threshold"] > 0)
    cases = {
        "stopped": rows["below_threshold"] & (share.fillna(0) <= 0.05),
        "partial": rows["below_threshold"] & (share > 0.3),
        "recorded": ~rows["below_threshold"] & rows["loss_recorded"],
        "retained": rows["churn"] == 0,
    }
    picks: dict[str, tuple[str, pd.Timestamp]] = {}
    for name, mask in cases.items():
        # One account per case: each example shows a different account.
        taken = [acc for acc, _ in picks.values()]
        part = rows[mask.fillna(False) & ~rows["account_id"].astype(str).isin(taken)]
        if name != "retained":
            part = part.sort_values("snapshot").drop_duplicates("account_id")  # first churn snapshot
        if len(part):
            best = part.sort_values(["usual_monthly_revenue", "snapshot"], ascending=[False, True]).iloc[0]
            picks[name] = (str(best["account_id"]), pd.Timestamp(best["snapshot"]))
    return picks


# ----------------------------------------------------------------------------------------------
# The champion's out-of-time evaluation
# ----------------------------------------------------------------------------------------------


def metrics_table(metrics: Mapping[str, float], prefix: str | None = None) -> pd.DataFrame:
    """Namespaced metrics (`oot/auc`, `baseline_rfm/oot/auc`, `oracle/oot/auc`, ...) as a table:
    one row per metric of `churnml.evaluate.METRIC_NAMES`, one column per scorer (model first).
    `prefix` is the evaluation plan's namespace (default: `holdout/` when the metrics have it,
    else `oot/`)."""
    if prefix is None:
        prefix = "holdout/" if any("holdout/" in k for k in metrics) else "oot/"
    table: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        head, _, name = key.rpartition(prefix)
        if name not in METRIC_NAMES or (head and not head.endswith("/")):
            continue
        scorer = head.rstrip("/") or "model"
        table.setdefault(scorer, {})[name] = float(value)
    scorers = sorted(table, key=lambda s: (s != "model", s.startswith("oracle"), s))
    return pd.DataFrame({s: table[s] for s in scorers}).reindex(list(METRIC_NAMES))


def champion_evaluation(
    frame: pd.DataFrame,
    churn_model: Any,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> SplitEvaluation:
    """The champion's evaluation, scored again: the held-out rows of its plan (at
    `churn_model.info["test_snapshots"]`) scored by the model it carries (which never saw them)
    and by the baselines fitted on the plan's fitting rows (and the oracle, if given).

    Raises `ConfigError` when `frame` has no labelled rows at those snapshots (other data)."""
    from churnml.evaluate import evaluate_fitted
    from churnml.models.churn import training_rows

    test = [pd.Timestamp(f"{m}-01") for m in churn_model.info.get("test_snapshots", [])]
    rows = training_rows(frame)
    if not test or not rows["snapshot"].isin(test).any():
        months = ", ".join(churn_model.info.get("test_snapshots", [])) or "none recorded"
        raise ConfigError(
            f"the champion's held-out snapshots ({months}) have no labelled rows in these data: "
            "review it on the data it was trained on, or retrain with `churnml train`"
        )
    from churnml.models.split import oot_plan

    fit = churn_model.evaluation
    # Models from before evaluation plans carry none: they were tested out-of-time.
    plan = getattr(fit, "plan", None) or oot_plan(sorted(fit.fitted_snapshots), test, fit.horizon)
    return evaluate_fitted(rows, fit, plan, oracle)


def story_account(scores: pd.DataFrame, top: float = 0.1) -> str:
    """An account worth telling the story of: among held-out rows that churned, the one with
    the most revenue that the model put in the top `top` of its snapshot's list (else the
    churned account with the most revenue)."""
    churned = scores[scores["churn"] == 1]
    if churned.empty:
        raise ValueError("story_account: no held-out row churned")
    rank = scores.groupby("snapshot")["model"].rank(ascending=False, pct=True)
    flagged = churned[rank.loc[churned.index] <= top]
    pool = flagged if len(flagged) else churned
    return str(pool.sort_values("revenue_12m", ascending=False)["account_id"].iloc[0])


# ----------------------------------------------------------------------------------------------
# One account's story
# ----------------------------------------------------------------------------------------------


def _pct(value: Any) -> str:
    return "" if pd.isna(value) else f"{abs(float(value)) * 100:.0f} % {'below' if value < 0 else 'above'} our price"


def account_events(
    tables: Mapping[str, pd.DataFrame], account_id: str, kinds: Sequence[str] | None = None
) -> pd.DataFrame:
    """What happened to one account, oldest first: complaints, competitor signals,
    interactions (all kinds, or `kinds`), key contacts leaving, recorded losses.
    Columns `date, source, event`. Contacts appear by role only (no personal details)."""
    aid = str(account_id)
    events: list[tuple[pd.Timestamp, str, str]] = []

    def of(table: str) -> pd.DataFrame:
        frame = tables.get(table)
        if frame is None:
            return pd.DataFrame()
        return frame[frame["account_id"].astype(str) == aid]

    for r in of("complaints").itertuples(index=False):
        days = (r.resolved_at - r.opened_at).days if pd.notna(r.resolved_at) else None
        status = "still open" if days is None else f"resolved in {days} days"
        severity = "" if pd.isna(r.severity) else f", severity {int(r.severity)}"
        category = "" if pd.isna(r.category) else f"{r.category} "
        events.append((r.opened_at, "complaint", f"{category}complaint{severity}, {status}"))
    for r in of("competitor_signals").itertuples(index=False):
        who = "competitor" if pd.isna(r.competitor) else r.competitor
        kind = "signal" if pd.isna(r.kind) else str(r.kind).replace("_", " ")
        gap = _pct(r.price_gap)
        events.append((r.observed_at, "competitor", f"{who}: {kind}" + (f", {gap}" if gap else "")))
    inter = of("interactions")
    if kinds is not None and len(inter):
        inter = inter[inter["kind"].isin(list(kinds))]
    for r in inter.itertuples(index=False):
        events.append((r.occurred_at, "relationship", str(r.kind).replace("_", " ")))
    for r in of("contacts").itertuples(index=False):
        if pd.notna(r.end_date):
            role = "contact" if pd.isna(r.role) else str(r.role).replace("_", " ")
            events.append((r.end_date, "contacts", f"a {role} left"))
    for r in of("outcomes").itertuples(index=False):
        reason = "" if pd.isna(r.reason) else f": {str(r.reason).replace('_', ' ')}"
        winner = "" if pd.isna(r.competitor) else f" ({r.competitor})"
        events.append((r.lost_at, "outcome", f"loss recorded{reason}{winner}"))
    out = pd.DataFrame(events, columns=["date", "source", "event"])
    out["date"] = pd.to_datetime(out["date"])
    return out.sort_values(["date", "source"], kind="mergesort").reset_index(drop=True)


def risk_history(
    frame: pd.DataFrame,
    churn_model: Any,
    account_id: str,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
    n_reasons: int = 3,
) -> pd.DataFrame:
    """One account's churn risk at each snapshot where it was in scope: the registered model's
    probability (`churn_probability`, what the risk list shows) and its top reasons, the
    evaluation model's (`evaluation_probability`, fitted before the held-out test), the true
    risk when an `oracle` is given, and the label (`churn`, NaN when not yet known)."""
    from churnml.score import model_families, top_reasons

    rows = frame[(frame["account_id"].astype(str) == str(account_id)) & frame["in_scope"].astype(bool)]
    if rows.empty:
        raise KeyError(f"risk_history: account {account_id!r} is never in scope in the features frame")
    out = rows[["snapshot", "revenue_12m", "churn"]].copy()
    out["churn_probability"] = churn_model.predict_proba(rows)
    out["evaluation_probability"] = churn_model.evaluation.predict_proba(rows)
    if oracle is not None:
        out["oracle"] = oracle(rows)
    reasons = top_reasons(churn_model.contributions(rows), rows, model_families(churn_model), n=n_reasons)
    for k in range(n_reasons):
        out[f"reason_{k + 1}"] = [r[k].text if len(r) > k else "" for r in reasons]
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


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
