"""The risk-list page: self-contained, sortable, complete and safe against odd names."""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

import pandas as pd
import pytest

from churnml.report.html import page_html
from helpers.score_fixtures import sample_report


class Collect(HTMLParser):
    """Tags with their attributes, and the text of every table row by table id."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: dict[str, int] = {}
        self._table: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self._table.append(attrs.get("id", ""))
        if tag == "tr" and self._table:
            self.rows[self._table[-1]] = self.rows.get(self._table[-1], 0) + 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._table.pop()


@pytest.fixture(scope="module")
def report():
    return sample_report()


@pytest.fixture(scope="module")
def page(report):
    return page_html(report)


def parse(page: str) -> Collect:
    c = Collect()
    c.feed(page)
    return c


def test_page_is_self_contained(page):
    tags = parse(page).tags
    for tag, attrs in tags:
        for key in ("src", "href"):
            assert not str(attrs.get(key, "")).startswith(("http", "//")), (tag, attrs)
    assert not any(tag == "link" for tag, _ in tags)
    assert "<svg" in page and "<script>" in page and "<style>" in page


def test_page_shows_the_list_summary_formula_model_and_drift(report, page):
    c = parse(page)
    # Every account, in three tables: the first decisions, the other notable ones, the low band folded.
    tables = ("risk", "risk-more", "risk-low")
    assert sum(c.rows.get(t, 1) - 1 for t in tables) == len(report.risk_list)
    assert c.rows["risk"] - 1 == min(20, int((report.risk_list["risk_band"] != report.bands[-1]).sum()))
    assert page.index('id="risk"') < page.index('id="charts"') < page.index('id="risk-more"')
    assert page.index('<details class="tail">') < page.index('id="risk-low"')
    assert "retention priority" in page
    assert escape(report.formula) in page
    assert "churnml-churn v3" in page and "oot/auc" in page and "0.810" in page
    assert "<b>orders_lines_12m</b> 0.41" in page and "<b>complaints_open</b>" not in page
    assert "Compared with the list of <b>2025-01</b>" in page
    for by in ("By tier", "By industry", "By account manager"):
        assert by in page
    assert "Lost in the last 12 months — win-back" in page and "Gone Ltd" in page
    top = report.risk_list.iloc[0]
    assert re.search(re.escape(top["reason_1"]), page)


def test_table_is_sortable_with_numeric_sort_keys(report, page):
    heads = re.findall(r'<th data-type="num">([^<]+)</th>', page)
    assert "Revenue at risk (EUR)" in heads and "Churn probability" in heads  # amounts carry their currency
    first_row = page[page.index('<table id="risk"') :].split("<tr>")[2]
    v = re.search(r'data-v="([^"]+)"', first_row).group(1)
    assert float(v) == report.risk_list["rank"].iloc[0]
    assert "addEventListener('click'" in page


def test_names_are_escaped(page):
    assert "<b>Evil & Co</b>" not in page
    assert "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in page


def test_rows_beyond_the_limit_point_to_the_workbook():
    report = sample_report(60, html_rows=10)
    page = page_html(report)
    c = parse(page)
    assert sum(c.rows.get(t, 1) - 1 for t in ("risk", "risk-more", "risk-low")) == 10
    assert f"top 10 of {len(report.risk_list)} accounts" in page


def test_first_list_and_missing_switching_model_are_said():
    page = page_html(sample_report(60, previous=False, switching=False))
    assert "no earlier list to compare with" in page
    assert "No switching-cost model" in page
    assert "Switching cost" not in page


def test_same_report_gives_the_same_page(report):
    assert page_html(report) == page_html(report)


def test_the_drift_section_names_its_reference_snapshots(report):
    from dataclasses import replace

    page = page_html(replace(report, model={**report.model, "psi_reference": ["2024-05", "2024-06", "2024-07"]}))
    # The model that scores was fitted on every labelled month, the newest three included.
    assert "the newest months the model was fitted on (2024-05, 2024-06, 2024-07)" in page
    assert "peer rates" in page


def test_model_quality_reads_in_words_and_codes_read_as_words():
    from churnml.report import humanise, in_words, quality_words

    words = quality_words({"oot/auc": 0.8, "baseline_rule/oot/auc": 0.62, "baseline_rfm/oot/auc": 0.6})
    assert words == ("On months it never saw, the model ranks a leaving account above a staying one 80 times in 100; "
                     "the best simple rule (rule) 62 times in 100.")
    assert "accounts it never saw" in quality_words({"holdout/auc": 0.7})
    assert humanise("food_beverage") == "Food beverage"
    frame = pd.DataFrame({"industry": ["food_beverage", "metals", None], "tier": ["key", "major", "standard"]})
    shown = in_words(frame, {"industry": {"food_beverage": "Food & beverage"}})
    assert shown["industry"].tolist()[:2] == ["Food & beverage", "Metals"] and shown["tier"].tolist()[0] == "Key"


def test_the_sales_part_of_the_page_has_no_metric_keys_feature_names_or_formula(report, page):
    sales = page[: page.index("For data scientists")]
    assert "oot/auc" not in sales and "priority = " not in sales and "PSI" not in sales
    assert "EUR" in sales


def test_the_changes_are_shown_by_what_a_manager_asks(report, page):
    views = {title: rows for title, rows, _ in report.change_views()}
    new_top = views[f"New in the {report.bands[0]} band"]
    assert (new_top["risk_band"] == report.bands[0]).all()
    risers = views["Biggest risers by revenue at risk"]
    assert (risers["revenue_at_risk_change"] > 0).all() and risers["revenue_at_risk_change"].is_monotonic_decreasing
    by_manager = views["Revenue at risk by account manager, against the same accounts last month"]
    assert by_manager["revenue_at_risk_change"].sum() == pytest.approx(report.risk_list["revenue_at_risk_change"].sum())
    for title in views:
        assert escape(title) in page


def test_units_are_as_they_are_a_change_in_points_and_a_priority_without_currency():
    from churnml.report import DISPLAY_COLUMNS
    from churnml.report.html import fmt

    kinds = {c.name: c.kind for c in DISPLAY_COLUMNS}
    assert fmt(0.341, kinds["churn_probability_change"]) == "+34.1 pts"
    assert fmt(-0.05, kinds["churn_probability_change"]) == "-5.0 pts"
    assert fmt(12345.6, kinds["priority"]) == "12,346" and kinds["priority"] != "money"
    assert fmt(float("nan"), "money") == "" and fmt(None, "points") == ""


def test_the_ranking_words_follow_the_models_horizon_and_the_switching_model():
    from dataclasses import replace

    from churnml.report import ReportData

    base = ReportData(as_of="2025-01", risk_list=pd.DataFrame(), left=pd.DataFrame(), win_back=pd.DataFrame(),
                      summaries={}, bands=["high", "medium", "low"], thresholds={"high": 0.3, "medium": 0.15},
                      weights={"influence": 0.5, "low_switching_cost": 0.3}, formula="", distribution={},
                      model={"horizon_months": 3})
    words = " ".join(base.ranking_words())
    assert "within 3 months" in words and "deeper discount" in words
    without = " ".join(replace(base, switching_available=False).ranking_words())
    assert "discount" not in without and "counts up to 1.5 times." in without


def test_the_reasons_the_action_and_what_would_lower_the_risk_are_in_full_sight(report, page):
    top = report.risk_list.iloc[0]
    row = page[page.index('<table id="risk"'):].split("<tr>")[2]
    for text in (top["reason_1"], top["action"]):
        assert escape(str(text)) in row
    if isinstance(top.get("improvement_1"), str) and top["improvement_1"]:
        assert "would lower the risk: " + escape(top["improvement_1"]) in row
    # Nothing behind a tooltip, a click or an ellipsis.
    assert "text-overflow" not in page and 'title="' not in row and "<details" not in row
