"""The report in a real headless Chromium: it loads from file:// with no console error and
no request, its filters, sort and search work (the filters with JavaScript off too), hostile
repository text runs nothing and reads as text, and axe-core finds no serious or critical
accessibility problem.  Screenshots land in build/screenshots/.

Skips when Chromium, chromedriver or selenium are missing, except under CI (see
tests/browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich.builder import build_repo
from tests.browser import (
    DESKTOP,
    PHONE,
    axe_violations,
    chrome,
    console_errors,
    foreign_requests,
    require_browser,
    screenshot,
)
from tests.helpers import build_fixture, run_cli
from tests.test_report import IMG, SCRIPT, hostile_spec

# a real Chromium per test: `make test` runs them, `make check` leaves them out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def showcase_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_browser()
    root = tmp_path_factory.mktemp("report")
    build_fixture("showcase", root / "showcase")
    build_fixture("every_event", root / "second")
    out = root / "site"
    args = ["report", "-r", str(root / "showcase"), "-r", str(root / "second"), "-o", str(out)]
    result = run_cli([*args, "--title", "Showcase registry"])
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chrome(DESKTOP) as driver:
        yield driver


def load(driver: Any, page: Path) -> None:
    """Open a page with the logs emptied first, so they hold only this page's entries."""
    foreign_requests(driver)
    console_errors(driver)
    driver.get(page.as_uri())


def shown_names(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#artifacts tbody tr")
    shown = [row for row in rows if row.is_displayed()]
    return [row.find_element(By.CSS_SELECTOR, "td.name a").text for row in shown]


def choose(driver: Any, select_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, select_id)).select_by_visible_text(text)


def artifact_page(site: Path, name: str) -> Path:
    pages = sorted((site / "a").glob(f"0-{name}-*.html"))
    assert len(pages) == 1
    return pages[0]


def test_pages_load_with_no_console_error_and_no_request(showcase_site: Path, browser: Any) -> None:
    for page in [showcase_site / "index.html", *sorted((showcase_site / "a").iterdir())]:
        load(browser, page)
        assert console_errors(browser) == [], page.name
        assert foreign_requests(browser) == [], page.name
        assert browser.execute_script("return document.scripts.length") == 1


def test_filter_sort_and_search(showcase_site: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    load(browser, showcase_site / "index.html")
    everything = shown_names(browser)
    assert len(everything) == 18  # 3 in the showcase, 15 in every_event
    count = browser.find_element(By.ID, "count")
    assert count.text == "18 of 18 artifacts shown"

    choose(browser, "f-stage", "production")
    assert shown_names(browser) == ["rf"]
    assert count.text == "1 of 18 artifacts shown"
    choose(browser, "f-stage", "any stage")
    choose(browser, "f-type", "dataset")
    assert shown_names(browser) == ["features", "features"]  # one in each repository
    choose(browser, "f-type", "any type")
    choose(browser, "f-repo", "showcase")
    assert sorted(shown_names(browser)) == ["features", "nn", "rf"]
    choose(browser, "f-repo", "any repository")

    search = browser.find_element(By.ID, "search")
    assert search.is_displayed()
    search.send_keys("DATAS")
    assert shown_names(browser) == ["features", "features"]
    search.clear()
    search.send_keys("v1.2.4")  # a version in the text of the row
    assert shown_names(browser) == ["rf"]
    search.clear()
    search.send_keys(" ")  # clear() fires no input event
    assert len(shown_names(browser)) == 18

    header = browser.find_element(By.CSS_SELECTOR, "#artifacts thead th:first-child button")
    header.click()
    ascending = shown_names(browser)
    assert ascending == sorted(ascending, key=str.lower)
    header.click()
    assert shown_names(browser) == ascending[::-1]
    th = browser.find_element(By.CSS_SELECTOR, "#artifacts thead th:first-child")
    assert th.get_attribute("aria-sort") == "descending"


def test_filters_work_with_javascript_off(showcase_site: Path) -> None:
    from selenium.webdriver.common.by import By

    with chrome(DESKTOP) as driver:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
        driver.get((showcase_site / "index.html").as_uri())
        assert len(shown_names(driver)) == 18  # the full table is there
        assert not driver.find_element(By.ID, "search").is_displayed()
        choose(driver, "f-stage", "staging")
        assert sorted(shown_names(driver)) == ["m2", "nn", "rf"]
        choose(driver, "f-type", "dataset")
        assert shown_names(driver) == []


def test_hostile_repository_runs_nothing_and_shows_the_text(tmp_path: Path, browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    build_repo(hostile_spec(), tmp_path / "repo")
    out = tmp_path / "site"
    assert run_cli(["report", "-r", str(tmp_path / "repo"), "-o", str(out)]).exit_code == 0
    for page in [out / "index.html", artifact_page(out, "evil")]:
        load(browser, page)
        assert browser.execute_script("return window.__pwned === undefined")
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018
        assert browser.find_elements(By.CSS_SELECTOR, "img") == []
        assert console_errors(browser) == []
        assert foreign_requests(browser) == []
        text = browser.find_element(By.TAG_NAME, "body").text
        assert SCRIPT in text
        assert IMG in text
        assert "\\u202egnp.exe" in text
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "\\u001b[31mred\\u202etxet\\u200b\\u0007" in text
    assert f"</td></tr></table>{SCRIPT}" in text
    history = browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")
    assert len(history) == 2  # the table was not broken out of


def _serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def test_axe_finds_no_serious_or_critical_problem(showcase_site: Path, browser: Any) -> None:
    for page in (showcase_site / "index.html", artifact_page(showcase_site, "rf")):
        load(browser, page)
        assert _serious(axe_violations(browser)) == [], page.name


@pytest.mark.parametrize(("size", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_screenshots(showcase_site: Path, size: tuple[int, int], label: str) -> None:
    from selenium.webdriver.common.by import By

    with chrome(size) as driver:
        driver.get((showcase_site / "index.html").as_uri())
        assert driver.execute_script("return window.innerWidth") == size[0]
        if label == "phone":
            # One card per artifact: nothing scrolls sideways.
            assert driver.find_element(By.ID, "artifacts").size["width"] <= size[0]
            assert _serious(axe_violations(driver)) == []
        shots = [screenshot(driver, f"index-{label}")]
        driver.get(artifact_page(showcase_site, "rf").as_uri())
        if label == "phone":
            assert _serious(axe_violations(driver)) == []
        shots.append(screenshot(driver, f"artifact-{label}"))
    for shot in shots:
        assert shot.stat().st_size > 5_000


def test_several_repositories_over_http_one_unreachable(tmp_path: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    from tests.servers import closed_port, serve_http

    build_fixture("showcase", tmp_path / "showcase")
    build_fixture("every_event", tmp_path / "second")
    dead = f"http://127.0.0.1:{closed_port()}/models.git"
    out = tmp_path / "site"
    with serve_http(tmp_path / "showcase") as one, serve_http(tmp_path / "second") as two:
        result = run_cli(["report", "-r", one.url, "-r", two.url, "-r", dead, "-o", str(out)])
    assert result.exit_code == 1
    load(browser, out / "index.html")
    alert = browser.find_element(By.CSS_SELECTOR, "section.errors")
    assert alert.is_displayed()
    assert dead in alert.text
    assert len(shown_names(browser)) == 18
    assert console_errors(browser) == []
    assert foreign_requests(browser) == []
    assert _serious(axe_violations(browser)) == []
