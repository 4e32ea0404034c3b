"""Monthly scoring: the ranked retention-priority list, its reasons, actions and changes.

Pure functions on DataFrames. `score_accounts` turns the features of every account in scope at
one snapshot into the risk list; `compare_lists` says what changed since the previous list;
`win_back_list` lists the accounts that have already gone. Files, models and MLflow are the
business of `churnml.stages.score`.

The retention priority of an account is

    priority = revenue at risk
               x (1 + w_influence x influence)
               x (1 + w_low_switching_cost x [switching cost < deepest recent competitor discount])

where revenue at risk = churn probability x trailing-12-month revenue, influence is the account's
`influence` in [0, 1] (missing = 0), and the bracket is 1 when a competitor has recently offered
this account a discount deeper than the price margin it can be defended on, else 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Collection, Sequence

import numpy as np
import pandas as pd

from churnml.errors import ConfigError
from churnml.features.dictionary import FAMILIES as FEATURE_FAMILIES
from churnml.features.dictionary import FEATURES
from churnml.features.dictionary import format_reason as dictionary_reason

PRIORITY_FORMULA = (
    "priority = revenue at risk × (1 + w_influence × influence) × "
    "(1 + w_low_switching_cost × [switching cost < deepest competitor discount of the last 12 months])"
)
WEIGHT_KEYS = ("influence", "low_switching_cost")
LOWEST_BAND = "low"
DEFAULT_ACTION = "Review the account with its manager"
ACCOUNT_COLUMNS = ("name", "account_manager", "industry", "tier", "influence")

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
    "change",
    "previous_rank",
    "new_reasons",
    "reason_features",
    "reason_families",
]
REASON_SEP = "; "


# --------------------------------------------------------------------------- months and bands


def parse_month(text: Any, param: str = "score.as_of") -> pd.Timestamp:
    """`"2025-07"` -> Timestamp('2025-07-01'); a ConfigError naming `param` for anything else."""
    value = str(text).strip()
    if not re.fullmatch(r"\d{4}-\d{2}", value):
        raise ConfigError(f"{param} must be a month written YYYY-MM (e.g. 2025-07); got {text!r}")
    try:
        return pd.Timestamp(f"{value}-01")
    except ValueError:
        raise ConfigError(f"{param} must be a month written YYYY-MM (e.g. 2025-07); got {text!r}") from None


def month_label(month: pd.Timestamp) -> str:
    """Timestamp('2025-07-01') -> '2025-07' (the name of the month's output folder)."""
    return pd.Timestamp(month).strftime("%Y-%m")


def band_order(bands: Mapping[str, float]) -> list[str]:
    """Band names from the most to the least risky, ending with 'low' (below every threshold)."""
    check_bands(bands)
    return [name for name, _ in sorted(bands.items(), key=lambda kv: (-kv[1], kv[0]))] + [LOWEST_BAND]


def check_bands(bands: Mapping[str, float]) -> None:
    """Raise ConfigError unless `bands` maps names to distinct churn-probability thresholds in (0, 1)."""
    if not bands:
        raise ConfigError("score.risk_bands must name at least one band, e.g. {high: 0.3, medium: 0.15}")
    for name, threshold in bands.items():
        if not isinstance(threshold, (int, float)) or not 0 < float(threshold) < 1:
            raise ConfigError(
                f"score.risk_bands.{name} must be a churn probability between 0 and 1; got {threshold!r}"
            )
        if name == LOWEST_BAND:
            raise ConfigError(
                f"score.risk_bands must not define {LOWEST_BAND!r}: it is the band below every threshold"
            )
    if len(set(bands.values())) != len(bands):
        raise ConfigError(f"score.risk_bands thresholds must differ; got {dict(bands)}")


def risk_band(p: pd.Series | np.ndarray, bands: Mapping[str, float]) -> pd.Series:
    """The band of each churn probability: the riskiest band whose threshold it reaches, else 'low'."""
    order = band_order(bands)
    probs = pd.Series(p, dtype="float64")
    out = pd.Series(LOWEST_BAND, index=probs.index, dtype="str")
    # From the least to the most risky, so the riskiest reached threshold wins.
    for name in reversed(order[:-1]):
        out[probs >= float(bands[name])] = name
    return out


# --------------------------------------------------------------------------- priority


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The priority weights as floats; ConfigError for an unknown key or a negative weight."""
    unknown = sorted(set(weights) - set(WEIGHT_KEYS))
    if unknown:
        raise ConfigError(
            f"score.weights has unknown key(s) {unknown}; allowed: {list(WEIGHT_KEYS)}"
        )
    out = {k: float(weights.get(k, 0.0)) for k in WEIGHT_KEYS}
    for key, value in out.items():
        if not np.isfinite(value) or value < 0:
            raise ConfigError(f"score.weights.{key} must be a number >= 0; got {weights.get(key)!r}")
    return out


def low_switching_cost(frame: pd.DataFrame) -> pd.Series:
    """True where the account's switching cost is below the deepest competitor discount it was
    recently offered (missing either: False, so no evidence means no uplift)."""
    if "switching_cost" not in frame or "deepest_discount" not in frame:
        return pd.Series(False, index=frame.index)
    cost = pd.to_numeric(frame["switching_cost"], errors="coerce")
    deep = pd.to_numeric(frame["deepest_discount"], errors="coerce")
    return (cost < deep).fillna(False).astype(bool)


def retention_priority(frame: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Retention priority per row (see the module docstring for the formula).

    Needs `revenue_at_risk`; uses `influence`, `switching_cost` and `deepest_discount` when present
    (a missing factor counts as no uplift)."""
    w = check_weights(weights)
    rar = pd.to_numeric(frame["revenue_at_risk"], errors="coerce").fillna(0.0)
    influence = (
        pd.to_numeric(frame["influence"], errors="coerce").fillna(0.0).clip(0.0, 1.0)
        if "influence" in frame
        else 0.0
    )
    low_cost = low_switching_cost(frame).astype("float64")
    priority = rar * (1.0 + w["influence"] * influence) * (1.0 + w["low_switching_cost"] * low_cost)
    return priority.astype("float64").rename("priority")


def rank_by_priority(frame: pd.DataFrame) -> pd.Series:
    """Rank 1 = highest priority; ties broken by account_id so the order is reproducible."""
    order = frame.sort_values(["priority", "account_id"], ascending=[False, True], kind="mergesort").index
    rank = pd.Series(np.arange(1, len(order) + 1), index=order, dtype="int64")
    return rank.reindex(frame.index).rename("rank")


# --------------------------------------------------------------------------- reasons


@dataclass(frozen=True)
class Reason:
    """One reason of one account: the feature behind it, its family, its contribution, its words."""

    feature: str
    family: str
    contribution: float
    text: str


def rank_reasons(
    contribs: pd.DataFrame, families: Mapping[str, str], n: int = 3
) -> list[list[tuple[str, str, float]]]:
    """For each row, up to `n` (feature, family, family contribution) triples, most risky first.

    Contributions are grouped by feature family; a family is a reason when its summed
    contribution is positive, and it is represented by its feature with the largest positive
    contribution. Families are ordered by their summed contribution (ties: family name, then
    feature name), so three different kinds of reason are given rather than three views of one.
    """
    frame = contribs.drop(columns=["bias"], errors="ignore")
    features = sorted(frame.columns)
    missing = [f for f in features if f not in families]
    if missing:
        raise ValueError(f"no family for feature(s) {missing[:5]}: add them to the feature dictionary")
    fams = sorted({families[f] for f in features})
    values = frame[features].to_numpy(dtype="float64", na_value=0.0)
    n_rows = len(frame)
    fam_sum = np.zeros((n_rows, len(fams)))
    top_val = np.full((n_rows, len(fams)), -np.inf)
    top_idx = np.zeros((n_rows, len(fams)), dtype=np.int64)
    for j, fam in enumerate(fams):
        cols = [i for i, f in enumerate(features) if families[f] == fam]  # name order
        block = values[:, cols]
        fam_sum[:, j] = block.sum(axis=1)
        best = block.argmax(axis=1)  # first maximum = alphabetical tie-break
        top_idx[:, j] = np.asarray(cols)[best]
        top_val[:, j] = block[np.arange(n_rows), best]
    eligible = (fam_sum > 0) & (top_val > 0)
    score = np.where(eligible, fam_sum, -np.inf)
    order = np.argsort(-score, axis=1, kind="stable")[:, :n]  # stable: ties keep family name order
    rows = np.arange(n_rows)[:, None]
    keep = eligible[rows, order].tolist()
    feat = top_idx[rows, order].tolist()
    sums = fam_sum[rows, order].tolist()
    order = order.tolist()
    # Eligible families come first in `order`, so each row's reasons are a prefix of it.
    return [
        [(features[f], fams[j], c) for ok, f, j, c in zip(k, fi, oi, si) if ok]
        for k, fi, oi, si in zip(keep, feat, order, sums)
    ]


class _Row(Mapping):
    """One row of a frame as a read-only mapping, without building a pandas Series."""

    __slots__ = ("_columns", "_i")

    def __init__(self, columns: dict[str, np.ndarray], i: int):
        self._columns = columns
        self._i = i

    def __getitem__(self, key: str) -> Any:
        return self._columns[key][self._i]

    def __contains__(self, key: object) -> bool:
        return key in self._columns

    def __iter__(self):
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def descriptors(features: Collection[str]) -> list[str]:
    """The features among `features` that the dictionary marks as account descriptors (not
    `actionable`: size, category spend, industry, region, tier, influence, tenure)."""
    return [f for f in features if f in FEATURES and not FEATURES[f].actionable]


def top_reasons(
    contribs: pd.DataFrame,
    features: pd.DataFrame,
    families: Mapping[str, str],
    n: int = 3,
    format_reason: Callable[..., str] | None = None,
    hidden: Collection[str] | None = None,
) -> list[list[Reason]]:
    """The top `n` reasons of each row of `contribs` (LightGBM pred_contrib, one column per feature
    plus `bias`), in plain words with the account's own values from the same row of `features`.

    Only families and features that push the risk up are reasons; see `rank_reasons` for the order.
    Features in `hidden` (default: the dictionary's account descriptors) are never reasons and
    do not count in their family's sum: they describe who the account is, not why it is at risk
    now, though they still count in its probability. `format_reason(name, value, row)` defaults
    to the feature dictionary's."""
    if len(contribs) != len(features):
        raise ValueError(f"contributions have {len(contribs)} rows, features {len(features)}")
    fmt = format_reason or dictionary_reason
    hidden = descriptors(contribs.columns) if hidden is None else hidden
    contribs = contribs.drop(columns=[c for c in hidden if c in contribs.columns])
    contribs = without_non_reasons(contribs, features)
    ranked = rank_reasons(contribs, families, n)
    columns = {str(c): features[c].to_numpy(dtype=object) for c in features.columns}
    out: list[list[Reason]] = []
    for i, row_reasons in enumerate(ranked):
        row = _Row(columns, i)
        out.append([Reason(f, fam, c, fmt(f, row[f] if f in row else None, row)) for f, fam, c in row_reasons])
    return out


def without_non_reasons(contribs: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """`contribs` with 0 where a feature's value is no reason to act, though it moves the
    probability: a recent-event feature (`Feature.recent_within`) whose event is missing or older
    than that, and a missing value that is not itself a risk (`Feature.missing_is_risk`)."""
    out = contribs
    for name in contribs.columns:
        spec = FEATURES.get(name)
        if spec is None or spec.kind != "numeric" or name not in features.columns:
            continue
        values = pd.to_numeric(features[name], errors="coerce").to_numpy()
        drop = np.isnan(values) & (not spec.missing_is_risk)
        if spec.recent_within is not None:
            drop |= ~(values <= spec.recent_within)  # NaN (no event) is no recent event
        if drop.any():
            out = out.copy() if out is contribs else out
            out.loc[drop, name] = 0.0
    return out


# --------------------------------------------------------------------------- actions


def check_playbook(playbook: Mapping[str, str], families: Sequence[str], features: Sequence[str]) -> None:
    """Raise ConfigError for a playbook key that is neither `default`, a feature family, a feature
    name nor the beginning of one (a typo would otherwise silently never match)."""
    for key, action in playbook.items():
        if not isinstance(action, str) or not action.strip():
            raise ConfigError(f"score.playbook.{key} must be the text of an action; got {action!r}")
        if key == "default" or key in families or any(f.startswith(key) for f in features):
            continue
        raise ConfigError(
            f"score.playbook has key {key!r}, which is not 'default', a feature family "
            f"({', '.join(sorted(set(families)))}), nor a feature name or the beginning of one"
        )


def action_for(
    feature: str, family: str, playbook: Mapping[str, str], families: Collection[str] = FEATURE_FAMILIES
) -> str | None:
    """The playbook action for one reason: the key equal to the feature, else the longest key the
    feature name starts with (`on_time_rate` covers on_time_rate_3m and _12m), else the family's
    key; None when nothing matches. Keys that name a family only match by family."""
    if feature in playbook:
        return playbook[feature]
    prefixes = [k for k in playbook if k != "default" and k not in families and feature.startswith(k)]
    if prefixes:
        return playbook[max(prefixes, key=len)]
    return playbook.get(family)


def recommend_action(
    reasons: Sequence[tuple[str, str]], playbook: Mapping[str, str], values: Mapping[str, Any] | None = None
) -> str:
    """The action for the first reason (feature, family) the playbook covers, else its `default`.

    Action texts may use `{switching_cost}` and `{deepest_discount}`, filled from `values`."""
    text = None
    for feature, family in reasons:
        text = action_for(feature, family, playbook)
        if text:
            break
    text = text or playbook.get("default") or DEFAULT_ACTION
    if "{" in text:
        text = text.format_map(_ActionValues(values or {}))
    return text


class _ActionValues(dict):
    """Fills the placeholders of an action text with the account's values, as percents."""

    def __init__(self, values: Mapping[str, Any]):
        super().__init__()
        self.values = values

    def __missing__(self, key: str) -> str:
        value = self.values.get(key)
        if key in ("switching_cost", "deepest_discount"):
            return format_fraction(value)
        return "unknown" if value is None else str(value)


def format_fraction(value: Any) -> str:
    """0.085 -> '8.5 %'; inf -> 'above the largest discount seen'; missing -> 'not estimated'."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "not estimated"
    value = float(value)
    if np.isinf(value):
        return "above the largest discount seen"
    return f"{value * 100:.1f} %"


# --------------------------------------------------------------------------- discounts


def deepest_recent_discount(
    signals: pd.DataFrame | None, as_of: pd.Timestamp, months: int = 12
) -> pd.Series:
    """Per account, the deepest competitor discount (a positive fraction: 0.12 = 12 % below our
    price) among competitor signals in the `months` before `as_of`; accounts without one are absent."""
    if signals is None or signals.empty or "price_gap" not in signals:
        return pd.Series(dtype="float64", name="deepest_discount")
    start = pd.Timestamp(as_of) - pd.DateOffset(months=months)
    window = signals[(signals["observed_at"] >= start) & (signals["observed_at"] < pd.Timestamp(as_of))]
    gap = pd.to_numeric(window["price_gap"], errors="coerce")
    discount = (-gap).where(gap < 0)
    out = discount.groupby(window["account_id"]).max().dropna()
    return out.rename("deepest_discount").astype("float64")


# --------------------------------------------------------------------------- the risk list


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
) -> pd.DataFrame:
    """The risk list for one snapshot: one row per account in scope, ranked by retention priority.

    `features_at_t`: `build_features` rows of one snapshot; `churn_model` has `predict_proba` and
    `contributions`; `switching_model` (optional) has `switching_cost` and `switch_probability`;
    `accounts`: the accounts table (name, manager, industry, tier, influence); `cfg`: a
    `ScoreConfig`; `deepest_discount`: per account_id, the deepest recent competitor discount.
    Columns are `RISK_LIST_COLUMNS` except the change columns (see `compare_lists`)."""
    snapshots = features_at_t["snapshot"].unique() if len(features_at_t) else []
    if len(snapshots) > 1:
        raise ValueError(f"score_accounts takes one snapshot; got {len(snapshots)}")
    scope = features_at_t[features_at_t["in_scope"].astype(bool)]
    scope = scope.sort_values("account_id", kind="mergesort").reset_index(drop=True)
    as_of = month_label(snapshots[0]) if len(snapshots) else None

    out = pd.DataFrame({"account_id": scope["account_id"].astype("str")})
    out.insert(0, "as_of", as_of)
    info = _account_info(accounts)
    for col in ACCOUNT_COLUMNS:
        out[col] = out["account_id"].map(info[col]) if col in info else np.nan
    out["influence"] = pd.to_numeric(out["influence"], errors="coerce").astype("float64")
    out["revenue_12m"] = scope["revenue_12m"].astype("float64").to_numpy()

    if len(scope):
        out["churn_probability"] = np.asarray(churn_model.predict_proba(scope), dtype="float64")
    else:
        out["churn_probability"] = pd.Series(dtype="float64")
    # Returns can make a year's net revenue negative: nothing is at risk then.
    out["revenue_at_risk"] = out["churn_probability"] * out["revenue_12m"].clip(lower=0.0)

    discount = deepest_discount if deepest_discount is not None else pd.Series(dtype="float64")
    out["deepest_discount"] = out["account_id"].map(discount).astype("float64")
    if switching_model is not None and len(scope):
        out["switching_cost"] = np.asarray(switching_model.switching_cost(scope), dtype="float64")
        # At the deepest discount a competitor has offered; at price parity when none is known.
        offered = out["deepest_discount"].fillna(0.0).to_numpy()
        out["switch_probability"] = np.asarray(
            switching_model.switch_probability(scope, offered), dtype="float64"
        )
    else:
        out["switching_cost"] = np.nan
        out["switch_probability"] = np.nan

    out["priority"] = retention_priority(out, cfg.weights)
    out["rank"] = rank_by_priority(out)
    out["risk_band"] = risk_band(out["churn_probability"], cfg.risk_bands)

    fams = dict(families if families is not None else model_families(churn_model))
    playbook = dict(cfg.playbook or {})
    if len(scope):
        contribs = churn_model.contributions(scope)
        # Checked against the whole dictionary: a key for a feature this model lacks is no typo.
        check_playbook(playbook, sorted(set(FEATURE_FAMILIES) | set(fams.values())), sorted(set(fams) | set(FEATURES)))
        reasons = top_reasons(contribs, scope, fams, n=3, format_reason=format_reason)
    else:
        reasons = []
    for k in range(3):
        out[f"reason_{k + 1}"] = [r[k].text if len(r) > k else "" for r in reasons]
    out["reason_features"] = [REASON_SEP.join(x.feature for x in r) for r in reasons]
    out["reason_families"] = [REASON_SEP.join(x.family for x in r) for r in reasons]
    out["action"] = [
        recommend_action(
            [(x.feature, x.family) for x in r],
            playbook,
            {"switching_cost": cost, "deepest_discount": deep},
        )
        for r, cost, deep in zip(reasons, out["switching_cost"], out["deepest_discount"])
    ]
    for col, values in _no_changes(out.index).items():
        out[col] = values
    out = out.sort_values("rank", kind="mergesort").reset_index(drop=True)
    return out[RISK_LIST_COLUMNS]


def model_families(churn_model: Any) -> dict[str, str]:
    """feature -> family for the model's features: the model's own map, else the dictionary's."""
    fams = getattr(churn_model, "families", None)
    if fams:
        return dict(fams)
    names = getattr(churn_model, "features", None) or list(FEATURES)
    return {n: FEATURES[n].family for n in names if n in FEATURES}


def _account_info(accounts: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ACCOUNT_COLUMNS if c in accounts]
    info = accounts[["account_id", *cols]].drop_duplicates("account_id").copy()
    info["account_id"] = info["account_id"].astype("str")
    return info.set_index("account_id")


# --------------------------------------------------------------------------- changes


@dataclass
class Changes:
    """What changed against the previous list.

    `rows`: per account of the current list (same index) `change` ('new', 'up N', 'down N', '=')
    `previous_rank` and `new_reasons` (reasons whose feature was not a reason last time);
    `left`: the accounts of the previous list that are no longer on it;
    `previous_as_of`: the month of the previous list, None when there was none."""

    rows: pd.DataFrame
    left: pd.DataFrame
    previous_as_of: str | None


LEFT_COLUMNS = ["account_id", "name", "account_manager", "previous_rank", "previous_priority", "previous_band"]


def _no_changes(index: pd.Index) -> pd.DataFrame:
    """The change columns of a list with nothing to compare with."""
    return pd.DataFrame(
        {
            "change": pd.Series(pd.NA, index=index, dtype="str"),
            "previous_rank": pd.Series(pd.NA, index=index, dtype="Int64"),
            "new_reasons": pd.Series("", index=index, dtype="str"),
        }
    )


def compare_lists(current: pd.DataFrame, previous: pd.DataFrame | None) -> Changes:
    """Compare the current risk list with the previous one (None: nothing to compare with)."""
    if previous is None:
        return Changes(_no_changes(current.index), pd.DataFrame(columns=LEFT_COLUMNS), None)

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
    rows = pd.DataFrame(
        {"change": change, "previous_rank": prev_rank, "new_reasons": pd.Series(new_reasons, index=current.index, dtype="str")}
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
    for col in ("change", "previous_rank", "new_reasons"):
        out[col] = changes.rows[col].reindex(out.index)
    return out


# --------------------------------------------------------------------------- win-back and summaries


WIN_BACK_COLUMNS = ["account_id", "name", "account_manager", "industry", "tier", "last_order_month", "revenue_12m"]


def win_back_list(
    features_at_t: pd.DataFrame, accounts: pd.DataFrame, orders: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Accounts already gone at `as_of` (`recently_lost`): not scored but listed for win-back with
    their last order month and trailing-12-month revenue, largest revenue first."""
    lost = features_at_t[features_at_t["recently_lost"].astype(bool)]
    ids = lost["account_id"].astype("str")
    info = _account_info(accounts)
    before = orders[(orders["order_date"] < pd.Timestamp(as_of)) & (orders["net_amount"] > 0)]
    last = before.groupby(before["account_id"].astype("str"))["order_date"].max()
    out = pd.DataFrame({"account_id": ids.to_numpy()})
    for col in ("name", "account_manager", "industry", "tier"):
        out[col] = out["account_id"].map(info[col]) if col in info else np.nan
    last_month = out["account_id"].map(last)
    out["last_order_month"] = last_month.dt.strftime("%Y-%m").where(last_month.notna(), None).astype("str")
    out["revenue_12m"] = lost["revenue_12m"].astype("float64").to_numpy()
    out = out.sort_values(["revenue_12m", "account_id"], ascending=[False, True], kind="mergesort")
    return out.reset_index(drop=True)[WIN_BACK_COLUMNS]


def summarise(risk_list: pd.DataFrame, by: str, bands: Sequence[str]) -> pd.DataFrame:
    """Accounts, revenue, revenue at risk and priority per value of `by` (tier, industry, manager),
    with the number of accounts in each band; largest revenue at risk first."""
    key = risk_list[by].astype("object").where(risk_list[by].notna(), "(none)").rename(by)
    grouped = risk_list.groupby(key, sort=True)
    out = pd.DataFrame(
        {
            "accounts": grouped.size(),
            "revenue_12m": grouped["revenue_12m"].sum(),
            "revenue_at_risk": grouped["revenue_at_risk"].sum(),
            "priority": grouped["priority"].sum(),
        }
    )
    counts = pd.crosstab(key, risk_list["risk_band"]).reindex(columns=list(bands), fill_value=0)
    for band in bands:
        out[f"{band}_band"] = counts[band].reindex(out.index, fill_value=0).astype("int64")
    out["share_of_revenue_at_risk"] = out["revenue_at_risk"] / max(out["revenue_at_risk"].sum(), 1e-12)
    out = out.reset_index().sort_values(["revenue_at_risk", by], ascending=[False, True], kind="mergesort")
    return out.reset_index(drop=True)


def score_distribution(risk_list: pd.DataFrame, bands: Sequence[str]) -> dict[str, float]:
    """Summary numbers of the churn-probability distribution, for tracking and the report."""
    p = risk_list["churn_probability"].astype("float64")
    out: dict[str, float] = {"accounts": float(len(p))}
    if len(p):
        out["mean"] = float(p.mean())
        for q in (0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
            out[f"p{int(q * 100):02d}"] = float(p.quantile(q))
        out["revenue_at_risk"] = float(risk_list["revenue_at_risk"].sum())
        for band in bands:
            out[f"share_{band}"] = float((risk_list["risk_band"] == band).mean())
    return out


# --------------------------------------------------------------------------- the report


def build_report(
    risk_list: pd.DataFrame,
    changes: Changes,
    win_back: pd.DataFrame,
    cfg: Any,
    *,
    as_of: str,
    model: Mapping[str, Any] | None = None,
    psi: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
    switching_available: bool = True,
    generated_at: str | None = None,
    html_rows: int = 1000,
):
    """Everything the workbook and the page show, as a `churnml.report.ReportData`."""
    from churnml.report import ReportData

    bands = band_order(cfg.risk_bands)
    summaries = {by: summarise(risk_list, by, bands) for by in ("tier", "industry", "account_manager")}
    return ReportData(
        as_of=as_of,
        risk_list=risk_list,
        left=changes.left,
        win_back=win_back,
        summaries=summaries,
        bands=bands,
        thresholds={k: float(v) for k, v in cfg.risk_bands.items()},
        weights=check_weights(cfg.weights),
        formula=PRIORITY_FORMULA,
        distribution=score_distribution(risk_list, bands),
        previous_as_of=changes.previous_as_of,
        model=dict(model or {}),
        psi={k: float(v) for k, v in (psi or {}).items() if np.isfinite(v)},
        drift_threshold=float(cfg.psi_threshold),
        notes=list(notes),
        generated_at=generated_at,
        switching_available=switching_available,
        html_rows=html_rows,
    )
