"""The feature dictionary: every feature's family, meaning, unit, and a plain-words reason.

`reason` is a template that the risk list shows when the feature pushes an account's risk up;
`format_reason(name, value, row)` fills it with the account's value. Placeholders:
`{value}` the value in the feature's unit (percent for shares, without the sign), `{abs}` its
size without the sign, `{updown}` ("up"/"down"), `{belowabove}` ("below"/"above"), `{morefewer}`
("more"/"fewer"), `{signed}` (+2 / -1), `{s}` / `{ies}` (plural endings, by the value as shown),
`{percent}` (a ratio as a whole percent), `{duration}` (months in words: "12 days", "1 month",
"5 months": whole months, days below one month), `{ago}` ("{duration} ago"), and `{<feature>}`
another feature of the same row. A template starting with a count of 0 reads "no …". A part in square brackets is left out when a
value inside it is missing, e.g. "2 complaints open[, the oldest {complaint_oldest_open_days} days]".
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import pandas as pd

from churnml.features.panel import DAYS_PER_MONTH  # "months since" features count days / this

KEYS = ["account_id", "snapshot"]
FLAGS = ["in_scope", "recently_lost", "labelled"]
LABELS = ["churn", "switch"]
WEIGHTS = ["weight"]  # a training sample's row weights (churnml.models.sample)
FAMILIES = ["orders", "complaints", "competitor", "relationship", "switching", "peers", "account"]


@dataclass(frozen=True)
class Feature:
    """One feature: its column name, family, what it measures, its unit, the plain-words reason
    template, and kind ("numeric" or "categorical"). `reason_missing` is shown when the value
    is missing (e.g. "no executive visit on record"); `reason_zero` / `reason_one` when the
    value shows as 0 / 1, if the general template reads badly then.

    `actionable` is False for account descriptors (size, category spend, industry, region, tier,
    influence, tenure): who the account is, not why it is at risk now. They still count in the
    model and its probability, but are never shown as one of an account's reasons.
    `grain` is "account", or the group a feature has one value per snapshot for ("industry" for
    the peer rates): such features are not checked for drift (see `churnml.models.pyfunc`).
    `recent_within` (months) is set for "time since an event" features whose risk is a recent
    event (a competitor's visit, a decision maker leaving): the feature is a reason only when the
    event lies at most that long ago, so an account never reads "competitor activity 40 months
    ago" or "no decision maker has left" as why it is at risk. A missing value is a reason only
    when `missing_is_risk` ("no executive visit on record"); otherwise ("no open complaint", "no
    contract end date on record") it may move the probability but is no reason to act."""

    name: str
    family: str
    description: str
    unit: str  # currency | count | share | months | days | ratio | score | level | flag | category
    reason: str
    kind: str = "numeric"
    reason_missing: str = ""
    reason_zero: str = ""
    reason_one: str = ""
    actionable: bool = True
    grain: str = "account"
    recent_within: float | None = None
    missing_is_risk: bool = False


FEATURES: dict[str, Feature] = {}


def _add(name, family, description, unit, reason, kind="numeric", reason_missing="", **more):
    more.setdefault("grain", "industry" if family == "peers" else "account")  # peers: per industry
    FEATURES[name] = Feature(name, family, description, unit, reason, kind, reason_missing, **more)


# --- orders -------------------------------------------------------------------------------------
for _w in (1, 3, 6, 12):
    _span = "month" if _w == 1 else f"{_w} months"
    _add(f"revenue_{_w}m", "orders", f"Net revenue in the {_span} before the snapshot.",
         "currency", "revenue " + ("last month" if _w == 1 else f"of the last {_span}") + " {value}",
         reason_zero="no revenue " + ("last month" if _w == 1 else f"in the last {_span}"),
         actionable=_w != 12)  # a year's revenue is the account's size
    _add(f"lines_{_w}m", "orders", f"Order lines in the {_span} before the snapshot.", "count",
         "{value} order line{s} in the " + ("last month" if _w == 1 else f"last {_span}"))
_add("usual_monthly_revenue", "orders",
     "Average monthly net revenue over the 12 months before the snapshot, or since the first "
     "order when that is shorter.", "currency", "usual monthly revenue {value}",
     reason_missing="no order history yet", actionable=False)
_add("revenue_trend_3v3", "orders",
     "Revenue of the last 3 months against the 3 months before, minus 1 (missing when the "
     "earlier quarter had no revenue or lies before the data).", "share",
     "orders {updown} {value} % against the previous quarter",
     reason_missing="no orders in the previous quarter to compare with")
_add("revenue_trend_yoy", "orders",
     "Revenue of the last 3 months against the same 3 months a year earlier, minus 1.", "share",
     "orders {updown} {value} % against the same months a year earlier",
     reason_missing="no orders a year earlier to compare with")
_add("revenue_slope_12m", "orders",
     "Least-squares slope of the last 12 monthly revenues (of those the data covers, at least 3), "
     "as a share of their mean, per month.",
     "share", "revenue trending {updown} {value} % a month over the last year",
     reason_missing="no revenue trend over the last year")
_add("revenue_volatility_12m", "orders",
     "Coefficient of variation (standard deviation / mean) of the last 12 monthly revenues (of "
     "those the data covers, at least 3).",
     "ratio", "revenue varies by {percent} % from month to month",
     reason_missing="no revenue over the last year to compare")
_add("active_months_12m", "orders", "Months with at least one order line among the last 12.",
     "count", "ordered in {value} of the last 12 months",
     reason_zero="no order in the last 12 months")
_add("months_since_last_order", "orders", "Months from the last order to the snapshot.", "months",
     "last order {ago}", reason_missing="no order on record")
_add("recency_vs_usual_gap", "orders",
     "Months since the last order divided by the account's usual gap between ordering months "
     "(months observed in the last 12 / months with orders).", "ratio",
     "time since the last order {value} times its usual gap between orders",
     reason_missing="no orders in the last 12 months")
_add("tenure_months", "orders",
     "Months since the relationship started (the earlier of `since` and the first order).",
     "months", "customer for {duration}",
     reason_missing="start of the relationship unknown", actionable=False)
_add("product_lines_12m", "orders", "Distinct product lines bought in the last 12 months.", "count",
     "bought {value} product line{s} in the last 12 months",
     reason_zero="no product line bought in the last 12 months")
_add("product_lines_change", "orders",
     "Distinct product lines bought in the last 6 months minus those in the 6 months before.",
     "count", "{abs} {morefewer} product line{s} than in the previous half-year",
     reason_missing="no orders in the last year to compare product lines",
     reason_zero="as many product lines as in the previous half-year")
_add("discount_depth_12m", "orders",
     "Average discount over the last 12 months: 1 - net / list amount of the lines with a list "
     "amount.", "share", "average discount {value} %",
     reason_missing="no list prices in the last 12 months")
for _w in (3, 12):
    _add(f"on_time_rate_{_w}m", "orders",
         f"Share of deliveries made in the last {_w} months on or before the promised date.",
         "share", f"on-time delivery {{value}} % over the last {_w} months",
         reason_missing=f"no deliveries recorded in the last {_w} months")
_add("late_days_mean_12m", "orders",
     "Average days late (0 when on time) of the deliveries made in the last 12 months.", "days",
     "deliveries {value} day{s} late on average",
     reason_missing="no deliveries recorded in the last 12 months",
     reason_zero="deliveries on time (less than a day late on average)")
_add("custom_revenue_share_12m", "orders",
     "Share of the last 12 months' revenue in customised products (a structural bond).", "share",
     "custom products {value} % of revenue",
     reason_missing="no revenue in the last 12 months")
for _what, _unit in (("revenue", "Net revenue"), ("lines", "Order lines")):
    for _w, _least in ((6, 6), (3, 2)):
        _add(f"{_what}_{_w}m_vs_history", "orders",
             f"{_unit} per month over the last {_w} months against the monthly average from the "
             f"first order to {_w} months before the snapshot, minus 1 (missing with less than "
             f"{_least} months of that history).", "share",
             ("revenue" if _what == "revenue" else "order lines") + " {updown} {value} % against the account's history",
             reason_missing="not enough history to compare with")
_add("lines_trend_3v3", "orders",
     "Order lines of the last 3 months against the 3 months before, minus 1.", "share",
     "order lines {updown} {value} % against the previous quarter",
     reason_missing="no order lines in the previous quarter to compare with")
_add("on_time_rate_change_3v12", "orders",
     "On-time delivery rate of the last 3 months minus that of the last 12 months.", "share",
     "on-time delivery {updown} {value} points against its 12-month level",
     reason_missing="no deliveries recorded in the last 3 months")
_add("on_time_rate_vs_region_3m", "orders",
     "On-time delivery rate of the last 3 months minus that of the other accounts of its region.",
     "share", "on-time delivery {value} points {belowabove} its region's over the last 3 months",
     reason_missing="no deliveries to compare with its region")
_add("share_of_wallet", "orders",
     "Revenue of the last 12 months / the account's annual category spend.", "share",
     "share of wallet {value} %",
     reason_missing="no category spend on record to measure share of wallet")
_add("tenure_is_lower_bound", "orders",
     "1 when the tenure is only a lower bound: the first order lies in the extract's first month "
     "and no earlier relationship start (`since`) is known.", "flag",
     "customer since before the extract began", actionable=False)
_add("history_months", "orders",
     "Months of order data before the snapshot: how far back the extract shows the account.",
     "months", "{value} months of order history in the data", actionable=False, grain="extract")
_add("revenue_same_months_last_year", "orders",
     "Revenue in the months a year before the coming label window (at most 12), against the usual "
     "monthly revenue times as many months (a seasonal buyer's quiet months are not a loss).", "ratio",
     "bought {percent} % of its usual in these months last year",
     reason_missing="no order data a year earlier")
for _w in (3, 12):
    _add(f"order_days_{_w}m", "orders", f"Distinct days with an order in the last {_w} months.", "count",
         f"ordered on {{value}} day{{s}} in the last {_w} months",
         reason_zero=f"no order in the last {_w} months")
_add("order_gap_mean_days", "orders",
     "Average days between consecutive order days, over all order history before the snapshot.",
     "days", "orders every {value} days on average", reason_missing="fewer than two order days on record",
     actionable=False)
_add("order_gap_cv", "orders",
     "Coefficient of variation of the days between consecutive order days (how regular it buys).",
     "ratio", "irregular ordering: gaps vary by {percent} %", reason_missing="fewer than three order days on record")
_add("days_since_order_vs_gap", "orders",
     "Days since the last order divided by the account's average days between order days.",
     "ratio", "no order for {value} times its usual gap between orders",
     reason_missing="fewer than two order days on record")
_add("bgnbd_p_alive", "orders",
     "BG/NBD probability that the account is still buying, fitted at the snapshot on the order "
     "days before it.", "share", "BG/NBD gives it {value} % chance of still buying",
     reason_missing="no order on record")
_add("bgnbd_expected_order_days", "orders",
     "BG/NBD expected order days over the label window, fitted at the snapshot on the order days "
     "before it.", "count", "about {value} order day{s} expected over the next months",
     reason_missing="no order on record", reason_zero="no order expected over the next months")
_add("bgnbd_expected_vs_pace", "orders",
     "BG/NBD expected order days over the label window against the account's pace of the last 12 "
     "months (or since its first order) over as long.", "ratio",
     "expected to order at {percent} % of its recent pace", reason_missing="no order in the last 12 months")

# --- complaints ---------------------------------------------------------------------------------
for _w in (3, 12):
    _add(f"complaints_opened_{_w}m", "complaints", f"Complaints opened in the last {_w} months.",
         "count", f"{{value}} complaint{{s}} in the last {_w} months")
for _cat in ("quality", "delivery", "service", "price", "other"):
    _add(f"complaints_{_cat}_12m", "complaints",
         f"Complaints of category {_cat} opened in the last 12 months.", "count",
         f"{{value}} {_cat} complaint{{s}} in the last 12 months")
_add("complaints_open", "complaints",
     "Complaints open at the snapshot (opened before it, not resolved before it).", "count",
     "{value} complaint{s} open[, the oldest {complaint_oldest_open_days} days]",
     reason_one="1 complaint open[ for {complaint_oldest_open_days} days]")
_add("complaint_max_open_severity", "complaints",
     "Highest severity (1-3) among the open complaints; 0 when none is open.", "level",
     "an open complaint of severity {value} (of 3)", reason_zero="no open complaint")
_add("complaints_severe_12m", "complaints", "Complaints of severity 3 opened in the last 12 months.",
     "count", "{value} severe complaint{s} in the last 12 months")
# Said with the count of open complaints, so that it reads with "resolving the 3 open complaints".
_add("complaint_oldest_open_days", "complaints", "Age in days of the oldest open complaint.", "days",
     "the oldest open complaint open for {value} day{s}[ ({complaints_open} open)]",
     reason_missing="no open complaint")
_add("complaint_median_resolution_days_12m", "complaints",
     "Median days to resolve, over complaints resolved in the last 12 months.", "days",
     "complaints take {value} day{s} to resolve (median)",
     reason_zero="complaints resolved within a day (median)",
     reason_missing="no complaint resolved in the last 12 months")

# --- competitor ---------------------------------------------------------------------------------
for _w in (3, 12):
    _add(f"competitor_signals_{_w}m", "competitor",
         f"Competitor signals of any kind in the last {_w} months.", "count",
         f"{{value}} competitor signal{{s}} in the last {_w} months")
for _kind, _text in {
    "quote": "{value} competitor quote{s}",
    "visit": "{value} competitor visit{s}",
    "trial_order": "{value} trial order{s} placed with a competitor",
    "tender_lost": "{value} tender{s} lost to a competitor",
    "price_cut": "{value} competitor price cut{s}",
    "other": "{value} other competitor signal{s}",
}.items():
    _add(f"signals_{_kind}_12m", "competitor",
         f"Competitor signals of kind {_kind} in the last 12 months.", "count",
         _text + " in the last 12 months")
_add("months_since_competitor_signal", "competitor", "Months since the last competitor signal.",
     "months", "competitor activity {ago}",
     reason_missing="no competitor signal on record", recent_within=12)
_add("price_gap_latest_12m", "competitor",
     "Latest competitor price relative to ours in the last 12 months (-0.12: 12 % cheaper).",
     "share", "competitor quoted {value} % {belowabove} our price",
     reason_zero="competitor quoted our price",
     reason_missing="no competitor price seen in the last 12 months")
_add("price_gap_deepest_12m", "competitor",
     "Lowest competitor price relative to ours in the last 12 months.", "share",
     "competitor offer {value} % {belowabove} our price in the last 12 months",
     reason_zero="competitor offer at our price in the last 12 months",
     reason_missing="no competitor price seen in the last 12 months")

# --- relationship -------------------------------------------------------------------------------
for _w in (3, 12):
    _add(f"interactions_{_w}m", "relationship", f"Interactions of any kind in the last {_w} months.",
         "count", f"{{value}} interaction{{s}} in the last {_w} months")
for _name, (_desc, _text) in {
    "exec_visits_12m": ("Executive visits", "{value} executive visit{s}"),
    "sales_visits_12m": ("Sales visits", "{value} sales visit{s}"),
    "business_reviews_12m": ("Business reviews", "{value} business review{s}"),
    "trainings_12m": ("Trainings given", "{value} training{s}"),
}.items():
    _add(_name, "relationship", f"{_desc} in the last 12 months (per year).", "count",
         _text + " in the last 12 months")
_add("months_since_exec_visit", "relationship", "Months since the last executive visit.", "months",
     "last executive visit {ago}", reason_missing="no executive visit on record", missing_is_risk=True)
_add("contacts_current", "relationship", "Key contacts at the account at the snapshot.", "count",
     "{value} key contact{s} at the account")
for _w in (6, 12):
    _add(f"contacts_left_{_w}m", "relationship", f"Key contacts who left in the last {_w} months.",
         "count", f"{{value}} key contact{{s}} left in the last {_w} months")
_add("decision_makers_current", "relationship", "Decision makers at the account at the snapshot.",
     "count", "{value} decision maker{s} at the account")
_add("decision_makers_left_12m", "relationship", "Decision makers who left in the last 12 months.",
     "count", "{value} decision maker{s} left in the last 12 months")
_add("decision_maker_changes_24m", "relationship",
     "Decision makers who joined or left in the last 24 months (turnover).", "count",
     "{value} decision-maker change{s} in the last 2 years")
_add("months_since_decision_maker_left", "relationship",
     "Months since a decision maker last left.", "months", "a decision maker left {ago}",
     reason_missing="no decision maker has left", recent_within=12)

# --- switching cost -----------------------------------------------------------------------------
_add("joint_development_total", "switching",
     "Joint-development activities with the account before the snapshot.", "count",
     "{value} joint-development activit{ies} so far")
_add("joint_development_24m", "switching", "Joint-development activities in the last 24 months.",
     "count", "{value} joint-development activit{ies} in the last 2 years")
_add("months_since_joint_development", "switching", "Months since the last joint development.",
     "months", "last joint development {ago}",
     reason_missing="no joint development on record", missing_is_risk=True)

# --- peers --------------------------------------------------------------------------------------
_add("peer_churn_rate_12m", "peers",
     "Share of the other accounts of its industry whose loss became observable in the last 12 "
     "months (recorded loss or dropped out of scope).", "share",
     "{value} % of its industry's accounts lost in the last 12 months",
     reason_missing="no other accounts in its industry", grain="industry")
_add("peer_switch_rate_12m", "peers",
     "Share of the other accounts of its industry recorded lost to a competitor in the last 12 "
     "months.", "share", "{value} % of its industry's accounts went to a competitor in the last year",
     reason_missing="no other accounts in its industry", grain="industry")
_add("peer_leader_lost_6m", "peers",
     "1 when an influential account (influence at or above the threshold) of its industry was "
     "lost in the last 6 months.", "flag",
     "an influential account of its industry left in the last 6 months",
     reason_missing="no other accounts in its industry",
     reason_zero="no influential account of its industry left in the last 6 months", grain="industry")
_add("months_since_peer_leader_lost", "peers",
     "Months since the loss of another influential account of its industry became observable "
     "(recorded loss or dropped out of scope, after at least 6 months in scope).", "months",
     "an influential account of its industry left {ago}",
     reason_missing="no influential account of its industry lost", recent_within=12)

# --- account ------------------------------------------------------------------------------------
for _name in ("industry", "region", "tier"):
    _add(_name, "account", f"The account's {_name} (from the account master).", "category",
         f"{_name} {{value}}", kind="categorical", reason_missing=f"{_name} unknown", actionable=False)
_add("employees", "account", "Employees of the account.", "count", "{value} employees",
     reason_missing="size unknown", actionable=False)
_add("influence", "account", "How strongly other accounts follow this one (0-1).", "score",
     "influence {value}", reason_missing="influence unknown", actionable=False)
_add("category_spend", "account", "Estimated annual spend in our category across suppliers.",
     "currency", "category spend {value} a year", reason_missing="category spend unknown",
     actionable=False)
_add("contract_months_remaining", "account",
     "Months from the snapshot to `contract_end`; missing when that contract ended before the "
     "snapshot. contract_end is today's master value, so at old snapshots it may be a later "
     "renewal.", "months", "contract ends in {duration}",
     reason_missing="no supply agreement known to be in force")
_add("months_to_contract_anniversary", "account",
     "Months from the snapshot to the next anniversary of `contract_end` (0-12): the renewal "
     "season when contracts run for whole years, and free of today's renewals.", "months",
     "contract anniversary in {duration}", reason_missing="no contract end date on record")


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model's feature columns: every column that is not a key, flag or label."""
    skip = set(KEYS) | set(FLAGS) | set(LABELS) | set(WEIGHTS)
    return [c for c in frame.columns if c not in skip]


def dictionary_frame(columns: list[str] | None = None) -> pd.DataFrame:
    """The dictionary as a table (all features, or those in `columns`, in that order)."""
    names = list(FEATURES) if columns is None else [c for c in columns if c in FEATURES]
    return pd.DataFrame([asdict(FEATURES[n]) for n in names])


def _missing(value: Any) -> bool:
    try:
        return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def format_value(name: str, value: Any) -> str:
    """`value` of feature `name` in its unit (shares as percents, counts as whole numbers)."""
    if _missing(value):
        return "unknown"
    unit = FEATURES[name].unit if name in FEATURES else "ratio"
    if unit == "category":
        return str(value)
    v = float(value)
    if unit == "share":
        return f"{abs(v) * 100:.0f}"
    if unit in ("currency", "count", "days", "level"):
        return f"{v:,.0f}"
    if unit == "months":
        return f"{v:.1f}" if abs(v) < 1 else f"{v:.0f}"
    if unit == "flag":
        return "yes" if v else "no"
    if unit == "score":
        return f"{v:.2f}"
    return f"{v:.1f}"


def format_duration(months: float) -> str:
    """A span given in months, in words: whole months from one month on ("1 month", "7 months"),
    days below that ("12 days", "1 day")."""
    days = round(abs(months) * DAYS_PER_MONTH)
    if days < 1:
        return "less than a day"
    if days < round(DAYS_PER_MONTH):
        return f"{days} day{'' if days == 1 else 's'}"
    whole = max(1, round(abs(months)))
    return f"{whole} month{'' if whole == 1 else 's'}"


_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_FIELD = re.compile(r"\{(\w+)\}")


def _shown_number(text: str) -> float | None:
    """The number a formatted value shows ("1,204" -> 1204.0; "yes"/"no" -> 1/0), else None."""
    if text in ("yes", "no"):
        return float(text == "yes")
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def format_reason(name: str, value: Any, row: Mapping[str, Any] | pd.Series | None = None) -> str:
    """The plain-words reason for feature `name` at `value`, e.g. "orders down 46 % against the
    previous quarter"; other features named in the template are read from `row`. Singular and
    plural follow the value as shown ("1 complaint", "2 complaints"); `reason_zero` /
    `reason_one` replace the template when the value shows as 0 / 1."""
    feature = FEATURES.get(name)
    if feature is None:
        raise KeyError(f"format_reason: unknown feature {name!r}; see churnml.features.dictionary")
    if _missing(value):
        return feature.reason_missing or f"{name.replace('_', ' ')} unknown"
    numeric = feature.kind == "numeric"
    v = float(value) if numeric else None
    shown = format_value(name, value)
    number = _shown_number(shown) if numeric else None
    one = number is not None and abs(number) == 1
    words = {
        "value": shown,
        "abs": shown.lstrip("-"),
        "updown": ("up" if v >= 0 else "down") if numeric else "",
        "belowabove": ("below" if v < 0 else "above") if numeric else "",
        "morefewer": ("more" if v >= 0 else "fewer") if numeric else "",
        "signed": f"{v:+.0f}" if numeric else str(value),
        "s": "" if one else "s",
        "ies": "y" if one else "ies",
        "percent": f"{v * 100:.0f}" if numeric else shown,
        "duration": format_duration(v) if numeric else shown,
        "ago": f"{format_duration(v)} ago" if numeric else shown,
    }
    template = feature.reason
    if number == 0 and feature.reason_zero:
        template = feature.reason_zero
    elif number is not None and number == 1 and feature.reason_one:
        template = feature.reason_one
    elif number == 0 and feature.unit == "count" and template.startswith("{value} "):
        template = "no " + template[len("{value} "):]  # "no complaints in the last 3 months"

    def lookup(field: str) -> str | None:
        if field in words:
            return words[field]
        if row is None or field not in row or _missing(row[field]):
            return None
        return format_value(field, row[field])

    def fill(text: str) -> str | None:
        parts = {f: lookup(f) for f in _FIELD.findall(text)}
        if any(p is None for p in parts.values()):
            return None
        return _FIELD.sub(lambda m: parts[m.group(1)], text)

    text = _OPTIONAL.sub(lambda m: fill(m.group(1)) or "", template)
    return fill(text) or f"{name.replace('_', ' ')}: {shown}"


# Features that compare with the same months a year earlier: without a year of data they are
# missing in fitting and present when scored.
_YEAR_BACK = {"revenue_trend_yoy": 15, "revenue_same_months_last_year": 12}


def history_needed(name: str) -> int:
    """Months of data before the snapshot a feature needs to mean at scoring what it meant in
    fitting: for a sum over a trailing window (money or a count: `revenue_12m` 12,
    `joint_development_24m` 24) its window, as a shorter history sums fewer months; for a
    year-on-year comparison the year and its window; 0 for rates, shares and durations over a
    window (an on-time rate over the months there are is still an on-time rate) and for features
    relative to the history there is (tenure, BG/NBD, `…_vs_history`)."""
    if name in _YEAR_BACK:
        return _YEAR_BACK[name]
    feature = FEATURES.get(name)
    if feature is None or feature.unit not in ("currency", "count") or name.endswith("_vs_history"):
        return 0
    windows = [int(w) for w in re.findall(r"_(?:\d+v)?(\d+)m(?=_|$)", name)]
    return max(windows, default=0)
