"""The risk-list workbook for people (openpyxl): frozen headers, filters, formatted numbers,
coloured risk bands, a summary sheet and one sheet per account manager.

`workbook_bytes(report)` returns the .xlsx file as bytes. The bytes depend only on the report
(no clock inside, `generated_at` is left out): document properties are set from the as-of month
and the zip entries carry a fixed date, so re-running a month with the same inputs gives the
same file.
"""

from __future__ import annotations

import io
import math
import re
import warnings
import zipfile
from datetime import datetime
from typing import Any, Iterable, Sequence

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo
from openpyxl.writer.excel import ExcelWriter

from churnml.report import (
    ABOVE_RANGE,
    DISPLAY_COLUMNS,
    DRIFT_NOTE,
    LEFT_DISPLAY,
    NOT_GIVEN,
    PRINTED_COLUMNS,
    SUMMARY_COLUMNS,
    SWITCHING_NOTE,
    WIN_BACK_DISPLAY,
    Column,
    ReportData,
    band_colour,
    is_missing,
    quality_words,
)
from churnml.report.charts import QUADRANTS, by_group, others_words, risk_history, value_risk

# A change of a probability is in percentage points (the cell holds them: 3.4 for +3.4 pts).
FORMATS = {"int": "0", "money": "#,##0", "score": "#,##0", "percent": "0.0%", "cost": "0.0%", "float": "0.000",
           "points": '+0.0" pts";-0.0" pts";0.0" pts"'}
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", start_color="305496", end_color="305496")
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top", horizontal="left")
TOP = Alignment(vertical="top")  # numbers beside wrapped reasons: on the reason's first line
FIXED_SHEETS = ("Risk list", "Summary", "Charts", "Changes", "Win-back", "Model")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def sheet_name(text: Any, taken: Iterable[str] = ()) -> str:
    """A valid, unused sheet name for `text`: no []:*?/\\, at most 31 characters, not blank,
    not starting or ending with an apostrophe, unique (case-insensitively) among `taken`."""
    base = _INVALID_SHEET_CHARS.sub("_", str(text) if text is not None else "").strip().strip("'")
    base = base or "Unassigned"
    taken_lower = {t.lower() for t in taken}
    name = base[:31]
    n = 2
    while name.lower() in taken_lower:
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
        n += 1
    return name


def workbook_bytes(report: ReportData) -> bytes:
    """The workbook of one month as .xlsx bytes (deterministic for the same report)."""
    wb = Workbook(write_only=True)
    stamp = datetime.strptime(report.as_of + "-01", "%Y-%m-%d")
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "churnml"
    wb.properties.title = f"Key-account risk list {report.as_of}"

    _table_sheet(wb, "Risk list", report.risk_list, DISPLAY_COLUMNS, report, printed=PRINTED_COLUMNS)
    _summary_sheet(wb, report)
    _charts_sheet(wb, report)
    _changes_sheet(wb, report)
    _win_back_sheet(wb, report)
    _model_sheet(wb, report)

    taken = list(FIXED_SHEETS)
    managers = report.risk_list["account_manager"]
    keys = sorted(managers.dropna().astype("str").unique())
    groups = [(k, report.risk_list[managers.astype("str") == k]) for k in keys]
    if managers.isna().any():
        groups.append((NOT_GIVEN["account_manager"], report.risk_list[managers.isna()]))
    for manager, rows in groups:
        name = sheet_name(manager, taken)
        taken.append(name)
        _table_sheet(wb, name, rows, DISPLAY_COLUMNS, report, title=f"Accounts of {manager}", printed=PRINTED_COLUMNS)

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        # ExcelWriter directly: openpyxl's save() would stamp the current time as 'modified'.
        ExcelWriter(wb, archive).save()
    return _fixed_zip_dates(raw.getvalue())


def _fixed_zip_dates(data: bytes) -> bytes:
    """Rewrite a zip with every entry dated 1980-01-01, so identical content gives identical bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


# --------------------------------------------------------------------------- cells


def money_format(currency: str) -> str:
    """The number format of an amount: thousands separated, with its currency."""
    return f'#,##0 "{currency}"' if currency else FORMATS["money"]


def _cell(ws: Any, value: Any, col: Column | None = None, currency: str = "") -> WriteOnlyCell:
    """A styled cell for `value` shown as `col` (its number format, band colours)."""
    kind = col.kind if col else "text"
    if is_missing(value):
        return WriteOnlyCell(ws, None)
    if kind == "cost" and isinstance(value, float) and math.isinf(value):
        return WriteOnlyCell(ws, None)  # a number column: the header's note says what empty means
    if kind in FORMATS:
        number = int(value) if kind == "int" else float(value) * (100 if kind == "points" else 1)
        cell = WriteOnlyCell(ws, number)
        cell.alignment = TOP
        cell.number_format = money_format(currency) if kind == "money" else FORMATS[kind]
        return cell
    cell = WriteOnlyCell(ws, str(value))
    # Reasons and actions: wrapped inside their column; every cell of a row starts at its top.
    cell.alignment = WRAP if col is not None and col.width >= 30 else TOP
    if kind == "band":
        fill, text = band_colour(value)
        cell.fill = PatternFill("solid", start_color=fill, end_color=fill)
        cell.font = Font(bold=True, color=text)
    return cell


def _header(ws: Any, headings: Sequence[str]) -> list[WriteOnlyCell]:
    cells = []
    for text in headings:
        cell = WriteOnlyCell(ws, text)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cells.append(cell)
    return cells


def _text(ws: Any, value: Any, font: Font | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value)
    if font is not None:
        cell.font = font
    return cell


def _append_table(
    ws: Any, frame: pd.DataFrame, columns: Sequence[Column], fit_rows: bool = False, currency: str = ""
) -> None:
    """Append a header row and one row per row of `frame`, formatted per column (a column
    `frame` lacks stays empty); with `fit_rows`, each row as tall as its wrapped text."""
    header = _header(ws, [c.heading for c in columns])
    for cell, col in zip(header, columns):
        if col.kind == "cost":
            cell.comment = Comment(f"Empty: {ABOVE_RANGE} (no discount in the range trained on moves it).", "churnml")
    if fit_rows:  # headings wrap in their column: the header row as tall as the longest one
        lines = max((math.ceil(len(c.heading) * 1.2 / c.width) for c in columns), default=1)
        ws.row_dimensions[1].height = LINE_HEIGHT * max(lines, 1)
    ws.append(header)
    data = [frame[c.name].tolist() if c.name in frame.columns else [None] * len(frame) for c in columns]
    for row, values in enumerate(zip(*data), start=2):
        if fit_rows and (height := _row_height(values, columns)) is not None:
            ws.row_dimensions[row].height = height
        ws.append([_cell(ws, v, c, currency) for v, c in zip(values, columns)])


def _widths(ws: Any, columns: Sequence[Column]) -> None:
    for i, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width


# --------------------------------------------------------------------------- sheets


def _table_sheet(
    wb: Workbook,
    name: str,
    frame: pd.DataFrame,
    columns: Sequence[Column],
    report: ReportData,
    title: str | None = None,
    printed: int | None = None,
) -> None:
    """A sheet holding `frame` as an Excel table: header row frozen and repeated on every printed
    page, filters on, formats per column, rows as tall as their wrapped text, printed landscape
    and one page wide. With `printed`, the print area is the first `printed` columns and the
    accounts with a notable risk (all of them when none has): the decisions, not the long tail,
    which stays in the sheet for filtering."""
    ws = wb.create_sheet(name)
    cols = [c for c in columns if c.name in frame.columns]
    if not report.switching_available:
        cols = [c for c in cols if c.name not in ("switch_probability", "switching_cost")]
    _widths(ws, cols)
    # Keep rank and account name in view while scrolling right and down.
    ws.freeze_panes = "C2"
    _print_setup(ws)
    last = get_column_letter(max(len(cols), 1))
    if len(frame):
        table = Table(displayName=f"T{len(wb.worksheets)}", ref=f"A1:{last}{len(frame) + 1}")
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showRowStripes=True)
        # Write-only sheets name the table's columns themselves.
        table.tableColumns = [TableColumn(id=i, name=c.heading) for i, c in enumerate(cols, start=1)]
        table.autoFilter = AutoFilter(ref=table.ref)
        with warnings.catch_warnings():  # openpyxl warns in write-only mode even with the columns named
            warnings.simplefilter("ignore", UserWarning)
            ws.add_table(table)
    _append_table(ws, frame, cols, fit_rows=True, currency=report.currency)
    if printed and len(frame):
        notable = int((frame["risk_band"] != report.bands[-1]).sum()) if "risk_band" in frame else 0
        ws.print_area = f"A1:{get_column_letter(min(printed, len(cols)))}{(notable or len(frame)) + 1}"


def _print_setup(ws: Any) -> None:
    """Landscape, as wide as one page, the header row on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


LINE_HEIGHT = 15.0  # points per line of wrapped text


def _row_height(values: Sequence[Any], columns: Sequence[Column]) -> float | None:
    """The height that shows every wrapped cell of a row whole; None for a one-line row."""
    lines = 1
    for value, col in zip(values, columns):
        if col.width >= 30 and isinstance(value, str) and value:
            lines = max(lines, math.ceil(len(value) * 1.1 / col.width))
    return LINE_HEIGHT * lines if lines > 1 else None


def _small_table(ws: Any, frame: pd.DataFrame, first: Column, columns: Sequence[Column], currency: str = "") -> None:
    """Append a titled-less table (header + rows) to a free-form sheet."""
    _append_table(ws, frame, [first, *[c for c in columns if c.name in frame.columns]], currency=currency)
    ws.append([])


def _summary_sheet(wb: Workbook, report: ReportData) -> None:
    ws = wb.create_sheet("Summary")
    _print_setup(ws)
    ws.print_title_rows = None  # the title is printed once, on the first page
    for i, width in enumerate([44, 18, 18, 18, 16, 18, 12, 12, 12], start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    rl = report.risk_list
    # No generated-at line: the same month with the same inputs gives the same workbook.
    ws.append([_text(ws, f"Key-account risk list — {report.as_of}", TITLE_FONT)])
    version = report.model_label
    if version:
        ws.append([_text(ws, f"Model {version}")])
    for warning in report.model.get("warnings") or []:
        _sentence(ws, f"Warning: {warning}", Font(bold=True, color="9C0006"))
    if report.drifted:
        _sentence(ws, DRIFT_NOTE.format(where="on the Model sheet"), Font(color="9C0006"))
    ws.append([])
    facts = [
        ("Accounts scored", len(rl), "int"),
        ("Revenue 12 months", float(rl["revenue_12m"].sum()) if len(rl) else 0.0, "money"),
        ("Revenue at risk", float(rl["revenue_at_risk"].sum()) if len(rl) else 0.0, "money"),
    ]
    facts += [(f"Accounts in band '{b}'", int((rl["risk_band"] == b).sum()), "int") for b in report.bands]
    facts += [("Lost in the last 12 months (win-back sheet)", len(report.win_back), "int")]
    if report.previous_as_of:
        facts += [
            (f"New since {report.previous_as_of}", report.change_counts["new"], "int"),
            (f"Left since {report.previous_as_of}", len(report.left), "int"),
        ]
    for label, value, kind in facts:
        ws.append([_text(ws, label, BOLD), _cell(ws, value, Column("v", "v", kind), report.currency)])
    ws.append([])
    ws.append([_text(ws, "How the list is ranked", BOLD)])
    for sentence in report.ranking_words():
        _sentence(ws, sentence)
    if report.switching_available:
        _sentence(ws, SWITCHING_NOTE)
    for note in report.notes:
        _sentence(ws, note)
    ws.append([])
    band_cols = [Column(f"{b}_band", f"In band {b}", "int", 10) for b in report.bands]
    for key, heading in (("tier", "Tier"), ("industry", "Industry"), ("account_manager", "Account manager")):
        frame = report.summaries.get(key)
        if frame is None:
            continue
        ws.append([_text(ws, f"Revenue at risk by {heading.lower()}", BOLD)])
        _small_table(ws, frame, Column(key, heading), [*SUMMARY_COLUMNS, *band_cols], report.currency)


SUMMARY_LINE = 140  # characters of a sentence per row: within the sheet's columns A:I, on screen and paper


def _sentence(ws: Any, text: str, font: Font | None = None) -> None:
    """A sentence on the Summary sheet, one row per line of at most `SUMMARY_LINE` characters
    (broken between words): never running past the printed columns, never cut mid-word."""
    import textwrap

    for line in textwrap.wrap(text, SUMMARY_LINE) or [""]:
        ws.append([_text(ws, line, font)])


def _charts_sheet(wb: Workbook, report: ReportData) -> None:
    """Revenue at risk by manager and by industry, the value × risk matrix and the top accounts'
    risk over the last lists, as Excel charts over the small tables they are drawn from."""
    from openpyxl.chart import BarChart, LineChart, Reference, ScatterChart, Series

    ws = wb.create_sheet("Charts")
    _print_setup(ws)
    # On paper the charts only (anchored from K1 down to about row 72), never the tables they are
    # drawn from.
    ws.print_area = "K1:T72"
    for i, width in enumerate([24, 16, 4, 24, 16, 4, 12, 16, 14], start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    rl = report.risk_list
    managers, industries = by_group(rl, "account_manager"), by_group(rl, "industry")
    risk_line = report.thresholds[report.bands[-2]] if len(report.bands) > 1 else 0.5
    matrix, _ = value_risk(rl, risk_line)
    history = risk_history(report.history, rl)
    quadrants = sorted(set(QUADRANTS.values()))
    # The tables, side by side from row 1: managers (A:B), industries (D:E), the matrix (G:I).
    rows = max(len(managers), len(industries), len(matrix)) + 1
    money = Column("m", "m", "money")
    ws.append(_header(ws, ["Account manager", f"Revenue at risk ({report.currency})", "", "Industry",
                           f"Revenue at risk ({report.currency})", "", "Quadrant", "Churn probability",
                           f"Revenue 12 months ({report.currency})"]))
    mat = matrix.sort_values(["quadrant", "churn_probability"], kind="mergesort").reset_index(drop=True)
    for i in range(rows - 1):
        line: list = []
        for frame, key in ((managers, "account_manager"), (industries, "industry")):
            if i < len(frame):
                amount = _cell(ws, frame["revenue_at_risk"].iat[i], money, report.currency)
                line += [_text(ws, str(frame[key].iat[i])), amount, None]
            else:
                line += [None, None, None]
        if i < len(mat):
            line += [_text(ws, mat["quadrant"].iat[i]), _cell(ws, mat["churn_probability"].iat[i], Column("p", "p", "percent")),
                     _cell(ws, mat["revenue_12m"].iat[i], money, report.currency)]
        ws.append(line)

    for col, n, title, anchor in (
            (1, len(managers), f"Revenue at risk by account manager{others_words(managers, report.currency)}", "K1"),
            (4, len(industries), f"Revenue at risk by industry{others_words(industries, report.currency)}", "K18")):
        chart = BarChart()
        chart.type, chart.title, chart.legend = "bar", title, None
        chart.add_data(Reference(ws, min_col=col + 1, min_row=1, max_row=n + 1), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=col, min_row=2, max_row=n + 1))
        chart.height, chart.width = 8, 16
        ws.add_chart(chart, anchor)
    scatter = ScatterChart()
    scatter.title = "Value × risk: defend, develop, watch, maintain"
    scatter.x_axis.title, scatter.y_axis.title = "churn probability", f"revenue 12 months ({report.currency})"
    scatter.style, scatter.height, scatter.width = 13, 10, 16
    scatter.scatterStyle = "marker"
    scatter.y_axis.scaling.logBase = 10  # revenues span orders of magnitude: a linear axis squashes most to a line
    start = 2
    for name in quadrants:
        count = int((mat["quadrant"] == name).sum())
        if count:
            series = Series(Reference(ws, min_col=9, min_row=start, max_row=start + count - 1),
                            Reference(ws, min_col=8, min_row=start, max_row=start + count - 1), title=name)
            series.marker.symbol, series.marker.size = "circle", 4
            series.graphicalProperties.line.noFill = True
            scatter.series.append(series)
        start += count
    ws.add_chart(scatter, "K35")
    if len(history) > 1:
        first = rows + 2
        ws.append([])
        ws.append(_header(ws, ["List", *history.columns]))
        for month, values in history.iterrows():
            ws.append([_text(ws, str(month)), *[_cell(ws, v, Column("p", "p", "percent")) for v in values]])
        line = LineChart()
        line.title, line.height, line.width = "The top accounts' risk over the last lists", 9, 16
        line.add_data(Reference(ws, min_col=2, max_col=1 + len(history.columns), min_row=first,
                                max_row=first + len(history)), titles_from_data=True)
        line.set_categories(Reference(ws, min_col=1, min_row=first + 1, max_row=first + len(history)))
        ws.add_chart(line, "K56")


def _changes_sheet(wb: Workbook, report: ReportData) -> None:
    ws = wb.create_sheet("Changes")
    _print_setup(ws)
    _widths(ws, LEFT_DISPLAY)
    if not report.previous_as_of:
        ws.append([_text(ws, "First list: there is no earlier list to compare with.", BOLD)])
        return
    counts = report.change_counts
    ws.append([_text(ws, f"Changes since the list of {report.previous_as_of}", TITLE_FONT)])
    ws.append([_text(ws, f"New on the list: {counts['new']}; "
                         f"moved up: {counts['up']}; "
                         f"moved down: {counts['down']}; "
                         f"left the list: {len(report.left)}. Per account: the risk list's "
                         f"'Change since last list' and 'New reasons' columns.")])
    for title, rows, columns in report.change_views():
        ws.append([])
        ws.append([_text(ws, title, BOLD)])
        if len(rows):
            _append_table(ws, rows, columns, currency=report.currency)
        else:
            ws.append([_text(ws, "None.")])
    ws.append([])
    ws.append([_text(ws, "Left the list, and why", BOLD)])
    if len(report.left):
        _append_table(ws, report.left, LEFT_DISPLAY, currency=report.currency)
    else:
        ws.append([_text(ws, "No account left the list.")])


def _win_back_sheet(wb: Workbook, report: ReportData) -> None:
    ws = wb.create_sheet("Win-back")
    _print_setup(ws)
    _widths(ws, WIN_BACK_DISPLAY)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(WIN_BACK_DISPLAY))}{len(report.win_back) + 1}"
    _append_table(ws, report.win_back, WIN_BACK_DISPLAY, currency=report.currency)


def _model_sheet(wb: Workbook, report: ReportData) -> None:
    ws = wb.create_sheet("Model")
    _print_setup(ws)
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 40
    ws.append([_text(ws, "Model", TITLE_FONT)])
    for key in ("name", "version", "uri", "alias"):
        if report.model.get(key) not in (None, ""):
            ws.append([_text(ws, key.capitalize(), BOLD), _text(ws, str(report.model[key]))])
    ws.append([])
    metrics = report.model.get("metrics") or {}
    plan = str(report.model.get("plan") or "out-of-time test")
    ws.append([_text(ws, "In words", BOLD), _text(ws, quality_words(metrics))])
    ws.append([_text(ws, "Evaluated on", BOLD), _text(ws, plan)])
    if report.model.get("plan_reason"):
        ws.append([_text(ws, "Why this evaluation"), _text(ws, str(report.model["plan_reason"]))])
    ws.append([_text(ws, f"{plan[0].upper()}{plan[1:]} metrics", BOLD)])
    if metrics:
        for key in sorted(metrics):
            ws.append([_text(ws, key), _cell(ws, metrics[key], Column("m", "m", "float"))])
    else:
        ws.append([_text(ws, "not recorded with this model")])
    ws.append([])
    ws.append([_text(ws, "Retention priority, exactly", BOLD)])
    ws.append([_text(ws, report.formula)])
    ws.append([_text(ws, "Weights: " + ", ".join(f"w_{k} = {v:g}" for k, v in report.weights.items()))])
    ws.append([])
    for feature, value in report.drifted:
        ws.append([_text(ws, f"Drift warning: {feature} has PSI {value:.2f} against training", Font(color="9C0006"))])
    ws.append([_text(ws, f"Population stability (PSI) against training; warning above {report.drift_threshold:g}", BOLD)])
    ws.append(_header(ws, ["Feature", "PSI"]))
    for feature, value in sorted(report.psi.items(), key=lambda kv: (-kv[1], kv[0])):
        cell = _cell(ws, value, Column("psi", "psi", "float"))
        cell.number_format = "0.000"
        if value > report.drift_threshold:
            cell.fill = PatternFill("solid", start_color="F8CBAD", end_color="F8CBAD")
        ws.append([_text(ws, feature), cell])
