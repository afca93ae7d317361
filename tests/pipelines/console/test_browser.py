"""A real ``agentgov console`` subprocess driven by headless Chromium (Debian's chromium and chromedriver, through
Selenium, offline): the agents page, then a click through to the agent page and to a decision."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import HOSTILE, ConsoleHome

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def console_url(console_home: ConsoleHome, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from agentgov.pipelines.runtime import free_port, stop_process

    from ...conftest import agentgov_executable

    port = free_port()
    log = tmp_path_factory.mktemp("console-log") / "console.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTGOV_", "MLFLOW_"))}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [agentgov_executable(), "console", "--port", str(port)],
            cwd=console_home.root,
            env={**env, **console_home.environ},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=10) as response:
                    assert response.status == 200
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the console did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield url
    finally:
        stop_process(process, timeout=10)
    assert process.returncode is not None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for a driver on the network
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_click_from_the_agents_page_to_the_agent_and_its_decision(
    console_url: str, browser: Any, console_home: ConsoleHome, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from selenium.webdriver.common.by import By

    shots = Path(os.environ.get("AGENTGOV_TEST_ARTIFACTS") or tmp_path_factory.mktemp("screenshots"))
    browser.get(console_url + "/")
    row = browser.find_element(By.ID, "agents").find_element(By.XPATH, f".//tr[td/a[text()='{console_home.name}']]")
    assert HOSTILE in row.text  # shown as the text it is, not run or rendered
    assert "insufficient data" in row.text and f"v{console_home.version}" in row.text
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0
    # a long unbroken word and right-to-left text wrap inside the table: no sideways scrolling
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.save_screenshot(str(shots / "agents.png"))

    row.find_element(By.LINK_TEXT, console_home.name).click()
    assert browser.find_element(By.TAG_NAME, "h1").text == console_home.name
    assert browser.find_element(By.ID, "description").text == HOSTILE
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    versions = browser.find_element(By.ID, "versions").text
    assert f"v{console_home.version}" in versions and "production" in versions and "alice" in versions
    browser.save_screenshot(str(shots / "agent.png"))

    browser.find_element(By.CSS_SELECTOR, f"#decisions a[href='/decisions/{console_home.blocked.id}']").click()
    results = browser.find_element(By.ID, "results").text
    assert "human-approval" in results and "fail" in results
    assert "bob" in browser.find_element(By.ID, "approvals").text
    browser.save_screenshot(str(shots / "decision.png"))
    assert all((shots / f"{page}.png").stat().st_size > 1000 for page in ("agents", "agent", "decision"))


def test_click_from_the_agent_page_to_its_drift_report(
    console_url: str, browser: Any, console_home: ConsoleHome, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Runs after the test above in this module (it changes the drift badge that one reads)."""
    from selenium.webdriver.common.by import By

    from .conftest import run_drift_checks

    _, moved = run_drift_checks(console_home)
    shots = Path(os.environ.get("AGENTGOV_TEST_ARTIFACTS") or tmp_path_factory.mktemp("screenshots"))
    browser.get(f"{console_url}/agents/{console_home.name}")
    browser.find_element(By.ID, "drift-link").click()
    rows = browser.find_element(By.ID, "checks").find_elements(By.TAG_NAME, "tr")[1:]
    assert len(rows) == 2 and "drift" in rows[0].text and "request.amount" in rows[0].text
    assert browser.find_element(By.ID, "share-chart").find_element(By.TAG_NAME, "polyline").is_displayed()
    frame = browser.find_element(By.ID, "report")
    assert frame.get_attribute("sandbox") == "allow-scripts"
    browser.switch_to.frame(frame)
    try:  # the stored report renders inside its sandbox: the banner agentgov wrote into it, then Evidently's own page
        assert f"Drift of {console_home.name}/{console_home.version}" in browser.find_element(By.TAG_NAME, "body").text
        # Evidently's scripts (inline, allowed by the sandbox's policy; no network) draw the dashboard from its data
        rendered = "return document.body.innerText"
        deadline = time.monotonic() + 20
        while "Dataset Drift is detected" not in browser.execute_script(rendered) and time.monotonic() < deadline:
            time.sleep(0.2)
        text = browser.execute_script(rendered)
        assert "Dataset Drift is detected" in text and "request.amount" in text, text[:500]
    finally:
        browser.switch_to.default_content()
    browser.save_screenshot(str(shots / "drift.png"))
    assert (shots / "drift.png").stat().st_size > 1000
    assert moved.report is not None
