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

# Measures the ranked table in the browser and leaves the figures on <body data-probe="…">.
PROBE = """<script>
window.addEventListener('load', function () {
  var t = document.getElementById('risk'), rows = t.tBodies[0].rows, el = t.parentElement, inner = false;
  while (el && el !== document.body) {
    var s = getComputedStyle(el);
    if (['auto', 'scroll', 'hidden'].indexOf(s.overflowY) >= 0 && el.clientHeight < t.offsetHeight) { inner = true; }
    el = el.parentElement;
  }
  var n = Math.min(20, rows.length);
  document.body.setAttribute('data-probe', JSON.stringify({
    rows: rows.length,
    inner_scroll: inner,
    cut_off: t.parentElement.scrollWidth - t.parentElement.clientWidth,
    page_width: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    twenty_rows_px: rows[n - 1].getBoundingClientRect().bottom - rows[0].getBoundingClientRect().top
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


def test_the_page_shows_twenty_accounts_at_1400_px_with_nothing_cut_off(month, tmp_path):
    chromium = _chromium()
    page = (month / "report.html").read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"]
    dom = subprocess.run([*args, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    figures = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert figures["rows"] >= 900  # every account of the default world's list
    assert not figures["inner_scroll"], "the ranked list sits in a scroll box"
    assert figures["cut_off"] <= 0, f"the ranked list is {figures['cut_off']} px wider than the page"
    assert figures["page_width"] <= figures["viewport"]
    assert figures["twenty_rows_px"] <= 900, f"20 accounts take {figures['twenty_rows_px']} px: more than a screen"
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
