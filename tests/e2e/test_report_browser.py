"""The generated report in a real headless Chromium (selenium 4 + chromedriver).

Checks what only a browser can tell: every figure actually decodes and shows
(naturalWidth > 0), the inline script runs without errors (no SEVERE entries in the
browser log), the sortable summary table is there and sorts, and nothing makes the
page wider than the window.  Negative controls prove the checker fails on a broken
image, a throwing script and a missing table.

Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian: ``apt-get install chromium
chromium-driver``, or ``make browser``); skipped with a clear reason otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/report_fixtures.py
import report_fixtures as rf  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
NASTY = "Lazovsky <b>release</b> & \"$5M\""
WINDOW = (1280, 1000)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(
            f"browser test needs {' and '.join(missing)} (Debian packages chromium and "
            "chromium-driver; `make browser` installs them)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def report_path(tmp_path_factory):
    from pardus.report import build_report

    ds = rf.make_dataset(
        {"baseline": (-0.03, 0.0), "anti-poaching": (0.05, 150_000.0), NASTY: (0.0, 40_000.0)},
        n_rep=20, n_years=30, populations=("Land of the Leopard", "Lazovsky"),
    )
    out = tmp_path_factory.mktemp("browser-report") / "report"
    return build_report(ds, rf.make_summary(ds), rf.make_comparison(ds, "baseline"), out)


def _load(driver, path: Path) -> list[dict]:
    """Open *path*; return the browser log entries produced while loading it."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop entries of earlier pages
    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && "
            "Array.prototype.every.call(document.images, function (i) { return i.complete; });"
        )
    )
    return driver.get_log("browser")


def page_problems(driver, path: Path) -> list[str]:
    """Everything wrong with the report at *path* as seen by the browser ([] = fine)."""
    logs = _load(driver, path)
    problems = [f"browser log: {e.get('message')}" for e in logs if e.get("level") == "SEVERE"]
    imgs = driver.execute_script(
        "return Array.prototype.map.call(document.images, function (i) {"
        " var r = i.getBoundingClientRect();"
        " return {alt: i.alt, w: i.naturalWidth, h: i.naturalHeight, shown: r.width}; });"
    )
    if not imgs:
        problems.append("no images on the page")
    for k, img in enumerate(imgs):
        if not img["w"] or not img["h"]:
            problems.append(f"image {k} ({img['alt']!r}) did not load (naturalWidth 0)")
        elif img["shown"] < 200:
            problems.append(f"image {k} ({img['alt']!r}) is shown only {img['shown']} px wide")
    rows = driver.execute_script(
        "var t = document.getElementById('summary-table');"
        "return t && t.tBodies.length ? t.tBodies[0].rows.length : -1;"
    )
    if rows < 1:
        problems.append("summary table missing or empty")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    if overflow > 0:
        problems.append(f"page is {overflow} px wider than the window")
    return problems


# --------------------------------------------------------------------------- the real report


def test_report_renders_cleanly(driver, report_path):
    assert page_problems(driver, report_path) == []
    n_imgs = driver.execute_script("return document.images.length;")
    assert n_imgs == len(list((report_path.parent / "figures").glob("*.png"))) == 6


def test_summary_table_and_escaping(driver, report_path):
    from selenium.webdriver.common.by import By

    _load(driver, report_path)
    table = driver.find_element(By.ID, "summary-table")
    names = [th.text for th in table.find_elements(By.CSS_SELECTOR, "tbody th")]
    assert names == ["baseline (baseline)", "anti-poaching", NASTY]
    assert driver.execute_script("return document.querySelectorAll('table b').length;") == 0


def test_sorting_works_without_errors(driver, report_path):
    from selenium.webdriver.common.by import By

    _load(driver, report_path)
    table = driver.find_element(By.ID, "summary-table")
    header = next(th for th in table.find_elements(By.CSS_SELECTOR, "thead th")
                  if th.text.startswith("P(extinction)"))
    col = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")].index(header.text)

    def pe_values():
        return driver.execute_script(
            "var t = arguments[0], c = arguments[1];"
            "return Array.prototype.map.call(t.tBodies[0].rows,"
            " function (r) { return Number(r.cells[c].getAttribute('data-sort')); });",
            table, col,
        )

    header.click()
    asc = pe_values()
    assert asc == sorted(asc) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    desc = pe_values()
    assert desc == sorted(desc, reverse=True) and header.get_attribute("aria-sort") == "descending"
    assert asc != desc  # the rows really moved
    severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert severe == []


# --------------------------------------------------------------------------- negative controls


def test_checker_catches_broken_image(driver, report_path, tmp_path):
    text = report_path.read_text(encoding="utf-8")
    prefix = "data:image/png;base64,"
    i = text.index(prefix) + len(prefix)
    broken = tmp_path / "broken.html"
    broken.write_text(text[:i] + "AAAAAAAA" + text[i + 8:], encoding="utf-8")  # bad PNG header
    problems = page_problems(driver, broken)
    assert any("did not load" in p for p in problems), problems


def test_checker_catches_missing_figure_file(driver, report_path, tmp_path):
    text = report_path.read_text(encoding="utf-8")
    start = text.index("data:image/png;base64,")
    end = text.index('"', start)
    missing = tmp_path / "missing.html"
    missing.write_text(text[:start] + "figures/does-not-exist.png" + text[end:], encoding="utf-8")
    problems = page_problems(driver, missing)
    assert any("did not load" in p for p in problems), problems


def test_checker_catches_script_errors(driver, report_path, tmp_path):
    text = report_path.read_text(encoding="utf-8")
    bad = tmp_path / "script-error.html"
    bad.write_text(
        text.replace("</body>", "<script>undefinedFunction();</script></body>"), encoding="utf-8"
    )
    problems = page_problems(driver, bad)
    assert any("undefinedFunction" in p for p in problems), problems


def test_checker_catches_missing_summary_table(driver, report_path, tmp_path):
    text = report_path.read_text(encoding="utf-8")
    bad = tmp_path / "no-table.html"
    bad.write_text(text.replace('id="summary-table"', 'id="something-else"'), encoding="utf-8")
    problems = page_problems(driver, bad)
    assert "summary table missing or empty" in problems, problems
