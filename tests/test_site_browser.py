"""Issue 21: the static site in a real browser (headless Chromium through selenium and chromedriver): no console
error, headers sort and show their direction, filters hide and show rows, every row links to a report page that
loads, a hostile label is text, and numbers never wrap. Screenshots go to tmp_path (and /tmp for a person)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mirbench import leaderboard
from mirbench.site.build import write_site
from tests.test_site import XSS, results_dir, site_entries

NEEDS = "needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SHOTS = (Path("/tmp/site-shot.png"), Path("/tmp/site-report-shot.png"))
NO_WRAP = """return [...document.querySelectorAll("td.num, td.date")].filter(td => {
  if (td.offsetParent === null) return false;
  const range = document.createRange(); range.selectNodeContents(td);
  return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
}).length;"""
RECORD_ALERTS = ("window.__dialogs = [];"
                 "for (const f of ['alert', 'confirm', 'prompt']) window[f] = m => { window.__dialogs.push(String(m)); };")

pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason=NEEDS)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason=f"{NEEDS}; and pip install selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1100", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.set_capability("unhandledPromptBehavior", "ignore")
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_ALERTS})
    yield driver
    driver.quit()


@pytest.fixture
def site(tmp_path) -> Path:
    fma = results_dir(tmp_path / "results", "fma-run", {"LogReg": 0.55}, dataset="fma", protocol="fma-small")
    write_site([*site_entries(tmp_path), leaderboard.entry_from_results(fma)], tmp_path / "site")
    return tmp_path / "site"


def errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def no_dialog(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    assert driver.execute_script("return window.__dialogs") == []
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text


def visible_rows(driver) -> list:
    return [tr for tr in driver.find_elements("css selector", "section.board-section tbody tr") if tr.is_displayed()]


def test_the_site_sorts_filters_links_and_escapes_in_chromium(browser, site, tmp_path):
    from selenium.webdriver.support.ui import Select

    browser.get((site / "index.html").as_uri())
    assert errors(browser) == []
    no_dialog(browser)
    assert XSS in browser.find_element("tag name", "body").text  # the label as text ...
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0  # ... never an element
    assert browser.execute_script(NO_WRAP) == 0
    toc = [a.text for a in browser.find_elements("css selector", "nav#contents a")]
    assert "GTZAN, 4-fold rotation (50/25/25): accuracy" in toc and "FMA, official split (small): accuracy" in toc
    browser.set_window_size(1400, 2000)  # tall enough to show a verified, a local and a quick section
    browser.save_screenshot(str(tmp_path / "site.png"))
    browser.save_screenshot(str(SHOTS[0]))
    browser.set_window_size(1400, 1100)

    # sorting: the first table starts in rank order; Mean ± std ascending, then descending, each shown
    table = browser.find_element("css selector", "table.board")
    heads = table.find_elements("css selector", "thead th")
    assert heads[0].get_attribute("aria-sort") == "ascending" and heads[0].text.endswith("▲")
    mean = heads[2]
    values = lambda: [float(td.get_attribute("data-value")) for td in table.find_elements("css selector", "tbody td:nth-child(3)")]  # noqa: E731
    assert values() == sorted(values(), reverse=True)
    mean.click()
    assert values() == sorted(values()) and mean.get_attribute("aria-sort") == "ascending" and mean.text.endswith("▲")
    assert heads[0].get_attribute("aria-sort") == "none" and not heads[0].text.endswith("▲")
    mean.click()
    assert values() == sorted(values(), reverse=True) and mean.get_attribute("aria-sort") == "descending"
    assert mean.text.endswith("▼")

    # filters: system, dataset and protocol hide rows (and emptied sections), and show them again
    everything = len(visible_rows(browser))
    box = browser.find_element("id", "f-system")
    box.send_keys("mfcc")
    shown = visible_rows(browser)
    assert 0 < len(shown) < everything and all("MFCC" in tr.text for tr in shown)
    box.clear()
    box.send_keys(" ")  # an 'input' event with an empty filter
    assert len(visible_rows(browser)) == everything
    Select(browser.find_element("id", "f-dataset")).select_by_visible_text("FMA")
    shown = visible_rows(browser)
    assert [tr.get_attribute("data-dataset") for tr in shown] == ["FMA"] * len(shown) and shown
    entries = browser.find_elements("css selector", "nav#contents li")
    assert all(li.is_displayed() == li.text.startswith("FMA") for li in entries)  # GTZAN's entries hidden
    Select(browser.find_element("id", "f-dataset")).select_by_index(0)
    Select(browser.find_element("id", "f-protocol")).select_by_visible_text("4-fold rotation (50/25/25)")
    assert all(tr.get_attribute("data-protocol") == "4-fold rotation (50/25/25)" for tr in visible_rows(browser))
    Select(browser.find_element("id", "f-protocol")).select_by_index(0)
    assert len(visible_rows(browser)) == everything
    assert errors(browser) == []

    # every row links to an existing report page; one of them opens with its tables and plot
    hrefs = {a.get_attribute("href") for a in browser.find_elements("css selector", "tbody td a")}
    rows = browser.find_elements("css selector", "section.board-section tbody tr")
    assert len(browser.find_elements("css selector", "tbody td a")) == len(rows)
    assert all(h.startswith("file://") and Path(h.removeprefix("file://")).is_file() for h in hrefs)
    link = next(a for a in browser.find_elements("css selector", "tbody td a") if a.text == XSS)
    link.click()
    assert browser.current_url.endswith("/index.html") and "runs/" in browser.current_url
    assert errors(browser) == []
    no_dialog(browser)
    assert browser.find_elements("css selector", "table.report")
    images = browser.find_elements("css selector", "img")
    assert images and all(browser.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images)
    assert XSS in browser.find_element("tag name", "body").text
    assert browser.execute_script(NO_WRAP) == 0
    browser.save_screenshot(str(tmp_path / "report.png"))
    browser.save_screenshot(str(SHOTS[1]))
    assert (tmp_path / "site.png").stat().st_size > 0 and (tmp_path / "report.png").stat().st_size > 0


def test_numbers_do_not_wrap_in_a_narrow_window(browser, site):
    browser.set_window_size(760, 900)
    try:
        browser.get((site / "index.html").as_uri())
        assert browser.execute_script(NO_WRAP) == 0
    finally:
        browser.set_window_size(1400, 1100)
