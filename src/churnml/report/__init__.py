"""The people-facing outputs of a scoring run: the Excel workbook and the HTML page.

Both are built from one `ReportData` by pure functions that return bytes or text
(`churnml.report.excel.workbook_bytes`, `churnml.report.html.page_html`); the scoring stage
writes them. `DISPLAY_COLUMNS` fixes which risk-list columns people see, under which headings
and in which format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Column:
    """One column as people see it: the risk-list column, its heading, its format
    (`text`, `int`, `money`, `percent`, `points` (a change of a percent, in percentage points),
    `score` (a number with no unit), `cost` (a percent or 'above the largest seen'), `band`) and
    its width in characters in the workbook."""

    name: str
    heading: str
    kind: str = "text"
    width: int = 14


# The first `PRINTED_COLUMNS` are what a manager reads on paper (the workbook's print area): rank,
# account, manager, revenue, probability, band, revenue at risk, main reason, action. The rest
# stay in the sheet for filtering.
DISPLAY_COLUMNS: list[Column] = [
    Column("rank", "Rank", "int", 7),
    Column("name", "Account", "text", 28),
    Column("account_manager", "Account manager", "text", 16),
    Column("revenue_12m", "Revenue 12 months", "money", 14),
    Column("churn_probability", "Churn probability", "percent", 11),
    Column("risk_band", "Risk band", "band", 10),
    Column("revenue_at_risk", "Revenue at risk", "money", 14),
    Column("reason_1", "Reason 1", "text", 40),
    Column("action", "Recommended action", "text", 44),
    Column("account_id", "Account ID", "text", 12),
    Column("industry", "Industry", "text", 16),
    Column("tier", "Tier", "text", 10),
    Column("priority", "Retention priority", "score", 14),
    Column("switch_probability", "Switch probability", "percent", 11),
    Column("switching_cost", "Switching cost", "cost", 13),
    Column("reason_2", "Reason 2", "text", 40),
    Column("reason_3", "Reason 3", "text", 40),
    Column("improvement_1", "What would lower the risk most", "text", 40),
    Column("improvement_2", "And next", "text", 40),
    Column("previous_rank", "Previous rank", "int", 9),
    Column("rank_change", "Places up (+) / down (-)", "int", 10),
    Column("churn_probability_change", "Churn probability change", "points", 11),
    Column("revenue_at_risk_change", "Revenue at risk change", "money", 14),
    Column("new_reasons", "New reasons", "text", 36),
]
PRINTED_COLUMNS = 9

SUMMARY_COLUMNS: list[Column] = [
    Column("accounts", "Accounts", "int", 10),
    Column("revenue_12m", "Revenue 12 months", "money", 16),
    Column("revenue_at_risk", "Revenue at risk", "money", 16),
    Column("share_of_revenue_at_risk", "Share of revenue at risk", "percent", 12),
    Column("priority", "Retention priority", "score", 16),
]

LEFT_DISPLAY: list[Column] = [
    Column("previous_rank", "Previous rank", "int", 10),
    Column("name", "Account", "text", 28),
    Column("account_id", "Account ID", "text", 12),
    Column("account_manager", "Account manager", "text", 20),
    Column("previous_band", "Previous band", "band", 10),
    Column("previous_priority", "Previous priority", "score", 14),
    Column("status", "Now", "text", 30),
]

WIN_BACK_DISPLAY: list[Column] = [
    Column("name", "Account", "text", 28),
    Column("account_id", "Account ID", "text", 12),
    Column("account_manager", "Account manager", "text", 20),
    Column("industry", "Industry", "text", 16),
    Column("tier", "Tier", "text", 10),
    Column("lost_month", "Lost in", "text", 9),
    Column("evidence", "How we know", "text", 18),
    Column("reason", "Why", "text", 22),
    Column("competitor", "To", "text", 16),
    Column("revenue_before_loss", "Revenue in the 12 months before", "money", 16),
    Column("last_order_month", "Last order", "text", 10),
]

# Band colours (fill, text) shared by the workbook and the page; other band names are grey.
BAND_COLOURS: dict[str, tuple[str, str]] = {
    "high": ("F8CBAD", "9C0006"),
    "medium": ("FFE699", "7F6000"),
    "low": ("C6EFCE", "006100"),
}
OTHER_BAND_COLOUR = ("D9D9D9", "000000")

# How a missing group reads, the same on every sheet, chart and table: an account with no manager
# is on the "Unassigned" sheet and in the "Unassigned" row of the summaries.
NOT_GIVEN = {"account_manager": "Unassigned"}
NOT_GIVEN_DEFAULT = "Not given"


def group_key(frame: pd.DataFrame, column: str) -> pd.Series:
    """The values of `column` to group by, a missing one in words (`NOT_GIVEN`)."""
    word = NOT_GIVEN.get(column, NOT_GIVEN_DEFAULT)
    return frame[column].astype("object").where(frame[column].notna(), word).rename(column)


# A switching cost of `inf`: no discount in the range the model was trained on makes the
# account switch. Cells say it short; sentences (churnml.scoring.actions) say it in full.
ABOVE_RANGE = "above largest seen"

# How the switching figures read, for both outputs.
DRIFT_NOTE = (
    "Some of this month's data look different from what the model learnt from: read the scores "
    "with a little more care this month (details for data scientists {where})."
)
SWITCHING_NOTE = (
    "Switching cost: the smallest competitor discount at which the account would more likely "
    "switch than stay (the price margin it can be defended on). Switch probability: the chance "
    "it switches to a competitor at the deepest discount offered to it in the last 12 months "
    "(at price parity when none is known)."
)


def humanise(code: Any) -> Any:
    """A code as words: "food_beverage" -> "Food beverage"; anything else as it is."""
    if not isinstance(code, str) or not code:
        return code
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def in_words(frame: pd.DataFrame, labels: dict[str, dict[str, str]], columns=("industry", "tier")) -> pd.DataFrame:
    """`frame` with the codes of `columns` in words: from `labels` (column -> {code: words}),
    else humanised."""
    out = frame.copy()
    for column in set(columns) | set(labels):
        if column in out:
            names = labels.get(column, {})
            out[column] = out[column].map(lambda v, names=names: names.get(v, humanise(v)) if isinstance(v, str) else v)
    return out


def quality_words(metrics: dict) -> str:
    """The model's ranking quality in words, against the best simple baseline of the same test."""
    for ns in ("oot/", "holdout/"):
        auc = metrics.get(f"{ns}auc")
        if auc is None:
            continue
        baselines = {k.split("/")[0]: v for k, v in metrics.items() if k.startswith("baseline_") and k.endswith(f"/{ns}auc")}
        where = "months it never saw" if ns == "oot/" else "accounts it never saw"
        text = f"On {where}, the model ranks a leaving account above a staying one {100 * auc:.0f} times in 100"
        if baselines:
            name, best = max(baselines.items(), key=lambda kv: kv[1])
            words = name.removeprefix("baseline_").replace("_", " ")
            text += f"; the best simple rule ({words}) {100 * best:.0f} times in 100"
        return text + "."
    return "No held-out figures were recorded with this model."


def is_missing(value: Any) -> bool:
    """True for None, pd.NA, NaN and NaT: a cell both outputs leave empty."""
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def band_colour(band: str) -> tuple[str, str]:
    """(fill, text) hex colours of a risk band."""
    return BAND_COLOURS.get(str(band), OTHER_BAND_COLOUR)


@dataclass
class ReportData:
    """Everything the workbook and the page show for one month.

    `risk_list`: the scored accounts (see `churnml.score.RISK_LIST_COLUMNS`);
    `left`: accounts that left the list since `previous_as_of` (with a `status` column);
    `win_back`: recently lost accounts; `summaries`: 'tier', 'industry', 'account_manager' ->
    `churnml.score.summarise` frames; `bands`: band names riskiest first with `thresholds`;
    `model`: what was scored with (`uri`, `name`, `version`, `metrics` of the out-of-time test);
    `psi`: feature -> PSI against training; `drift_threshold`; `notes`: sentences for the reader
    (e.g. that the switching-cost model was absent); `generated_at`: shown, never in the job files.
    """

    as_of: str
    risk_list: pd.DataFrame
    left: pd.DataFrame
    win_back: pd.DataFrame
    summaries: dict[str, pd.DataFrame]
    bands: list[str]
    thresholds: dict[str, float]
    weights: dict[str, float]
    formula: str
    distribution: dict[str, float]
    previous_as_of: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    psi: dict[str, float] = field(default_factory=dict)
    drift_threshold: float = 0.25
    notes: list[str] = field(default_factory=list)
    generated_at: str | None = None
    switching_available: bool = True
    html_rows: int = 1000
    currency: str = "EUR"
    history: pd.DataFrame = field(default_factory=pd.DataFrame)  # earlier lists: as_of, account_id, churn_probability

    def ranking_words(self) -> list[str]:
        """How the list is ranked, in sentences for sales people (no formula, no weights' names):
        the horizon is the model's, the switching-cost uplift only where a switching model scored."""
        bands = ", ".join(f"{b} from {self.thresholds[b]:.0%}" for b in self.bands if b in self.thresholds)
        horizon = int(self.model.get("horizon_months") or 6)
        counts = (f"An influential account (an industry leader that others follow) counts up to "
                  f"{1 + self.weights.get('influence', 0):g} times")
        if self.switching_available:
            counts += (f", and an account a competitor recently offered a deeper discount than we can defend "
                       f"counts {1 + self.weights.get('low_switching_cost', 0):g} times")
        return [
            f"The accounts with a notable risk come first (bands {bands}), then those at {self.bands[-1]} risk.",
            "Within each, the list is ordered by retention priority: first the accounts with the most revenue "
            f"at risk, the chance that the account leaves within {horizon} months times what it bought in the "
            f"last twelve. {counts}.",
            "The reasons are what raises this account's risk most, in its own figures.",
        ]

    @property
    def drifted(self) -> list[tuple[str, float]]:
        """Features whose PSI is beyond the threshold, largest first."""
        items = [(k, v) for k, v in self.psi.items() if v > self.drift_threshold]
        return sorted(items, key=lambda kv: (-kv[1], kv[0]))

    @property
    def model_label(self) -> str:
        """The model's name and version as shown ("churn v3"); empty when neither is known."""
        version = self.model.get("version")
        return " ".join(str(x) for x in (self.model.get("name"), f"v{version}" if version else None) if x)

    def change_views(self, n: int = 15) -> list[tuple[str, pd.DataFrame, list[Column]]]:
        """What changed, as (title, rows, columns): new in the riskiest band, the biggest risers
        by revenue at risk, newly appearing reasons, and revenue at risk by manager against the
        same accounts last month. Empty without a previous list."""
        rl = self.risk_list
        if not self.previous_as_of or "churn_probability_change" not in rl:
            return []
        top = self.bands[0]
        before = rl["churn_probability"] - rl["churn_probability_change"]
        new_top = rl[(rl["risk_band"] == top) & (rl["previous_rank"].isna() | (before < self.thresholds[top]))]
        risers = rl[rl["revenue_at_risk_change"] > 0].sort_values("revenue_at_risk_change", ascending=False)
        reasons = rl[rl["new_reasons"].fillna("").astype(str) != ""]
        known = rl[rl["revenue_at_risk_change"].notna()]
        by_manager = (
            known.assign(previous=known["revenue_at_risk"] - known["revenue_at_risk_change"])
            .groupby(group_key(known, "account_manager"))
            .agg(revenue_at_risk=("revenue_at_risk", "sum"), previous_revenue_at_risk=("previous", "sum"))
            .assign(revenue_at_risk_change=lambda f: f["revenue_at_risk"] - f["previous_revenue_at_risk"])
            .sort_values("revenue_at_risk_change", ascending=False)
            .reset_index()
        )
        account = [Column("rank", "Rank", "int", 7), Column("name", "Account", "text", 28),
                   Column("account_manager", "Account manager", "text", 20)]
        return [
            (f"New in the {top} band", new_top.head(n),
             [*account, Column("churn_probability", "Churn probability", "percent", 11),
              Column("churn_probability_change", "Change", "points", 10), Column("reason_1", "Main reason", "text", 40)]),
            ("Biggest risers by revenue at risk", risers.head(n),
             [*account, Column("revenue_at_risk", "Revenue at risk", "money", 14),
              Column("revenue_at_risk_change", "Change", "money", 14), Column("rank_change", "Places up", "int", 9)]),
            ("Newly appearing reasons", reasons.head(n), [*account, Column("new_reasons", "New reasons", "text", 50)]),
            ("Revenue at risk by account manager, against the same accounts last month", by_manager,
             [Column("account_manager", "Account manager", "text", 20),
              Column("revenue_at_risk", "Revenue at risk", "money", 14),
              Column("previous_revenue_at_risk", "Last month", "money", 14),
              Column("revenue_at_risk_change", "Change", "money", 14)]),
        ]

    @property
    def change_counts(self) -> dict[str, int]:
        """Accounts of the list that are new on it, moved up and moved down since the previous list."""
        change = self.risk_list["change"].astype("str")
        return {
            "new": int((change == "new").sum()),
            "up": int(change.str.startswith("up").sum()),
            "down": int(change.str.startswith("down").sum()),
        }
