"""The reviewers' page in a real browser (Debian's headless Chromium) against `cordon local`."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib.models import HashRecord, ObjectRef, Policy
from chalicelib.settings import Settings
from chalicelib.wiring import Cordon
from cordon_cli import samples
from cordon_cli.operations import add_tenant
from tests.app.local_process import cordon_local
from tests.functional.test_ingest import pdq_of

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed (make test installs them)",
)


def wait(condition: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not met within {timeout} s")


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with cordon_local(tmp_path) as local:
        for name, value in local.environment.items():
            monkeypatch.setenv(name, value)
        yield Cordon(Settings.from_env()), local.api


@pytest.fixture
def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

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
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_image_is_veiled_until_clicked_and_a_decision_resumes_the_workflow(
    stack: Any, browser: Any, tmp_path: Path
):
    from selenium.webdriver.common.by import By

    cordon, api = stack
    bad = samples.known_bad(1)[0]
    cordon.hashes.put([HashRecord("pdq", pdq_of(samples.jpeg(bad)), ("propaganda",))])
    add_tenant(
        cordon,
        "alpha",
        ["alpha-uploads"],
        policy=Policy.from_dict({"pdq_action": "REVIEW"}),
        create_buckets=True,
    )
    upload = samples.jpeg(samples.resized(bad))
    put = cordon.s3.put_object(Bucket="alpha-uploads", Key="poster.jpg", Body=upload)
    case_id = ObjectRef("alpha-uploads", "poster.jpg", etag=put["ETag"]).case_id("alpha")
    wait(
        lambda: getattr(cordon.cases.get(case_id), "token", None),
        60,
        "the case waiting for a reviewer",
    )
    key = cordon.tenants.add_api_key("alpha", "rev-ana")

    browser.get(f"{api}/review")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "load").click()
    row = wait(lambda: browser.find_elements(By.CSS_SELECTOR, "tr.case"), what="queue row")[0]
    row.click()
    image = wait(
        lambda: (lambda e: e if e.get_attribute("src") else None)(
            browser.find_element(By.ID, "evidence")
        ),
        what="image shown",
    )
    wait(
        lambda: browser.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", image
        ),
        what="image loaded from its presigned URL",
    )
    # the match is listed with the shared hash's labels and source
    matches = browser.find_element(By.ID, "matches").text
    assert "pdq at distance" in matches and "[propaganda]" in matches, matches
    assert "via" not in matches and "stored" not in matches  # the image itself, no variant
    veiled = browser.execute_script("return getComputedStyle(arguments[0]).filter", image)
    assert "blur" in veiled and "grayscale" in veiled
    browser.save_screenshot(str(tmp_path / "veiled.png"))
    image.click()
    wait(
        lambda: (
            browser.execute_script("return getComputedStyle(arguments[0]).filter", image) == "none"
        ),
        5,
        "the image revealed",
    )  # after its short CSS transition
    browser.save_screenshot(str(tmp_path / "revealed.png"))
    browser.find_element(By.ID, "reason").send_keys("propaganda poster")
    browser.find_element(By.ID, "confirm").click()
    message = wait(lambda: browser.find_element(By.ID, "message").text, what="decision message")
    assert "Decision recorded: confirm" in message
    case = wait(
        lambda: (lambda c: c.to_dict() if c and c.status == "confirmed" else None)(
            cordon.cases.get(case_id)
        ),
        60,
        "the workflow applying the decision",
    )
    assert case["decisions"][0]["reviewer"] == "rev-ana"
    sfn = cordon.client("stepfunctions")
    wait(
        lambda: (
            sfn.describe_execution(executionArn=case["review"]["execution_arn"])["status"]
            == "SUCCEEDED"
        ),
        30,
        "the execution to succeed",
    )
