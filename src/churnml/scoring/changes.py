"""What changed since the previous list: moves, new entries, new reasons, who left and why."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnml.scoring.reasons import REASON_SEP


@dataclass
class Changes:
    """What changed against the previous list.

    `rows`: per account of the current list (same index) `change` ('new', 'up N', 'down N', '='),
    `previous_rank`, `rank_change` (places moved up; negative: down), `churn_probability_change`,
    `revenue_at_risk_change` and `new_reasons` (reasons whose feature was not a reason last time);
    `left`: the accounts of the previous list that are no longer on it;
    `previous_as_of`: the month of the previous list, None when there was none."""

    rows: pd.DataFrame
    left: pd.DataFrame
    previous_as_of: str | None


LEFT_COLUMNS = ["account_id", "name", "account_manager", "previous_rank", "previous_priority", "previous_band"]


def no_changes(index: pd.Index) -> pd.DataFrame:
    """The change columns of a list with nothing to compare with."""
    return pd.DataFrame(
        {
            "change": pd.Series(pd.NA, index=index, dtype="str"),
            "previous_rank": pd.Series(pd.NA, index=index, dtype="Int64"),
            "rank_change": pd.Series(pd.NA, index=index, dtype="Int64"),
            "churn_probability_change": pd.Series(np.nan, index=index, dtype="float64"),
            "revenue_at_risk_change": pd.Series(np.nan, index=index, dtype="float64"),
            "new_reasons": pd.Series("", index=index, dtype="str"),
        }
    )


CHANGE_COLUMNS = ("change", "previous_rank", "rank_change", "churn_probability_change", "revenue_at_risk_change", "new_reasons")


def compare_lists(current: pd.DataFrame, previous: pd.DataFrame | None) -> Changes:
    """Compare the current risk list with the previous one (None: nothing to compare with)."""
    if previous is None:
        return Changes(no_changes(current.index), pd.DataFrame(columns=LEFT_COLUMNS), None)

    prev = previous.drop_duplicates("account_id").set_index(previous["account_id"].astype("str").rename(None))
    ids = current["account_id"].astype("str")
    prev_rank = ids.map(prev["rank"]).astype("Int64")
    move = prev_rank - current["rank"].astype("Int64")  # positive = moved up the list
    change = pd.Series("=", index=current.index, dtype="str")
    change[move > 0] = "up " + move[move > 0].astype("str")
    change[move < 0] = "down " + (-move[move < 0]).astype("str")
    change[prev_rank.isna()] = "new"

    prev_features = ids.map(prev["reason_features"]).fillna("")
    new_reasons = []
    for i in range(len(current)):
        if pd.isna(prev_rank.iat[i]):
            new_reasons.append("")  # the whole entry is new
            continue
        before = set(filter(None, str(prev_features.iat[i]).split(REASON_SEP)))
        feats = str(current["reason_features"].iat[i] or "").split(REASON_SEP)
        texts = [current[f"reason_{k + 1}"].iat[i] for k in range(len(feats))]
        new_reasons.append(REASON_SEP.join(t for f, t in zip(feats, texts) if f and f not in before))
    def moved(column: str) -> pd.Series:
        if column not in prev or column not in current:
            return pd.Series(np.nan, index=current.index, dtype="float64")
        before = ids.map(pd.to_numeric(prev[column], errors="coerce")).astype("float64")
        return (current[column].astype("float64") - before).rename(None)

    rows = pd.DataFrame(
        {
            "change": change,
            "previous_rank": prev_rank,
            "rank_change": move.astype("Int64"),
            "churn_probability_change": moved("churn_probability"),
            "revenue_at_risk_change": moved("revenue_at_risk"),
            "new_reasons": pd.Series(new_reasons, index=current.index, dtype="str"),
        }
    )

    gone = prev[~prev.index.isin(set(ids))]
    left = pd.DataFrame(
        {
            "account_id": gone.index.astype("str"),
            "name": gone.get("name", pd.Series(np.nan, index=gone.index)).to_numpy(),
            "account_manager": gone.get("account_manager", pd.Series(np.nan, index=gone.index)).to_numpy(),
            "previous_rank": gone["rank"].astype("Int64").to_numpy(),
            "previous_priority": gone.get("priority", pd.Series(np.nan, index=gone.index)).to_numpy(),
            "previous_band": gone.get("risk_band", pd.Series(np.nan, index=gone.index)).to_numpy(),
        }
    ).sort_values(["previous_rank", "account_id"], kind="mergesort").reset_index(drop=True)
    previous_as_of = str(previous["as_of"].iloc[0]) if "as_of" in previous and len(previous) else None
    return Changes(rows, left, previous_as_of)


def apply_changes(risk_list: pd.DataFrame, changes: Changes) -> pd.DataFrame:
    """The risk list with its change columns filled from `changes`."""
    out = risk_list.copy()
    for col in CHANGE_COLUMNS:
        out[col] = changes.rows[col].reindex(out.index)
    return out


def left_status(ids: pd.Series, features: pd.DataFrame) -> list[str]:
    """Why each account that left the list is no longer on it."""
    f = features.set_index(features["account_id"].astype("str"))
    out = []
    for acc in ids.astype("str"):
        if acc not in f.index:
            out.append("no longer in the data")
        elif bool(f.at[acc, "recently_lost"]):
            out.append("recently lost (see win-back)")
        else:
            out.append("out of scope (no purchases in the last 12 months)")
    return out
