"""The risk-list page for people: one self-contained HTML file (inline CSS, a few lines of
vanilla JS to sort and filter the table, the score distribution as inline SVG).

`page_html(report)` returns the page as text; nothing is fetched from the network.
"""

from __future__ import annotations

import io
import math
from html import escape
from typing import Any, Sequence

import numpy as np
import pandas as pd

from churnml.report import (
    ABOVE_RANGE,
    DISPLAY_COLUMNS,
    DRIFT_NOTE,
    LEFT_DISPLAY,
    SUMMARY_COLUMNS,
    SWITCHING_NOTE,
    WIN_BACK_DISPLAY,
    Column,
    ReportData,
    band_colour,
    is_missing,
    quality_words,
)
from churnml.report.charts import by_group, others_words, risk_history, value_risk

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
header{background:#243b53;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;color:#d9e2ec;font-size:14px}
main{padding:12px 28px 40px}
section{background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:14px 18px;margin:14px 0}
h2{font-size:18px;margin:0 0 10px}
h3{font-size:15px;margin:14px 0 6px}
.kpis{display:flex;flex-wrap:wrap;gap:12px}
.kpi{background:#f0f4f8;border-radius:6px;padding:10px 14px;min-width:150px}
.kpi .v{font-size:22px;font-weight:600}
.kpi .l{font-size:12px;color:#52606d}
.warn{background:#fff4e5;border-left:4px solid #f0b429;padding:8px 12px;margin:6px 0}
.note{background:#e6f6ff;border-left:4px solid #2680c2;padding:8px 12px;margin:6px 0}
code.formula{display:block;background:#f0f4f8;padding:8px 10px;border-radius:4px;white-space:pre-wrap}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#334e68;color:#fff;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th:after{content:" \\2195";color:#9fb3c8;font-size:11px}
td.num{text-align:right;white-space:nowrap}
td.band{font-weight:600;text-align:center}
td ol{margin:0;padding-left:18px}
tr:nth-child(even) td{background:#fafbfc}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(620px,1fr));gap:14px}
.grid>div{overflow-x:auto}
.sub{color:#7b8794;font-size:11px}
td.why{min-width:380px;white-space:normal}
td.why ol{margin:0;padding-left:18px}
.better{color:#27ab83;font-size:12px;margin-top:2px}
table.ranked-list td.acc{min-width:120px}
table.ranked-list th{font-size:11.5px}
table.ranked-list{font-size:12.5px}
table.ranked-list td{padding:3px 6px;line-height:1.3}
details.tail summary{cursor:pointer;color:#2680c2;font-weight:600;margin:6px 0}
td.chg{min-width:90px}
.act{font-weight:600;color:#243b53;margin-top:3px}
.scroll{max-height:640px;overflow:auto}
.ranked{overflow-x:auto}
input.filter{padding:6px 8px;width:320px;margin:0 0 8px;border:1px solid #bcccdc;border-radius:4px}
small{color:#52606d}
@media print{
  body{background:#fff;font-size:10px}
  header{background:#fff;color:#000;padding:0 0 6px}
  header p{color:#333}
  main{padding:0}
  section{box-shadow:none;padding:0;margin:8px 0;break-inside:auto}
  input.filter,table.sortable th:after{display:none}
  .scroll,.ranked,.grid>div{max-height:none;overflow:visible}
  th{position:static;background:#ddd;color:#000}
  thead{display:table-header-group}
  tr{break-inside:avoid}
  table{font-size:7.5px}
  th,td{padding:1px 3px;line-height:1.15}
  table.ranked-list{font-size:7.5px}
  table.ranked-list td{padding:1px 3px;line-height:1.15}
  td.why{min-width:0;width:50%}
  .better{font-size:7.5px;margin-top:0}
  h2{font-size:13px;margin:4px 0}
  h3{font-size:11px;margin:6px 0 3px}
  .grid{display:block}
}
@page{size:A4 landscape;margin:12mm}
"""

# Click a heading to sort by it (again to reverse); numbers sort by their data-v value, largest first.
JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){
    th.addEventListener('click',function(){
      var num=th.dataset.type==='num', body=t.tBodies[0], rows=Array.from(body.rows);
      // Numbers sort largest first on the first click, text A to Z; a second click reverses.
      var asc=num?th.dataset.dir==='desc':th.dataset.dir!=='asc';
      t.querySelectorAll('th').forEach(function(h){delete h.dataset.dir;});
      th.dataset.dir=asc?'asc':'desc';
      rows.sort(function(a,b){
        var x=a.cells[i].dataset.v, y=b.cells[i].dataset.v;
        if(x===undefined){x=a.cells[i].textContent;} if(y===undefined){y=b.cells[i].textContent;}
        if(num){x=x===''?-Infinity:parseFloat(x); y=y===''?-Infinity:parseFloat(y); return asc?x-y:y-x;}
        return asc?x.localeCompare(y):y.localeCompare(x);
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
document.querySelectorAll('input.filter').forEach(function(inp){
  var t=document.getElementById(inp.dataset.table);
  inp.addEventListener('input',function(){
    var q=inp.value.toLowerCase();
    Array.from(t.tBodies[0].rows).forEach(function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});
  });
});
"""

NUMERIC_KINDS = ("int", "money", "score", "percent", "points", "cost", "float")


def fmt(value: Any, kind: str) -> str:
    """A value as text for people: money with thousands separators, percents with one decimal."""
    if is_missing(value):
        return ""
    if kind == "int":
        return f"{int(value):,}"
    if kind in ("money", "score"):
        return f"{float(value):,.0f}"
    if kind == "points":  # a change of a probability: percentage points, never "%"
        return f"{float(value) * 100:+.1f} pts"
    if kind in ("percent", "cost"):
        if math.isinf(float(value)):
            return ABOVE_RANGE
        return f"{float(value) * 100:.1f} %"
    if kind == "float":
        return f"{float(value):.3f}"
    return str(value)


def _td(value: Any, col: Column) -> str:
    text = escape(fmt(value, col.kind))
    if col.kind in NUMERIC_KINDS:
        v = "" if is_missing(value) else repr(float(value)) if not math.isinf(float(value)) else "1e9"
        return f'<td class="num" data-v="{v}">{text}</td>'
    if col.kind == "band" and text:
        fill, colour = band_colour(value)
        return f'<td class="band" style="background:#{fill};color:#{colour}">{text}</td>'
    return f"<td>{text}</td>"


def _th(col: Column, currency: str = "") -> str:
    kind = ' data-type="num"' if col.kind in NUMERIC_KINDS else ""
    heading = f"{col.heading} ({currency})" if col.kind == "money" and currency else col.heading
    return f"<th{kind}>{escape(heading)}</th>"


def table_html(
    frame: pd.DataFrame, columns: Sequence[Column], table_id: str | None = None, sortable: bool = True, currency: str = ""
) -> str:
    """An HTML table of `frame` showing `columns` (those present), formatted per column kind,
    amounts headed with their `currency`."""
    cols = [c for c in columns if c.name in frame.columns]
    attrs = (f' id="{table_id}"' if table_id else "") + (' class="sortable"' if sortable else "")
    head = "".join(_th(c, currency) for c in cols)
    data = [frame[c.name].tolist() for c in cols]
    body = "\n".join("<tr>" + "".join(_td(v, c) for v, c in zip(values, cols)) + "</tr>" for values in zip(*data))
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _why(row: dict) -> str:
    """Why and what to do, in full: the account's reasons as a numbered list, the action with
    the figure that matters (the offer and the margin we can defend), and what would lower the
    risk most; wrapped in the cell, nothing behind a tooltip or a click."""
    reasons = [str(row[k]) for k in ("reason_1", "reason_2", "reason_3") if not is_missing(row.get(k)) and row.get(k)]
    better = [str(row[k]) for k in ("improvement_1", "improvement_2") if not is_missing(row.get(k)) and row.get(k)]
    action = fmt(row.get("action"), "text")
    listed = "".join(f"<li>{escape(t)}</li>" for t in reasons)
    lower = "".join(f'<div class="better">would lower the risk: {escape(t)}</div>' for t in better)
    return (f'<td class="why">{f"<ol>{listed}</ol>" if listed else ""}'
            f'<div class="act">→ {escape(action)}</div>{lower}</td>')


def _risk_table(report: ReportData, rows: pd.DataFrame, table_id: str) -> str:
    """Ranked accounts, compact enough for a laptop screen: account name over its id, industry
    over tier, the reasons, action and what would lower the risk in full, the change over its
    new reasons."""
    by_name = {c.name: c for c in DISPLAY_COLUMNS}
    # What a manager reads at a glance; the priority index and the switch probability are in the workbook.
    numbers = ["revenue_12m", "churn_probability", "risk_band", "revenue_at_risk"]
    if report.switching_available:
        numbers += ["switching_cost"]
    heads = [
        _th(by_name["rank"]),
        "<th>Account</th>",
        "<th>Account manager</th>",
        "<th>Industry / tier</th>",
        *(_th(by_name[n], report.currency) for n in numbers),
        "<th>Reasons, recommended action and what would lower the risk</th>",
    ]
    if report.previous_as_of:  # on a first list there is no change to show
        heads.append('<th data-type="num">Change since last list</th>')
    lines = []
    for r in rows.to_dict("records"):
        name = r.get("name")
        cells = [
            _td(r["rank"], by_name["rank"]),
            f'<td class="acc" data-v="{escape(str(name if not is_missing(name) else r["account_id"]))}">'
            f'{escape(fmt(name, "text"))}<div class="sub">{escape(str(r["account_id"]))}</div></td>',
            f"<td>{escape(fmt(r.get('account_manager'), 'text'))}</td>",
            f"<td>{escape(fmt(r.get('industry'), 'text'))}<div class='sub'>{escape(fmt(r.get('tier'), 'text'))}</div></td>",
            *(_td(r[n], by_name[n]) for n in numbers),
            _why(r),
        ]
        if report.previous_as_of:
            change = escape(fmt(r.get("change"), "text"))
            delta = r.get("revenue_at_risk_change")
            if not is_missing(delta):
                change += (f'<div class="sub">at risk {"+" if delta >= 0 else "−"}{fmt(abs(delta), "money")} '
                           f'{report.currency}</div>')
            new = r.get("new_reasons")
            if not is_missing(new) and new:
                change += f'<div class="sub">new: {escape(str(new))}</div>'
            cells.append(f'<td class="chg num" data-v="{"" if is_missing(r.get("rank_change")) else int(r["rank_change"])}">'
                         f"{change}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table id="{table_id}" class="sortable ranked-list"><thead><tr>{"".join(heads)}</tr></thead><tbody>\n'
        + "\n".join(lines)
        + "\n</tbody></table>"
    )


FIRST_DECISIONS = 20  # accounts shown before the charts: the first screens open on decisions


def _ranked_parts(report: ReportData) -> tuple[str, str, str]:
    """The ranked list in three parts: the first decisions (at most `FIRST_DECISIONS` accounts
    with a notable risk), the other accounts with a notable risk, and the low band folded away
    (a count and an expander); `html_rows` accounts at most on the page."""
    shown = report.risk_list.head(report.html_rows)
    notable = shown[shown["risk_band"] != report.bands[-1]]
    low = shown[shown["risk_band"] == report.bands[-1]]
    first, rest = notable.head(FIRST_DECISIONS), notable.iloc[FIRST_DECISIONS:]
    if not len(notable):
        first = shown.head(0)
    top = _risk_table(report, first, "risk") if len(first) else "<p>No account has a notable risk this month.</p>"
    more = ""
    if len(rest):
        more = ('<input class="filter" data-table="risk-more" placeholder="Filter: account, manager, industry, reason…">'
                + _risk_table(report, rest, "risk-more"))
    tail = ""
    if len(low):
        tail = (f'<details class="tail"><summary>{len(low):,} accounts at {escape(report.bands[-1])} risk '
                f"(no notable risk): show them</summary>"
                f'<input class="filter" data-table="risk-low" placeholder="Filter…">'
                + _risk_table(report, low, "risk-low") + "</details>")
    return top, more, tail


def distribution_svg(report: ReportData) -> str:
    """Inline SVG: histogram of churn probability with the band thresholds, and the share of
    revenue at risk held by the top of the list (deterministic: fixed hash salt, no date)."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    rl = report.risk_list
    p = rl["churn_probability"].astype("float64").to_numpy()
    with matplotlib.rc_context({"svg.hashsalt": "churnml", "svg.fonttype": "none", "font.size": 10}):
        fig = Figure(figsize=(11, 3.6))
        FigureCanvasSVG(fig)
        ax1, ax2 = fig.subplots(1, 2)
        bins = np.linspace(0, 1, 41)
        ax1.hist(p, bins=bins, color="#486581", edgecolor="white")
        for band in report.bands[:-1]:
            t = report.thresholds[band]
            ax1.axvline(t, color="#" + band_colour(band)[1], linestyle="--", linewidth=1.2)
            # Staggered heights so labels of close thresholds do not overlap.
            height = ax1.get_ylim()[1] * (0.97 - 0.09 * report.bands.index(band))
            ax1.text(t, height, f" {band} ≥ {t:.0%}", color="#" + band_colour(band)[1], va="top")
        ax1.set_xlabel("churn probability")
        ax1.set_ylabel("accounts")
        ax1.set_title("Score distribution")
        by_priority = rl.sort_values("rank")["revenue_at_risk"].astype("float64").to_numpy()
        total = by_priority.sum()
        if len(by_priority) and total > 0:
            share_accounts = np.arange(1, len(by_priority) + 1) / len(by_priority)
            ax2.plot(share_accounts * 100, np.cumsum(by_priority) / total * 100, color="#c05621")
            ax2.plot([0, 100], [0, 100], color="#9fb3c8", linestyle=":")
        ax2.set_xlabel("top % of the list (in list order)")
        ax2.set_ylabel("% of revenue at risk")
        ax2.set_title("Revenue at risk covered by the top of the list")
        return _svg(fig, (ax1, ax2))


def _svg(fig, axes) -> str:
    """A figure as inline SVG, without the top and right frame lines (inside the rc_context of
    its caller, so the hash salt keeps it deterministic)."""
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    svg = out.getvalue()
    return svg[svg.index("<svg") :]


def charts_svg(report: ReportData) -> str:
    """Inline SVG: revenue at risk by manager and by industry, the value × risk matrix, and the
    top accounts' risk over the last lists (deterministic: fixed hash salt, no date)."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    rl = report.risk_list
    risk_line = report.thresholds[report.bands[-2]] if len(report.bands) > 1 else 0.5
    history = risk_history(report.history, rl)
    panels = 4 if len(history) > 1 else 3
    with matplotlib.rc_context({"svg.hashsalt": "churnml", "svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(13, 3.9 * ((panels + 1) // 2)))
        FigureCanvasSVG(fig)
        axes = fig.subplots((panels + 1) // 2, 2).ravel()
        for ax, column, title in ((axes[0], "account_manager", "account manager"), (axes[1], "industry", "industry")):
            groups = by_group(rl, column)
            ax.barh(groups[column].astype(str)[::-1], groups["revenue_at_risk"][::-1] / 1e3, color="#c05621")
            ax.set_title(f"Revenue at risk by {title} (thousand {report.currency}){others_words(groups, report.currency)}",
                         fontsize=9)
        matrix, value_line = value_risk(rl, risk_line)
        ax = axes[2]
        colours = {"defend": "#c53030", "develop": "#2f855a", "watch": "#d69e2e", "maintain": "#718096"}
        for name, colour in colours.items():
            part = matrix[matrix["quadrant"] == name]
            ax.scatter(part["churn_probability"] * 100, part["revenue_12m"].clip(lower=1) / 1e3, s=9, color=colour,
                       label=f"{name} ({len(part)})")
        ax.axvline(risk_line * 100, color="#334e68", linewidth=0.8)
        ax.axhline(max(value_line, 1) / 1e3, color="#334e68", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("churn probability (%)")
        ax.set_ylabel(f"revenue, last 12 months (thousand {report.currency})")
        ax.set_title("Value × risk: defend the valuable at risk, develop the valuable safe")
        ax.legend(fontsize=8, loc="lower right")
        if panels == 4:
            ax = axes[3]
            for name in history.columns:
                ax.plot(history.index, history[name] * 100, marker="o", label=name)
            ax.set_ylabel("churn probability (%)")
            ax.set_title("The top accounts' risk over the last lists")
            ax.legend(fontsize=7, loc="upper left")
        else:
            axes[3].set_visible(False)
        return _svg(fig, axes)


def _kpi(value: str, label: str) -> str:
    return f'<div class="kpi"><div class="v">{escape(value)}</div><div class="l">{escape(label)}</div></div>'


def page_html(report: ReportData) -> str:
    """The whole page for one month as text."""
    rl = report.risk_list
    model = report.model
    version = report.model_label
    sub = [f"Scored {len(rl):,} accounts in scope as of {report.as_of}"]
    if version or model.get("uri"):
        sub.append(f"model {version or ''} ({model.get('uri', '')})".replace(" ()", ""))
    if report.generated_at:
        sub.append(f"generated {report.generated_at}")

    kpis = [
        _kpi(f"{len(rl):,}", "accounts scored"),
        *[_kpi(f"{int((rl['risk_band'] == b).sum()):,}", f"in band {b}") for b in report.bands[:-1]],
        _kpi(f'{fmt(rl["revenue_at_risk"].sum(), "money")} {report.currency}', "revenue at risk"),
        _kpi(f'{fmt(rl["revenue_12m"].sum(), "money")} {report.currency}', "revenue, last 12 months"),
        _kpi(f"{len(report.win_back):,}", "lost in the last 12 months (win-back)"),
    ]
    if report.previous_as_of:
        kpis += [
            _kpi(f"{report.change_counts['new']:,}", f"new since {report.previous_as_of}"),
            _kpi(f"{len(report.left):,}", f"left since {report.previous_as_of}"),
        ]

    alerts = [f'<div class="warn">{escape(w)}</div>' for w in report.model.get("warnings") or []]
    drift_detail = ""
    if report.drifted:
        alerts.append(f'<div class="warn">{escape(DRIFT_NOTE.format(where="at the end"))}</div>')
        names = ", ".join(f"<b>{escape(f)}</b> {v:.2f}" for f, v in report.drifted)
        drift_detail = (
            f'<div class="warn">Drift: {len(report.drifted)} feature(s) moved away from the training data '
            f"(population stability index above {report.drift_threshold:g}): {names}. Reasons and scores "
            "that lean on them deserve a second look; a retrain may be due.</div>"
        )
    for note in report.notes:
        alerts.append(f'<div class="note">{escape(note)}</div>')

    weights = ", ".join(f"w_{escape(k)} = {v:g}" for k, v in report.weights.items())
    band_cols = [Column(f"{b}_band", f"in {b}", "int") for b in report.bands]
    summaries = []
    for key, heading in (("tier", "Tier"), ("industry", "Industry"), ("account_manager", "Account manager")):
        frame = report.summaries.get(key)
        if frame is not None:
            summaries.append(
                f"<div><h3>By {heading.lower()}</h3>"
                + table_html(
                    frame,
                    [Column(key, heading), *(c for c in SUMMARY_COLUMNS if c.name != "priority"), *band_cols],
                    currency=report.currency,
                )
                + "</div>"
            )

    shown = min(len(rl), report.html_rows)
    more = (
        f"<p><small>Showing the top {shown:,} of {len(rl):,} accounts; the full list is in "
        "risk_list.xlsx.</small></p>"
        if shown < len(rl)
        else ""
    )
    top_table, rest_table, tail_table = _ranked_parts(report)
    if not rest_table:
        rest_table = "<p>None beyond those above.</p>"

    if report.previous_as_of:
        counts = report.change_counts
        changes = (
            f"<p>Compared with the list of <b>{escape(report.previous_as_of)}</b>: "
            f"{counts['new']:,} new on the list, {counts['up']:,} moved up, {counts['down']:,} moved down, "
            f"{len(report.left):,} left the list. Per account, see the column "
            "“Change since last list” and “New reasons”.</p>"
            + "".join(
                f"<h3>{escape(title)}</h3>"
                + (table_html(rows, columns, currency=report.currency) if len(rows) else "<p>None.</p>")
                for title, rows, columns in report.change_views()
            )
            + (
                '<h3>Left the list, and why</h3><div class="scroll">'
                + table_html(report.left, LEFT_DISPLAY, currency=report.currency)
                + "</div>"
                if len(report.left)
                else ""
            )
        )
    else:
        changes = "<p>This is the first list: there is no earlier list to compare with.</p>"

    metrics = model.get("metrics") or {}
    plan = str(model.get("plan") or "out-of-time test")
    metric_rows = "".join(
        f"<tr><td>{escape(str(k))}</td><td class='num'>{escape(fmt(v, 'float'))}</td></tr>" for k, v in sorted(metrics.items())
    )
    plan_note = (
        f"<p class='note'>Evaluated on an {escape(plan)}"
        if plan[0] in "aeiou"
        else f"<p class='note'>Evaluated on a {escape(plan)}"
    ) + (f": {escape(str(model['plan_reason']))}.</p>" if model.get("plan_reason") else ".</p>")
    metric_table = plan_note + (
        f"<table><thead><tr><th>{escape(plan)} metric</th><th>value</th></tr></thead><tbody>{metric_rows}</tbody></table>"
        if metrics
        else "<p>No held-out metrics were recorded with this model.</p>"
    )
    psi_items = sorted(report.psi.items(), key=lambda kv: (-kv[1], kv[0]))[:15]
    psi_rows = "".join(
        f"<tr><td>{escape(k)}</td><td class='num'>{v:.3f}</td><td>{'drift' if v > report.drift_threshold else ''}</td></tr>"
        for k, v in psi_items
    )
    reference = model.get("psi_reference") or []
    psi_note = (
        "<p class='note'>Population stability index of each feature in this month's accounts against "
        + (f"the newest months the model was fitted on ({escape(', '.join(reference))})" if reference
           else "the data the model was fitted on")
        + "; per-industry features (peer rates) are not checked. Above "
        + f"{report.drift_threshold:g} counts as drift.</p>"
    )
    psi_table = (
        "<table><thead><tr><th>feature (largest PSI first)</th><th>PSI</th><th></th></tr></thead>"
        f"<tbody>{psi_rows}</tbody></table>" + psi_note
        if psi_items
        else "<p>No training reference was available for a drift check.</p>"
    )

    win_back = (
        '<div class="scroll">' + table_html(report.win_back, WIN_BACK_DISPLAY, currency=report.currency) + "</div>"
        if len(report.win_back)
        else "<p>No account was lost in the last 12 months.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Key-account risk list {escape(report.as_of)}</title>
<style>{CSS}</style></head>
<body>
<header><h1>Key-account risk list — {escape(report.as_of)}</h1><p>{escape(" · ".join(sub))}</p></header>
<main>
<section><h2>Summary</h2><div class="kpis">{''.join(kpis)}</div>{''.join(alerts)}</section>
<section><h2>How the list is ranked</h2>
<p>{escape(" ".join(report.ranking_words()))}
{escape(SWITCHING_NOTE) if report.switching_available else ""}</p></section>
<section><h2>Act first: the accounts with the highest priority</h2>{more}
<div class="ranked">{top_table}</div></section>
<section id="charts"><h2>Where the risk is</h2>{charts_svg(report)}</section>
<section><h2>Changes since the last list</h2>{changes}</section>
<section><h2>The other accounts with a notable risk</h2>
<div class="ranked">{rest_table}</div>{tail_table}</section>
<section><h2>Revenue at risk</h2><div class="grid">{''.join(summaries)}</div></section>
<section><h2>Score distribution</h2>{distribution_svg(report)}</section>
<section><h2>Lost in the last 12 months — win-back</h2>
<p>Accounts that have gone (a recorded loss, or their revenue fell away): not scored, listed to win back,
with when, why and to whom where known.</p>
{win_back}</section>
<section><h2>For data scientists: model quality and drift</h2>
<p>{escape(quality_words(model.get("metrics") or {}))}</p>
{drift_detail}
<p>Retention priority, exactly:</p>
<code class="formula">{escape(report.formula)}</code>
<p>with {weights}.</p>
<div class="grid"><div>{metric_table}</div><div>{psi_table}</div></div></section>
</main>
<script>{JS}</script>
</body></html>
"""
