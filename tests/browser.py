"""A real headless Chromium for the report's tests (Debian's chromium + chromium-driver).

Nothing here downloads a browser: the system's ``/usr/bin/chromium`` and
``/usr/bin/chromedriver`` are used, or the tests skip with a message saying how
to install them.  Under CI (``CI=true``) a missing browser fails instead: CI
installs it (``.ci/run``) and must never skip these tests silently.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("GTO_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("GTO_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
AXE_VERSION = "4.14.1"
AXE_DIR = ROOT / "build" / "npm"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
DESKTOP = (1280, 900)
PHONE = (390, 844)


def unavailable(what: str) -> None:
    """Skip, or fail under CI, where these tools are installed by .ci/run."""
    message = f"{what} (install with: apt-get install -y chromium chromium-driver npm)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser tests: {message}")
    pytest.skip(message)


def require_browser() -> None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        unavailable("selenium is not installed")
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not os.access(tool, os.X_OK):
            unavailable(f"{tool} not found")


@contextlib.contextmanager
def chrome(size: tuple[int, int] = DESKTOP) -> Iterator[Any]:
    """A headless Chromium logging the console and every network request."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="gto-report-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    if (
        size[0] < 600
    ):  # a phone: its viewport, not a narrow desktop window (Chrome's minimum is 500)
        metrics = {"width": size[0], "height": size[1], "pixelRatio": 2}
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def foreign_requests(driver: Any) -> list[str]:
    """URLs other than file:// asked for since the last call (from Chrome's performance log):
    any made by a file:// page, and any to the network at all.  Chrome's own new-tab page
    (chrome:// resources, loaded at start-up) is neither."""
    foreign = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] != "Network.requestWillBeSent":
            continue
        url = message["params"]["request"]["url"]
        document = message["params"].get("documentURL", "")
        if url.startswith("file://"):
            continue
        if document.startswith("file://") or not url.startswith(("chrome://", "data:")):
            foreign.append(url)
    return foreign


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def axe_source() -> str:
    """axe-core from a local npm install (``build/npm``), installed on first use."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            unavailable("npm not found, needed to install axe-core")
            raise AssertionError  # unreachable: unavailable() raises
        command = [npm, "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund"]
        done = subprocess.run(
            [*command, "--silent", f"axe-core@{AXE_VERSION}"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not AXE_JS.exists():
            unavailable(f"npm install axe-core@{AXE_VERSION} failed: {done.stderr.strip()[-300:]}")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """axe-core's violations of the loaded page (the script injected by the test, not the page)."""
    driver.execute_script(axe_source())
    result: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
        "v => ({id: v.id, impact: v.impact, help: v.help,"
        " targets: v.nodes.map(n => n.target.join(' '))}))));"
    )
    return result


def screenshot(driver: Any, name: str) -> Path:
    """A full-page PNG under build/screenshots (kept as a test artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 140, 400), 4000))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
