"""Exploring the data and its labels: revenue by month, churn rates by group, the label
applied to one account, what happened to an account. Notebook 1 is built on these.

Pure functions on churnml's tables and features frames; they read no files.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from churnml.config import LabelsConfig
from churnml.features.labels import regular_for_gap
from churnml.features.panel import window_sum

Z95 = 1.959964  # two-sided 95 % normal quantile, for Wilson intervals


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
    first = monthly.index[0]
    start = ((frame["snapshot"].dt.year - first.year) * 12 + (frame["snapshot"].dt.month - first.month)).to_numpy()
    starts = np.unique(start)
    sums = window_sum(monthly.to_numpy().T, starts, months)  # (accounts, distinct snapshots)
    col = monthly.columns.get_indexer(frame["account_id"].astype(str))
    known = col >= 0
    out = np.zeros(len(frame))
    out[known] = sums[col[known], np.searchsorted(starts, start[known])]
    return pd.Series(out, index=frame.index, name=f"revenue_next_{months}m")


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


def label_evidence(
    frame: pd.DataFrame, tables: Mapping[str, pd.DataFrame], labels_cfg: LabelsConfig
) -> pd.DataFrame:
    """The numbers behind the churn label of every row of `frame` (same index): `regular`
    (a regular buyer, whose revenue shows defection: `churnml.features.labels.regular_buyer`),
    `threshold` (= retained_share x usual monthly revenue x H), `revenue_next` (revenue earned in
    `[t, t + H)`), `orders_next` (order lines in it), `below_threshold` (for a regular buyer
    revenue_next <= threshold, for any other no order in the window), `loss_recorded` (`outcomes`
    records a loss in the window), next to the `churn` label that `build_features` gave (NaN when
    unlabelled or out of scope). Where labelled and in scope, churn = below_threshold or
    loss_recorded."""
    H = labels_cfg.horizon_months
    out = frame[["account_id", "snapshot", "in_scope", "labelled", "usual_monthly_revenue"]].copy()
    gap = frame["order_gap_mean_days"] if "order_gap_mean_days" in frame else pd.Series(0.0, index=frame.index)
    out["regular"] = regular_for_gap(gap.to_numpy(dtype="float64"), labels_cfg)
    out["threshold"] = labels_cfg.retained_share * out["usual_monthly_revenue"] * H
    out["revenue_next"] = revenue_after(frame, tables["orders"], H)
    out["orders_next"] = revenue_after(frame, tables["orders"].assign(net_amount=1.0), H)
    out["below_threshold"] = np.where(out["regular"], out["revenue_next"] <= out["threshold"], out["orders_next"] == 0)
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
