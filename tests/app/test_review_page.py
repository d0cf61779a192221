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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP reports land there
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


def share_and_add_tenant(cordon: Cordon, *shared: tuple[Any, str]) -> None:
    """Known-bad images shared with a label each, and tenant alpha, whose PDQ matches go to
    review. All shared before any upload: a warm ingest container rereads the hash table at
    most every few seconds."""
    cordon.hashes.put(
        [HashRecord("pdq", pdq_of(samples.jpeg(bad)), (label,)) for bad, label in shared]
    )
    add_tenant(
        cordon,
        "alpha",
        ["alpha-uploads"],
        policy=Policy.from_dict({"pdq_action": "REVIEW"}),
        create_buckets=True,
    )


def held_for_review(cordon: Cordon, key: str, bad: Any) -> str:
    """A copy of a shared known-bad image, uploaded to alpha's bucket, waiting for a reviewer."""
    upload = samples.jpeg(samples.resized(bad))
    put = cordon.s3.put_object(Bucket="alpha-uploads", Key=key, Body=upload)
    case_id = ObjectRef("alpha-uploads", key, etag=put["ETag"]).case_id("alpha")
    wait(
        lambda: getattr(cordon.cases.get(case_id), "token", None),
        60,
        f"{key}'s case waiting for a reviewer",
    )
    return case_id


def policy_violations(browser: Any) -> list[str]:
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def test_image_is_veiled_until_clicked_and_a_decision_resumes_the_workflow(
    stack: Any, browser: Any, tmp_path: Path
):
    from selenium.webdriver.common.by import By

    cordon, api = stack
    bad = samples.known_bad(1)[0]
    share_and_add_tenant(cordon, (bad, "propaganda"))
    case_id = held_for_review(cordon, "poster.jpg", bad)
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
    # Nothing is sent before the reviewer has seen what will be recorded and said so.
    summary = wait(lambda: browser.find_element(By.ID, "summary").text, what="confirmation")
    assert "propaganda poster" in summary and case_id in summary
    assert not cordon.cases.get(case_id).decisions
    browser.find_element(By.ID, "send").click()
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
    assert policy_violations(browser) == []  # the page worked under its own CSP


def test_each_case_gets_an_empty_form_and_a_decision_records_only_its_own(stack: Any, browser: Any):
    """A reject once went out with the previous case's reason and label, into the uploader's
    statement of reasons: the form kept them when another case was opened."""
    from selenium.webdriver.common.by import By

    cordon, api = stack
    first_bad, second_bad = samples.known_bad(2)
    share_and_add_tenant(cordon, (first_bad, "terrorist-propaganda"), (second_bad, "spam"))
    case_a = held_for_review(cordon, "a.jpg", first_bad)
    case_b = held_for_review(cordon, "b.jpg", second_bad)
    key = cordon.tenants.add_api_key("alpha", "rev-ana")

    def field(name: str) -> str:
        return browser.find_element(By.ID, name).get_attribute("value")

    def open_case(case_id: str) -> None:
        row = wait(
            lambda: browser.find_elements(By.CSS_SELECTOR, f'tr.case[data-case-id="{case_id}"]'),
            what=f"queue row of {case_id}",
        )[0]
        row.click()
        wait(
            lambda: browser.find_element(By.ID, "case-title").text.startswith(case_id),
            what=f"case {case_id} shown",
        )

    browser.get(f"{api}/review")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "load").click()

    # Case A: a reason and a label typed, then another case opened.
    open_case(case_a)
    browser.find_element(By.ID, "reason").send_keys("confirmed known-bad copy")
    browser.find_element(By.ID, "labels").send_keys("terrorist-propaganda")

    # Case B: an empty form.
    open_case(case_b)
    assert field("reason") == "" and field("labels") == ""
    browser.find_element(By.ID, "reason").send_keys("not terrorist content: a news photo")
    browser.find_element(By.ID, "labels").send_keys("news, news")
    browser.find_element(By.ID, "reject").click()
    summary = {
        element.get_attribute("data-field"): element.text
        for element in wait(
            lambda: browser.find_elements(By.CSS_SELECTOR, "#summary dd"), what="confirmation"
        )
    }
    assert summary["case"].startswith(case_b)
    assert summary["action"].startswith("reject")
    assert summary["reason"] == "not terrorist content: a news photo"
    assert summary["labels"] == "news"
    # While it is shown, the form cannot drift from it.
    assert browser.find_element(By.ID, "reason").get_attribute("readOnly") == "true"
    browser.find_element(By.ID, "send").click()
    message = wait(lambda: browser.find_element(By.ID, "message").text, what="decision message")
    assert "Decision recorded: reject" in message, message

    recorded = wait(lambda: cordon.cases.get(case_b).decisions, 30, "B's decision")
    (decision,) = recorded
    assert decision["action"] == "reject" and decision["reviewer"] == "rev-ana"
    assert decision["reason"] == "not terrorist content: a news photo"
    assert decision["labels"] == ["news"]
    assert field("reason") == "" and field("labels") == ""  # cleared once sent

    # Back on A: its old text is gone, and a confirmation left open is closed, not carried
    # over, when a case is opened again.
    open_case(case_a)
    assert field("reason") == "" and field("labels") == ""
    browser.find_element(By.ID, "escalate").click()
    wait(lambda: browser.find_element(By.ID, "confirmation").is_displayed(), what="confirmation")
    open_case(case_a)
    assert not browser.find_element(By.ID, "confirmation").is_displayed()
    untouched = cordon.cases.get(case_a)
    assert not untouched.decisions and untouched.status == "pending_review"
    assert policy_violations(browser) == []
