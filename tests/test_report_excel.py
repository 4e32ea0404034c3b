"""The risk-list workbook: structure, formats, colours, sheets per manager, reproducible bytes."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from churnml.report import DISPLAY_COLUMNS, band_colour
from churnml.report.excel import sheet_name, workbook_bytes
from helpers.score_fixtures import sample_report


@pytest.fixture(scope="module")
def report():
    return sample_report()


@pytest.fixture(scope="module")
def book(report):
    return load_workbook(io.BytesIO(workbook_bytes(report)))


def test_sheet_names_are_valid_and_unique():
    assert sheet_name("C/D: Key [EU]*?") == "C_D_ Key _EU___"
    assert len(sheet_name("x" * 50)) == 31
    assert sheet_name("Summary", ["Summary"]) == "Summary (2)"
    assert sheet_name("summary", ["Summary", "summary (2)"]) == "summary (3)"
    assert sheet_name(None) == "Unassigned"
    assert sheet_name("'quoted'") == "quoted"


def test_risk_list_sheet_has_frozen_header_filters_and_formats(report, book):
    ws = book["Risk list"]
    rl = report.risk_list
    headings = [c.value for c in ws[1]]
    assert headings == [c.heading for c in DISPLAY_COLUMNS]
    assert ws.freeze_panes == "C2"
    # An Excel table with its own filters, printed landscape one page wide with the header repeated.
    (table,) = ws.tables.values()
    assert table.ref == table.autoFilter.ref == f"A1:{ws.cell(1, len(headings)).column_letter}{len(rl) + 1}"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows == "$1:$1"
    assert ws.max_row == len(rl) + 1
    col = {h: i + 1 for i, h in enumerate(headings)}
    for r in (2, 3, len(rl) + 1):
        row = rl.iloc[r - 2]
        assert ws.cell(r, col["Rank"]).value == row["rank"]
        assert ws.cell(r, col["Account ID"]).value == row["account_id"]
        assert ws.cell(r, col["Revenue 12 months"]).number_format == '#,##0 "EUR"'  # amounts carry their currency
        assert ws.cell(r, col["Churn probability"]).number_format == "0.0%"
        assert ws.cell(r, col["Churn probability"]).value == pytest.approx(row["churn_probability"])
        band = ws.cell(r, col["Risk band"])
        assert band.value == row["risk_band"]
        assert band.fill.start_color.rgb.endswith(band_colour(row["risk_band"])[0])
    bands = {ws.cell(r, col["Risk band"]).value for r in range(2, ws.max_row + 1)}
    assert len(bands) >= 2  # colours actually differ across the sheet


def test_summary_sheet_says_how_the_list_is_ranked_in_words_and_the_model_sheet_exactly(report, book):
    text = "\n".join(str(c.value) for row in book["Summary"].iter_rows() for c in row if c.value is not None)
    assert "How the list is ranked" in text and "notable risk come first" in text
    for heading in ("by tier", "by industry", "by account manager"):
        assert f"Revenue at risk {heading}" in text
    # For sales people: no formula, no feature names, no PSI.
    assert report.formula not in text and "priority = " not in text and "PSI" not in text
    assert "look different from what the model learnt from" in text  # drift, in words
    model = "\n".join(str(c.value) for row in book["Model"].iter_rows() for c in row if c.value is not None)
    assert report.formula in model
    assert "Drift warning: orders_lines_12m" in model
    assert "Drift warning: complaints_open" not in model  # below the PSI threshold


def test_a_sheet_per_account_manager_with_only_their_accounts(report, book):
    rl = report.risk_list
    fixed = ["Risk list", "Summary", "Charts", "Changes", "Win-back", "Model"]
    assert book.sheetnames[: len(fixed)] == fixed
    managers = book.sheetnames[len(fixed) :]
    assert "C_D_ Key _EU__" in managers and "Unassigned" in managers
    assert all(len(m) <= 31 for m in managers)
    total = 0
    for name in managers:
        ws = book[name]
        id_column = [c.value for c in ws[1]].index("Account ID") + 1
        ids = [ws.cell(r, id_column).value for r in range(2, ws.max_row + 1)]
        owners = set(rl.set_index("account_id").loc[ids, "account_manager"].fillna("(none)"))
        assert len(owners) == 1
        assert ws.freeze_panes == "C2" and len(ws.tables) == 1
        total += len(ids)
    assert total == len(rl)
    # The summary's row for accounts with no manager is called as their sheet is.
    summary = [c.value for row in book["Summary"].iter_rows() for c in row if isinstance(c.value, str)]
    assert "Unassigned" in summary and "(none)" not in summary


def test_changes_and_win_back_sheets(report, book):
    changes = "\n".join(str(c.value) for row in book["Changes"].iter_rows() for c in row if c.value is not None)
    assert "Changes since the list of 2025-01" in changes
    for acc in report.left["account_id"]:
        assert acc in changes
    ws = book["Win-back"]
    assert ws.max_row == len(report.win_back) + 1 and ws["A1"].value == "Account"


def test_first_list_says_there_is_nothing_to_compare_with():
    book = load_workbook(io.BytesIO(workbook_bytes(sample_report(60, previous=False))))
    assert "no earlier list" in book["Changes"]["A1"].value


def test_without_a_switching_model_its_columns_are_left_out():
    book = load_workbook(io.BytesIO(workbook_bytes(sample_report(60, switching=False))))
    headings = [c.value for c in book["Risk list"][1]]
    assert "Switching cost" not in headings and "Switch probability" not in headings


def test_same_report_gives_the_same_bytes(report):
    import dataclasses

    later = dataclasses.replace(report, generated_at="2031-01-01 00:00 UTC")
    assert workbook_bytes(report) == workbook_bytes(later)  # no clock in the workbook


def test_the_charts_sheet_draws_the_risk_where_people_look(book):
    ws = book["Charts"]
    kinds = sorted(type(c).__name__ for c in ws._charts)
    assert kinds[:3] == ["BarChart", "BarChart", "ScatterChart"]
    (scatter,) = [c for c in ws._charts if type(c).__name__ == "ScatterChart"]
    assert scatter.y_axis.scaling.logBase == 10  # revenues over orders of magnitude
    assert ws["A1"].value == "Account manager" and ws["G1"].value == "Quadrant"
    assert {ws.cell(r, 7).value for r in range(2, ws.max_row + 1)} - {None} <= {"defend", "develop", "watch", "maintain"}


def test_a_change_of_probability_is_in_points_and_the_priority_has_no_currency(book):
    ws = book["Risk list"]
    headings = [c.value for c in ws[1]]
    change = ws.cell(row=2, column=headings.index("Churn probability change") + 1)
    assert "pts" in change.number_format and "%" not in change.number_format
    priority = headings.index("Retention priority") + 1
    assert "EUR" not in (ws.cell(row=1, column=priority).value or "")
    assert "EUR" not in ws.cell(row=2, column=priority).number_format


def test_every_sheet_prints_like_a_report(report, book):
    from churnml.report import DISPLAY_COLUMNS, PRINTED_COLUMNS

    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1, ws.title
    # The risk list on paper: the columns a manager reads, the accounts with a notable risk.
    ws = book["Risk list"]
    printed = [c.heading for c in DISPLAY_COLUMNS[:PRINTED_COLUMNS]]
    assert printed == ["Rank", "Account", "Account manager", "Revenue 12 months", "Churn probability",
                       "Risk band", "Revenue at risk", "Reason 1", "Recommended action"]
    notable = int((report.risk_list["risk_band"] != report.bands[-1]).sum())
    assert 0 < notable < len(report.risk_list)
    assert ws.print_area == f"'Risk list'!$A$1:$I${notable + 1}"
    # Numbers sit on the first line of their row, beside the wrapped reasons.
    assert ws.cell(2, 4).alignment.vertical == "top" and ws.cell(2, 8).alignment.vertical == "top"
    # The Charts sheet prints its charts, not the tables behind them.
    assert book["Charts"].print_area == "'Charts'!$K$1:$T$72"
