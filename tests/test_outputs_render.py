"""The page and the workbook as people see them: the page rendered in headless Chromium at
1400 px, the workbook's risk list printed to PDF by LibreOffice. On the default world, as
`make run` makes it. Skipped, saying why, where Chromium or LibreOffice is missing
(`.ci/run` installs both)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from churnml import cli

pytestmark = pytest.mark.slow

# Measures the first decisions in the browser and leaves the figures on <body data-probe="…">.
PROBE = """<script>
window.addEventListener('load', function () {
  var t = document.getElementById('risk'), rows = t.tBodies[0].rows, n = Math.min(20, rows.length), clipped = [];
  for (var i = 0; i < n; i++) {
    Array.prototype.forEach.call(rows[i].cells, function (c) {
      [c].concat(Array.prototype.slice.call(c.querySelectorAll('*'))).forEach(function (el) {
        var s = getComputedStyle(el);
        if (el.scrollWidth > el.clientWidth + 1 && s.overflowX !== 'visible') { clipped.push(i + 1); }
        if (s.textOverflow === 'ellipsis') { clipped.push(i + 1); }
      });
    });
  }
  var chart = document.querySelector('#charts svg');
  document.body.setAttribute('data-probe', JSON.stringify({
    rows: rows.length,
    clipped: clipped,
    cut_off: t.parentElement.scrollWidth - t.parentElement.clientWidth,
    page_width: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    first_chart_px: chart ? chart.getBoundingClientRect().top + window.scrollY : -1
  }));
});
</script>"""


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> Path:
    """The month folder of a project after `churnml run` with every default."""
    root = tmp_path_factory.mktemp("render")
    assert cli.main(["run", f"paths.root={root}"]) == 0
    (folder,) = sorted((root / "data" / "scores").glob("*/report.html"))
    return folder.parent


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    return found


def test_the_page_opens_on_twenty_decisions_in_full_and_the_charts_follow(month, tmp_path):
    chromium = _chromium()
    page = (month / "report.html").read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"]
    dom = subprocess.run([*args, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    figures = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert figures["rows"] == 20
    assert not figures["clipped"], f"text cut off in rows {sorted(set(figures['clipped']))}"
    assert figures["cut_off"] <= 0, f"the list is {figures['cut_off']} px wider than the page"
    assert figures["page_width"] <= figures["viewport"]
    assert 0 < figures["first_chart_px"] <= 5000, f"the first chart starts at {figures['first_chart_px']} px"
    pdf = tmp_path / "page.pdf"
    subprocess.run([*args, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", (month / "report.html").as_uri()],
                   capture_output=True, timeout=180, check=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    assert 0 < pages <= 30, f"the page prints on {pages} pages"
    shot = tmp_path / "page.png"
    subprocess.run([*args, f"--screenshot={shot}", (month / "report.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    width = int.from_bytes(shot.read_bytes()[16:20], "big")  # the PNG header's width
    assert width == 1400


def test_the_workbooks_risk_list_prints_on_at_most_40_readable_pages(month, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui; .ci/run does it)")
    from openpyxl import load_workbook

    book = load_workbook(month / "risk_list.xlsx")
    accounts = book["Risk list"].max_row - 1
    # What prints: at most 10 columns (those a manager reads), every sheet set up for paper.
    area = book["Risk list"].print_area.split("!")[1].replace("$", "")
    first, last = area.split(":")
    assert first.startswith("A") and last[0] <= "J" and not last[1].isalpha(), area
    assert all(ws.page_setup.fitToWidth == 1 for ws in book.worksheets)
    for name in book.sheetnames:
        if name != "Risk list":
            del book[name]
    only = tmp_path / "risk_list_only.xlsx"
    book.save(only)
    subprocess.run([soffice, "--headless", f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(only)],
                   capture_output=True, timeout=300, check=True)
    pdf = (tmp_path / "risk_list_only.pdf").read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert accounts >= 900
    assert 0 < pages <= 40, f"{accounts} accounts print on {pages} pages"
