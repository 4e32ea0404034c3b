"""The ranked retention-priority list of one month: one row per account in scope.

`score_accounts` scores the features of every account in scope at one snapshot; its columns
(`RISK_LIST_COLUMNS`) are what jobs read from risk_list.parquet / .csv.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np
import pandas as pd

from churnml.config import LOWEST_BAND
from churnml.features.dictionary import FAMILIES as FEATURE_FAMILIES
from churnml.features.dictionary import FEATURES
from churnml.models.outputs import CHURN, COST, SWITCH, churn_outputs, contributions_of, switching_outputs
from churnml.months import month_label
from churnml.scoring.actions import check_playbook, recommend_action
from churnml.scoring.changes import no_changes
from churnml.scoring.improvements import improvement_effects, top_improvements
from churnml.scoring.priority import rank_by_priority, retention_priority, risk_band
from churnml.scoring.reasons import MAX_REASON_SHARE, REASON_SEP, RowView, top_reasons, with_own_risk

ACCOUNT_COLUMNS = ("name", "account_manager", "industry", "tier", "influence")
NO_RISK_REASON = "no notable risk"
NO_RISK_ACTION = "No retention action needed; keep up the usual account care"

# The columns of the risk list, in order: what jobs read from risk_list.parquet / .csv.
RISK_LIST_COLUMNS = [
    "as_of",
    "rank",
    "account_id",
    "name",
    "account_manager",
    "industry",
    "tier",
    "revenue_12m",
    "churn_probability",
    "switch_probability",
    "switching_cost",
    "deepest_discount",
    "revenue_at_risk",
    "influence",
    "priority",
    "risk_band",
    "reason_1",
    "reason_2",
    "reason_3",
    "action",
    "improvement_1",
    "improvement_2",
    "change",
    "previous_rank",
    "rank_change",
    "churn_probability_change",
    "revenue_at_risk_change",
    "new_reasons",
    "reason_features",
    "reason_families",
]

def score_accounts(
    features_at_t: pd.DataFrame,
    churn_model: Any,
    switching_model: Any | None,
    accounts: pd.DataFrame,
    cfg: Any,
    *,
    deepest_discount: pd.Series | None = None,
    families: Mapping[str, str] | None = None,
    format_reason: Callable[..., str] | None = None,
    outputs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The risk list for one snapshot: one row per account in scope, ranked by retention priority.

    `features_at_t`: `build_features` rows of one snapshot; `churn_model` has `predict_proba` and
    `contributions`; `switching_model` (optional) has `switching_cost` and `switch_probability`;
    `accounts`: the accounts table (name, manager, industry, tier, influence); `cfg`: a
    `ScoreConfig`; `deepest_discount`: per account_id, the deepest recent competitor discount;
    `outputs`: the models' outputs by account_id when computed elsewhere (on Spark; see
    `model_outputs`). Columns are `RISK_LIST_COLUMNS` except the change columns (see
    `compare_lists`)."""
    snapshots = features_at_t["snapshot"].unique() if len(features_at_t) else []
    if len(snapshots) > 1:
        raise ValueError(f"score_accounts takes one snapshot; got {len(snapshots)}")
    scope = features_at_t[features_at_t["in_scope"].astype(bool)]
    scope = scope.sort_values("account_id", kind="mergesort").reset_index(drop=True)
    as_of = month_label(snapshots[0]) if len(snapshots) else None

    out = pd.DataFrame({"account_id": scope["account_id"].astype("str")})
    out.insert(0, "as_of", as_of)
    info = account_info(accounts)
    for col in ACCOUNT_COLUMNS:
        out[col] = out["account_id"].map(info[col]) if col in info else np.nan
    out["influence"] = pd.to_numeric(out["influence"], errors="coerce").astype("float64")
    out["revenue_12m"] = scope["revenue_12m"].astype("float64").to_numpy()

    discount = deepest_discount if deepest_discount is not None else pd.Series(dtype="float64")
    out["deepest_discount"] = out["account_id"].map(discount).astype("float64")
    # At the deepest discount a competitor has offered; at price parity when none is known.
    offered = out["deepest_discount"].fillna(0.0).to_numpy()
    if outputs is None:
        outputs = model_outputs(scope, churn_model, switching_model, offered)
    else:
        outputs = outputs.set_index(outputs["account_id"].astype(str)).loc[out["account_id"]]
        outputs.index = scope.index
    out["churn_probability"] = outputs[CHURN].to_numpy(dtype="float64")
    # Returns can make a year's net revenue negative: nothing is at risk then.
    out["revenue_at_risk"] = out["churn_probability"] * out["revenue_12m"].clip(lower=0.0)
    out["switching_cost"] = outputs[COST].to_numpy(dtype="float64") if COST in outputs else np.nan
    out["switch_probability"] = outputs[SWITCH].to_numpy(dtype="float64") if SWITCH in outputs else np.nan

    out["priority"] = retention_priority(out, cfg.weights)
    out["risk_band"] = risk_band(out["churn_probability"], cfg.risk_bands)
    out["rank"] = rank_by_priority(out)

    fams = dict(families if families is not None else model_families(churn_model))
    playbook = dict(cfg.playbook or {})
    if len(scope):
        contribs = contributions_of(outputs)
        # Checked against the whole dictionary: a key for a feature this model lacks is no typo.
        check_playbook(playbook, sorted(set(FEATURE_FAMILIES) | set(fams.values())), sorted(set(fams) | set(FEATURES)))
        reasons = top_reasons(contribs, scope, fams, n=3, format_reason=format_reason, max_share=MAX_REASON_SHARE)
    else:
        reasons = []
    reasons = [with_own_risk(r) for r in reasons]
    # Below every band there is no risk worth a reason or an action.
    quiet = (out["risk_band"] == LOWEST_BAND).to_numpy()
    reasons = [[] if q else r for r, q in zip(reasons, quiet)]
    for k in range(3):
        out[f"reason_{k + 1}"] = [r[k].text if len(r) > k else "" for r in reasons]
    out.loc[quiet, "reason_1"] = NO_RISK_REASON
    out["reason_features"] = [REASON_SEP.join(x.feature for x in r) for r in reasons]
    out["reason_families"] = [REASON_SEP.join(x.family for x in r) for r in reasons]
    columns = {str(c): scope[c].to_numpy(dtype=object) for c in scope.columns}
    actions = []
    for i, (r, cost, deep) in enumerate(zip(reasons, out["switching_cost"], out["deepest_discount"])):
        if quiet[i]:
            actions.append(NO_RISK_ACTION)
            continue
        values = ChainMap({"switching_cost": cost, "deepest_discount": deep}, RowView(columns, i))
        actions.append(recommend_action([(x.feature, x.family) for x in r], playbook, values))
    out["action"] = actions
    # What would lower the risk most, for the accounts in the riskier bands.
    improvements: list[list[str]] = [[] for _ in range(len(out))]
    risky = np.flatnonzero(~quiet)
    if len(risky):
        effects = improvement_effects(scope.iloc[risky], churn_model)
        for pos, texts in zip(risky, top_improvements(effects, len(risky))):
            improvements[pos] = texts
    for k in range(2):
        out[f"improvement_{k + 1}"] = [t[k] if len(t) > k else "" for t in improvements]
    for col, values in no_changes(out.index).items():
        out[col] = values
    out = out.sort_values("rank", kind="mergesort").reset_index(drop=True)
    return out[RISK_LIST_COLUMNS]


def model_outputs(scope: pd.DataFrame, churn_model: Any, switching_model: Any | None, offered: np.ndarray) -> pd.DataFrame:
    """The models' outputs for the rows of `scope` (`churnml.models.outputs`): the churn
    probability and contributions, and with a switching model the switching cost and the
    switch probability at the `offered` discount; same index as `scope`."""
    if not len(scope):
        return pd.DataFrame({CHURN: pd.Series(dtype="float64")}, index=scope.index)
    out = churn_outputs(churn_model.predict_proba(scope), churn_model.contributions(scope))
    if switching_model is not None:
        part = switching_outputs(switching_model.switch_probability(scope, offered),
                                 switching_model.switching_cost(scope).to_numpy(), scope.index)
        out = pd.concat([out, part], axis=1)
    return out


def model_families(churn_model: Any) -> dict[str, str]:
    """feature -> family for the model's features: the model's own map, else the dictionary's."""
    fams = getattr(churn_model, "families", None)
    if fams:
        return dict(fams)
    names = getattr(churn_model, "features", None) or list(FEATURES)
    return {n: FEATURES[n].family for n in names if n in FEATURES}


def account_info(accounts: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ACCOUNT_COLUMNS if c in accounts]
    info = accounts[["account_id", *cols]].drop_duplicates("account_id").copy()
    info["account_id"] = info["account_id"].astype("str")
    return info.set_index("account_id")


def check_model_features(model: Any, features: pd.DataFrame) -> None:
    """ConfigError when the data lack features the model was trained with."""
    from churnml.errors import ConfigError

    wanted = list(getattr(model, "features", []) or [])
    missing = [f for f in wanted if f not in features.columns]
    if missing:
        raise ConfigError(
            f"the churn model needs {len(missing)} feature(s) these data do not have "
            f"({', '.join(missing[:8])}{', …' if len(missing) > 8 else ''}): score with the same "
            "`features` option and tables the model was trained with, or retrain"
        )


# How the CSV rounds: money to cents, probabilities and fractions to 4 places.
CSV_DECIMALS = {
    "revenue_12m": 2, "revenue_at_risk": 2, "priority": 2, "revenue_at_risk_change": 2,
    "churn_probability": 4, "switch_probability": 4, "switching_cost": 4, "deepest_discount": 4,
    "influence": 4, "churn_probability_change": 4,
}


def csv_text(risk_list: pd.DataFrame) -> str:
    """The risk list as CSV for jobs and spreadsheets: money in cents, probabilities to 4 places,
    a switching cost above the range seen empty, with the words in `switching_cost_note` beside
    it (as the workbook has it: no `inf` a spreadsheet cannot read)."""
    from churnml.scoring.actions import ABOVE_RANGE_WORDS

    out = risk_list.copy()
    if "switching_cost" in out:
        cost = pd.to_numeric(out["switching_cost"], errors="coerce")
        above = np.isinf(cost.to_numpy(dtype=float))
        out["switching_cost"] = cost.mask(above)
        out.insert(out.columns.get_loc("switching_cost") + 1, "switching_cost_note",
                   np.where(above, ABOVE_RANGE_WORDS, ""))
    for column, places in CSV_DECIMALS.items():
        if column in out:
            out[column] = pd.to_numeric(out[column], errors="coerce").round(places)
    return out.to_csv(index=False, lineterminator="\n")

