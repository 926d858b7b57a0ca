"""The browser console in a real headless Chromium (Debian's, through its chromedriver)
against ``voice-agent serve`` with real models: a fake microphone speaks the request, then the
text box and a file upload each do a turn; the page shows the call and plays the reply."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests._cli import REPO
from voice_agent.audio import Audio, load_audio

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow
MILK = REPO / "examples" / "home" / "add_milk.wav"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def fake_microphone(path: Path) -> Path:
    """The request between a second of silence before and three after (the VAD's endpoint)."""
    speech = load_audio(MILK).samples
    samples = np.concatenate([np.zeros(16_000), speech, np.zeros(48_000)]).astype(np.float32)
    path.write_bytes(Audio(samples=samples, sample_rate=16_000).to_wav_bytes())
    return path


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--window-size=1100,900",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_microphone(tmp_path / 'mic.wav')}%noloop",
        "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=DriverService(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for_turn(driver: WebDriver, number: int, seconds: float = 600) -> object:
    """The ``number``-th turn card, once the turn is over and some of its reply has played."""
    script = f"""
        const card = document.querySelectorAll("#turns .turn")[{number - 1}];
        return card && card.dataset.done === "true" && Number(card.dataset.playedMs) > 0
            ? card : null;"""
    return WebDriverWait(driver, seconds, poll_frequency=0.5).until(
        lambda d: d.execute_script(script)
    )


def calls(card: object) -> list[tuple[str, str, str]]:
    found = card.find_elements(By.CSS_SELECTOR, ".call")  # type: ignore[attr-defined]
    return [(c.get_attribute("data-name"), c.get_attribute("data-status"), c.text) for c in found]


def test_console_does_spoken_typed_and_uploaded_turns(
    home_server: str, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(home_server + "/")
    WebDriverWait(browser, 30).until(
        lambda d: "live" in d.find_element(By.ID, "status").get_attribute("class")
    )
    browser.find_element(By.ID, "handsfree").click()
    spoken = wait_for_turn(browser, 1)
    assert "milk" in spoken.find_element(By.CSS_SELECTOR, ".heard").text.lower()  # type: ignore[attr-defined]
    name, status, text = calls(spoken)[0]
    assert (name, status) == ("add_to_shopping_list", "ran")
    assert '"item":"milk"' in text and '"quantity":2' in text
    assert spoken.find_element(By.CSS_SELECTOR, ".reply").text  # type: ignore[attr-defined]
    assert spoken.find_element(By.CSS_SELECTOR, "audio").get_attribute("src").startswith("blob:")  # type: ignore[attr-defined]
    assert "first_audio" in spoken.find_element(By.CSS_SELECTOR, ".timings").text  # type: ignore[attr-defined]

    browser.find_element(By.ID, "text").send_keys("add eggs to the shopping list")
    browser.find_element(By.CSS_SELECTOR, "#typed button").click()
    typed = wait_for_turn(browser, 2)
    assert typed.find_element(By.CSS_SELECTOR, ".heard").text == "add eggs to the shopping list"  # type: ignore[attr-defined]
    assert calls(typed)[0][:2] == ("add_to_shopping_list", "ran")

    browser.find_element(By.ID, "file").send_keys(str(MILK))
    uploaded = wait_for_turn(browser, 3)
    assert calls(uploaded)[0][:2] == ("add_to_shopping_list", "ran")
    assert browser.find_element(By.ID, "notice").get_attribute("hidden")
    shot = Path(os.environ.get("VOICE_AGENT_SCREENSHOT", tmp_path / "console.png"))
    assert browser.save_screenshot(str(shot))
