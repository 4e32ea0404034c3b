"""Win-back: the accounts lost in the last months, with when, why, to whom and what they bought.

The accounts are those gone by their own rhythm (`churnml.features.labels.gone_by_rhythm`, the
same definition that scopes training and scoring). An account is lost in the month `outcomes`
records its loss, or else in the month after its last month of real business (revenue at least
`retained_share` of its best 12-month average), when the data hold `BASELINE_MONTHS` before it;
`evidence` says how that is known: the recorded loss, the silence since the last order against
its usual gap, or — where small orders went on after that month — what fell and since when
("revenue down to 8 % of usual since 2024-03").
Only losses within `WIN_BACK_MONTHS` before the as-of month are listed: older ones are
history, not a call to make.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from churnml.features.panel import DAYS_PER_MONTH
from churnml.months import month_start
from churnml.scoring.risk_list import account_info

WIN_BACK_MONTHS = 12
# A loss read from revenue needs this many months of data before it: on a short extract an
# account already gone when the data begin would otherwise look lost in its first months.
BASELINE_MONTHS = 6
WIN_BACK_COLUMNS = [
    "account_id",
    "name",
    "account_manager",
    "industry",
    "tier",
    "lost_month",
    "evidence",
    "reason",
    "competitor",
    "revenue_before_loss",
    "last_order_month",
]
_REASON_WORDS = {"competitor": "went to a competitor", "business_decline": "its business declined", "other": "other"}


def _monthly(orders: pd.DataFrame, ids: pd.Index, first: pd.Timestamp, months: int) -> np.ndarray:
    """Net revenue per account (rows, in `ids` order) and month from `first` (columns)."""
    dated = orders[orders["account_id"].astype("str").isin(ids) & orders["order_date"].notna()]
    month = dated["order_date"].dt.to_period("M").dt.to_timestamp()
    col = (month.dt.year - first.year) * 12 + (month.dt.month - first.month)
    keep = (col >= 0) & (col < months)
    out = np.zeros((len(ids), months))
    rows = ids.get_indexer(dated.loc[keep, "account_id"].astype("str"))
    np.add.at(out, (rows, col[keep].to_numpy()), dated.loc[keep, "net_amount"].to_numpy(dtype="float64"))
    return out


def revenue_fell_away(monthly: np.ndarray, retained_share: float) -> np.ndarray:
    """Per row of a monthly revenue matrix, the column after its last month of real business
    (revenue > 0 and at least `retained_share` of its best 12-month average month so far: the
    fading remainder after a break is not business); -1 when there was none."""
    cum = np.concatenate([np.zeros((len(monthly), 1)), np.cumsum(monthly, axis=1)], axis=1)
    cols = np.arange(monthly.shape[1])
    lo = np.maximum(cols - 12, 0)
    width = np.maximum(cols - lo, 1)
    usual = np.maximum.accumulate((cum[:, cols] - cum[:, lo]) / width, axis=1)
    real = (monthly > 0) & (monthly >= retained_share * usual)
    last = np.where(real.any(axis=1), monthly.shape[1] - 1 - np.argmax(real[:, ::-1], axis=1), -2)
    return last + 1


def _evidence(kind: str, lost: str, last: str, cum: np.ndarray, at: int, history: int, gap_days: float) -> str:
    """How a loss is known, in words: a recorded loss as such; a loss read from revenue as the
    silence since the last order (against the account's usual gap), or, where orders went on
    after the last month of real business, what fell and since when."""
    if kind != "revenue fell away":
        return kind
    if last and last >= lost:
        usual = (cum[at] - cum[max(at - 12, 0)]) / max(min(at, 12), 1)
        after = (cum[history] - cum[at]) / max(history - at, 1)
        share = after / usual if usual > 0 else 0.0
        return f"revenue down to {share:.0%} of usual since {lost}".replace("%", " %")
    rhythm = ""
    if np.isfinite(gap_days) and gap_days > 0:
        months = gap_days / DAYS_PER_MONTH
        rhythm = (f"; it usually ordered every {months:.0f} months" if months >= 1.5
                  else "; it usually ordered monthly or more often")
    return f"no order since {last or 'the data began'}{rhythm}"


def win_back_list(
    features_at_t: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    as_of: pd.Timestamp,
    retained_share: float = 0.2,
    months: int = WIN_BACK_MONTHS,
) -> pd.DataFrame:
    """The accounts gone at `as_of` (not in scope, not buying) whose loss falls in the `months`
    before it: when (`lost_month`), how it is known (`evidence`), why and to which competitor
    where `outcomes` says, the revenue of the 12 months before the loss; largest first."""
    as_of = pd.Timestamp(as_of)
    gone = features_at_t[features_at_t["recently_lost"].astype(bool)]
    ids = pd.Index(gone["account_id"].astype("str").unique())
    history = 12 + months + 12
    first = as_of - pd.DateOffset(months=history)
    monthly = _monthly(tables["orders"], ids, first, history)
    fell = revenue_fell_away(monthly, retained_share)

    out = pd.DataFrame({"account_id": ids.to_numpy()})
    lost_col = pd.Series(fell, index=out.index)
    out["evidence"] = "revenue fell away"
    out["reason"] = ""
    out["competitor"] = ""
    outcomes = tables.get("outcomes")
    if outcomes is not None and len(outcomes):
        known = outcomes[(outcomes["lost_at"] < as_of) & outcomes["account_id"].astype("str").isin(ids)]
        latest = known.sort_values("lost_at").drop_duplicates("account_id", keep="last")
        latest = latest.astype({c: "str" for c in ("reason", "competitor") if c in latest})  # words, not codes
        latest.index = latest["account_id"].astype("str")
        recorded = out["account_id"].isin(latest.index)
        at = out.loc[recorded, "account_id"].map(latest["lost_at"]).map(month_start)
        lost_col[recorded] = ((at.dt.year - first.year) * 12 + (at.dt.month - first.month)).to_numpy()
        out.loc[recorded, "evidence"] = "loss recorded"
        if "reason" in latest:
            words = out.loc[recorded, "account_id"].map(latest["reason"]).map(_REASON_WORDS)
            out.loc[recorded, "reason"] = words.fillna("").to_numpy()
        if "competitor" in latest:
            out.loc[recorded, "competitor"] = out.loc[recorded, "account_id"].map(latest["competitor"]).fillna("").to_numpy()

    lost_col = lost_col.to_numpy()
    window = (lost_col >= history - months) & (lost_col < history)
    dated = tables["orders"]["order_date"].dropna()
    data_start = month_start(dated.min()) if len(dated) else as_of
    start_col = (data_start.year - first.year) * 12 + (data_start.month - first.month)
    by_revenue = (out["evidence"] == "revenue fell away").to_numpy()
    window &= ~by_revenue | (lost_col - start_col >= BASELINE_MONTHS)
    cum = np.concatenate([np.zeros((len(ids), 1)), np.cumsum(monthly, axis=1)], axis=1)
    end = np.clip(lost_col, 0, history)
    out["revenue_before_loss"] = cum[np.arange(len(ids)), end] - cum[np.arange(len(ids)), np.clip(end - 12, 0, history)]
    out["lost_month"] = [(first + pd.DateOffset(months=int(c))).strftime("%Y-%m") for c in np.maximum(lost_col, 0)]
    positive = np.where(monthly > 0, np.arange(history)[None, :], -1).max(axis=1) if len(ids) else np.zeros(0)
    out["last_order_month"] = [
        (first + pd.DateOffset(months=int(c))).strftime("%Y-%m") if c >= 0 else "" for c in positive
    ]
    gaps = features_at_t.drop_duplicates("account_id").set_index(features_at_t["account_id"].astype("str"))
    gap_days = gaps["order_gap_mean_days"] if "order_gap_mean_days" in gaps else pd.Series(dtype=float)
    out["evidence"] = [
        _evidence(kind, lost, last, cum[i], end[i], history, gap_days.get(acc, np.nan))
        for i, (acc, kind, lost, last) in enumerate(
            zip(out["account_id"], out["evidence"], out["lost_month"], out["last_order_month"]))
    ]
    info = account_info(tables["accounts"])
    for col in ("name", "account_manager", "industry", "tier"):
        out[col] = out["account_id"].map(info[col]) if col in info else np.nan
    out = out[window]
    out = out.sort_values(["revenue_before_loss", "account_id"], ascending=[False, True], kind="mergesort")
    return out.reset_index(drop=True)[WIN_BACK_COLUMNS]
