"""The diagnostics page in headless Chromium: log in, see the state, a masked preview, run the self-tests.

Set EDGE_WRITE_SCREENSHOTS=1 to refresh the screenshots in docs/img/ from this test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.broker import Broker
from tests.diagnostics_support import (
    FILL_BGR,
    PASSWORD,
    TECHNICIAN,
    DiagNode,
    diagnostics_config,
    start_diag_node,
)
from tests.node_process import DEMO_MASKS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="chromium and chromium-driver are not installed (scripts/ensure-system-deps.sh installs them)",
)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="edge-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=412,1400",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def diag(tmp_path: Path, broker: Broker) -> Iterator[DiagNode]:
    node = start_diag_node(diagnostics_config(tmp_path, broker))
    yield node
    node.close()


def _screenshot(driver: WebDriver, name: str) -> npt.NDArray[np.uint8]:
    png: bytes = driver.get_screenshot_as_png()
    if os.environ.get("EDGE_WRITE_SCREENSHOTS"):
        image = np.asarray(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), np.uint8)
        ok, small = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        assert ok
        (DOCS_IMG / name).write_bytes(small.tobytes())
    return np.asarray(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), np.uint8)


def test_technician_logs_in_sees_masked_preview_and_runs_selftests(
    diag: DiagNode, browser: WebDriver
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    # The page re-renders parts of itself every refresh: a found element may be replaced under us.
    wait = WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,))

    def text(element_id: str) -> str:
        # Read in one script call, so a re-render between "find" and "read" cannot interfere.
        value = driver.execute_script("return document.getElementById(arguments[0]).innerText", element_id)
        return str(value)

    driver.get(diag.base_url + "/")
    wait.until(lambda d: d.current_url.endswith("/login"))
    driver.find_element(By.ID, "username").send_keys(TECHNICIAN)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    _screenshot(driver, "diagnostics-login.png")
    driver.find_element(By.ID, "login").click()

    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "yes")
    assert text("verdict").lower() in ("green", "amber")
    assert "connected to" in text("broker")
    assert driver.find_elements(By.CSS_SELECTOR, "#overlay polygon")
    wait.until(
        lambda d: d.execute_script(
            "const i = document.getElementById('preview'); return i.complete && i.naturalWidth > 0"
        )
    )

    # The preview's masked area is filled in the screenshot: sample inside the mask polygon, away from
    # the outline drawn over it.
    rect = driver.execute_script(
        "const r = document.getElementById('preview').getBoundingClientRect();"
        "return [r.left, r.top, r.width, r.height, window.devicePixelRatio];"
    )
    left, top, width, height, ratio = rect
    polygon: list[list[float]] = DEMO_MASKS[0]["polygon"]  # type: ignore[assignment]
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    image = _screenshot(driver, "diagnostics-page.png")
    inside = []
    for fx, fy in ((0.25, 0.25), (0.5, 0.5), (0.75, 0.7)):
        nx = min(xs) + fx * (max(xs) - min(xs))
        ny = min(ys) + fy * (max(ys) - min(ys))
        px, py = round((left + nx * width) * ratio), round((top + ny * height) * ratio)
        inside.append(image[py, px].astype(int))
    for pixel in inside:
        assert np.abs(pixel - np.array(FILL_BGR)).max() <= 40, (pixel, FILL_BGR)
    # ...and the rest of the street is not (a sample well outside the mask).
    px, py = round((left + 0.8 * width) * ratio), round((top + 0.8 * height) * ratio)
    assert np.abs(image[py, px].astype(int) - np.array(FILL_BGR)).max() > 40

    driver.find_element(By.ID, "selftest").click()
    wait.until(lambda d: d.find_element(By.ID, "selftest-results").get_attribute("data-done") == "yes")
    results = text("selftest-results")
    assert "frames: pass" in results and "broker: pass" in results and "disk: pass" in results
    assert "model: skipped" in results
    driver.execute_script("document.getElementById('selftest').scrollIntoView()")
    _screenshot(driver, "diagnostics-selftests.png")
    assert any(a.action == "selftest" and a.actor == TECHNICIAN for a in diag.audit)
