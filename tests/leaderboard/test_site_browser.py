"""The leaderboard's web page in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) through selenium, on a site built from real runs — every one-step baseline
on the five environments and the investigation baselines on the three investigations — beside a
submitted run whose agent is named ``</script><script>…`` and whose answer and tool output are
markup.

The page is opened from disk (``file://``, no flag that loosens file access), as a reader opens
it. Without chromium, chromedriver or selenium the tests skip, saying what is missing, unless
``RLOG_REQUIRE_BROWSER=1`` (CI sets it), where that is a failure.

``RLOG_SCREENSHOTS=DIR`` also saves the README's pictures there: ``site-overview.png`` and
``site-episode.png``, from a site of the baselines' run alone.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from rlog_env import cli
from rlog_env.leaderboard import runner
from rlog_env.leaderboard.aggregate import episode_score
from rlog_env.leaderboard.results import RESULTS, read_results
from rlog_env.leaderboard.runner import DEFAULT_AGENTS, default_agents, run
from rlog_env.tasks import INVESTIGATIONS

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
HOSTILE_AGENT = "</script><script>window.__pwned=1;alert(1)</script>"
HOSTILE_ANSWER = "<img src=x onerror=alert(1)>"
HOSTILE_TOOL_OUTPUT = "<svg onload=\"window.__pwned=2\"><script>window.__pwned=3</script>"
INVESTIGATION_IDS = [cls.env_id for cls in INVESTIGATIONS.values()]


def _missing() -> str | None:
    """What the browser tests lack on this machine, or None."""
    missing = [f"{path} (apt-get install {package})" for path, package in ((CHROMIUM, "chromium"),
                                                                          (CHROMEDRIVER, "chromium-driver"))
               if not (os.path.isfile(path) and os.access(path, os.X_OK))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    if not missing:
        return None
    return f"not found: {', '.join(missing)}; the browser tests need them (.ci/run installs them)"


@pytest.fixture(scope="module")
def driver():
    missing = _missing()
    if missing:
        if os.environ.get("RLOG_REQUIRE_BROWSER") == "1":
            pytest.fail(f"RLOG_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
                     "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The baselines' run (five environments), the investigators' run, and a submitted run with
    the planted records; the site of all three."""
    root = tmp_path_factory.mktemp("browser")
    baselines = run(list(DEFAULT_AGENTS), None, episodes=3, run_dir=root / "baselines")
    fit = runner.FIT_INCIDENTS
    runner.FIT_INCIDENTS = 40  # the scripted investigator fits faster; it still learns enough
    try:
        investigations = run(list(default_agents(INVESTIGATION_IDS)), INVESTIGATION_IDS, episodes=2,
                             run_dir=root / "investigations")
    finally:
        runner.FIT_INCIDENTS = fit
    submitted = root / "submitted"
    submitted.mkdir()
    one_step = next(r for r in read_results(baselines) if r["env"] == "RLog/LogInterpretation-v0")
    transcript = next(r for r in read_results(investigations) if r["agent"] == "scripted-investigator")
    transcript["turns"][0]["tool_outputs"][0] = HOSTILE_TOOL_OUTPUT
    planted = [{**one_step, "agent": HOSTILE_AGENT, "answer": HOSTILE_ANSWER, "parsed_answer": HOSTILE_ANSWER},
               {**transcript, "agent": HOSTILE_AGENT}]
    (submitted / RESULTS).write_text("".join(json.dumps(r) + "\n" for r in planted))
    assert cli.main(["leaderboard", str(baselines), str(investigations), str(submitted),
                     "--html", str(root / "site")]) == 0
    records = [r for path in (baselines, investigations, submitted) for r in read_results(path)]
    return {"root": root, "baselines": baselines, "site": root / "site", "records": records}


def _wait(driver, condition, seconds: float = 30.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(lambda d: condition(d))


def _open(driver, site: Path, view: str = "overview") -> None:
    driver.get("about:blank")  # a new load, even where only the #view differs from the page open
    driver.get((site / "index.html").as_uri() + "#" + view)
    _wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "overview")
    _wait(driver, lambda d: d.execute_script("return document.getElementById('episode-status').dataset.loaded") == "all")


def _console_errors(driver) -> list:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _nothing_ran(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - an alert(1) would be open
    assert driver.execute_script("return window.__pwned === undefined")
    # No element came from a run's strings: no image, no script but the page's own.
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    assert driver.execute_script("return Array.from(document.scripts).filter(s => s.src === '' && "
                                 "s.type !== 'application/json').length") == 0
    assert driver.execute_script("return document.querySelectorAll('[onload], [onerror]').length") == 0


def _texts(driver, selector: str) -> list[str]:
    return driver.execute_script(f"return Array.from(document.querySelectorAll({selector!r})).map(e => e.textContent)")


def _filter(driver, **choices) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for name, text in choices.items():
        if name in ("min", "max"):
            field = driver.find_element(By.ID, f"filter-{name}")
            field.clear()
            field.send_keys(str(text))
        else:
            Select(driver.find_element(By.ID, f"filter-{name}")).select_by_visible_text(text)


def test_the_page_loads_from_disk_with_no_console_error(driver, runs):
    _open(driver, runs["site"])
    assert _console_errors(driver) == []
    agents = _texts(driver, "#overview-table tbody tr td:first-child")
    assert agents == [*DEFAULT_AGENTS, "scripted-investigator", "answer-now", "random-tools", HOSTILE_AGENT]
    status = driver.execute_script("return document.getElementById('episode-count').textContent")
    assert status.startswith(f"{len(runs['records'])} matching episodes")
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, '.tab[data-view="charts"]').click()
    _wait(driver, lambda d: d.execute_script("return document.getElementById('radar') !== null"))
    caption = driver.execute_script("return document.querySelector('#view-charts figcaption').textContent")
    assert "(reward + 2) / (best + 2)" in caption  # the radar states its scale
    assert driver.execute_script("return document.querySelectorAll('svg.bars').length") == 8
    assert driver.execute_script("return document.querySelectorAll('svg.scatter').length") == 3  # return vs turns
    assert _console_errors(driver) == []
    _nothing_ran(driver)


def test_sorting_a_column_reorders_the_rows(driver, runs):
    from selenium.webdriver.common.by import By

    _open(driver, runs["site"])
    board = json.loads(driver.execute_script("return document.getElementById('rlog-data').textContent"))["board"]
    before = _texts(driver, "#overview-table tbody tr td:first-child")
    assert before == [row["agent"] for row in board["rows"]]
    # A column whose order differs from the board's.
    task = next(t for t in board["tasks"]
                if sorted((r for r in board["rows"] if t in r["tasks"]), key=lambda r: -r["tasks"][t]["reward"])
                != [r for r in board["rows"] if t in r["tasks"]])
    rewards = {row["agent"]: row["tasks"][task]["reward"] for row in board["rows"] if task in row["tasks"]}
    header = driver.find_element(By.XPATH, f"//table[@id='overview-table']//th/button[text()='{task}']")
    header.click()
    after = _texts(driver, "#overview-table tbody tr td:first-child")
    played = [a for a in after if a in rewards]
    assert [rewards[a] for a in played] == sorted(rewards.values(), reverse=True)  # largest first
    assert after[len(played):] == [a for a in before if a not in rewards]  # those that did not play, last
    assert after != before
    header.click()
    again = _texts(driver, "#overview-table tbody tr td:first-child")
    assert [rewards[a] for a in again if a in rewards] == sorted(rewards.values())
    driver.find_element(By.XPATH, "//table[@id='overview-table']//th/button[text()='agent']").click()
    assert _texts(driver, "#overview-table tbody tr td:first-child") == sorted(before)
    assert _console_errors(driver) == []


def test_filtering_and_opening_an_episode_shows_its_answer_and_reward(driver, runs):
    from selenium.webdriver.common.by import By

    _open(driver, runs["site"], "episodes")
    _filter(driver, agent="heuristic", task="AnomalyDetection", min=1)
    expected = [r for r in runs["records"] if r["agent"] == "heuristic" and r["env"] == "RLog/AnomalyDetection-v0"
                and episode_score(r) >= 1]
    assert expected, "the heuristic baseline answers some anomaly episodes right"
    count = driver.find_element(By.ID, "episode-count").text
    assert count.startswith(f"{len(expected)} matching episodes")
    assert _texts(driver, "#episode-table tbody td:nth-child(7)") == [str(r["index"]) for r in expected]
    driver.find_elements(By.CSS_SELECTOR, "#episode-table button.open-episode")[0].click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#episode-detail .answer-text"))
    record = expected[0]
    assert driver.find_element(By.CSS_SELECTOR, "#episode-detail .answer-text").get_attribute("textContent") \
        == record["answer"]
    assert driver.find_element(By.CSS_SELECTOR, "#episode-detail .score .big").text == f"{record['reward']['total']:.3f}"
    parts = _texts(driver, "#episode-detail .reward-parts dd")
    assert parts == [f"{record['reward'][k]:.3f}" for k in record["reward"]]
    marked = _texts(driver, "#episode-detail .answer-text .part-answer")
    assert marked == [record["parsed_answer"]]  # the answer part marked as such
    assert driver.find_element(By.CSS_SELECTOR, "#episode-detail pre.reference").get_attribute("textContent") \
        == record["reference"]
    # Side by side: the same sample played by another agent.
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "compare")).select_by_visible_text("constant-normal")
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#episode-detail article.episode")) == 2)
    other = next(r for r in runs["records"] if r["agent"] == "constant-normal" and r["env"] == record["env"]
                 and r["index"] == record["index"])
    answers = _texts(driver, "#episode-detail .answer-text")
    assert answers == [record["answer"], other["answer"]]
    assert _console_errors(driver) == []


def test_a_transcript_reads_turn_by_turn(driver, runs):
    from selenium.webdriver.common.by import By

    _open(driver, runs["site"], "episodes")
    _filter(driver, agent="scripted-investigator", task="RootCauseInvestigation")
    driver.find_elements(By.CSS_SELECTOR, "#episode-table button.open-episode")[0].click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#episode-detail li.turn"))
    record = next(r for r in runs["records"] if r["agent"] == "scripted-investigator"
                  and r["env"] == "RLog/RootCauseInvestigation-v0")
    assert _texts(driver, "#episode-detail pre.completion") == [t["completion"] for t in record["turns"]]
    assert _texts(driver, "#episode-detail pre.tool-output") == [o for t in record["turns"] for o in t["tool_outputs"]]
    assert _texts(driver, "#episode-detail .tool-name") == [c["name"] for t in record["turns"] for c in t["tool_calls"]]
    heads = _texts(driver, "#episode-detail .turn-head")
    assert [h.split("step reward ")[1][:6].strip() for h in heads] == [f"{t['reward']:.3f}" for t in record["turns"]]
    assert _console_errors(driver) == []


def test_planted_markup_and_a_script_closing_agent_name_are_text_and_run_nothing(driver, runs):
    from selenium.webdriver.common.by import By

    _open(driver, runs["site"])
    assert HOSTILE_AGENT in _texts(driver, "#overview-table tbody tr td:first-child")
    data = json.loads(driver.find_element(By.ID, "rlog-data").get_attribute("textContent"))
    assert HOSTILE_AGENT in data["episodes"]["agents"] and HOSTILE_AGENT not in driver.page_source
    driver.find_element(By.CSS_SELECTOR, '.tab[data-view="charts"]').click()
    _wait(driver, lambda d: d.execute_script("return document.getElementById('radar') !== null"))
    assert HOSTILE_AGENT in _texts(driver, ".legend-item")
    driver.find_element(By.CSS_SELECTOR, '.tab[data-view="episodes"]').click()
    _filter(driver, agent=HOSTILE_AGENT)
    assert driver.find_element(By.ID, "episode-count").text.startswith("2 matching episodes")
    driver.find_elements(By.CSS_SELECTOR, "#episode-table button.open-episode")[0].click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#episode-detail .answer-text"))
    assert driver.find_element(By.CSS_SELECTOR, "#episode-detail .agent-name").get_attribute("textContent") == HOSTILE_AGENT
    assert driver.find_element(By.CSS_SELECTOR, "#episode-detail .answer-text").get_attribute("textContent") == HOSTILE_ANSWER
    assert driver.find_element(By.CSS_SELECTOR, "#episode-detail pre.parsed").get_attribute("textContent") == HOSTILE_ANSWER
    _nothing_ran(driver)
    driver.find_elements(By.CSS_SELECTOR, "#episode-table button.open-episode")[1].click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#episode-detail li.turn"))
    assert _texts(driver, "#episode-detail pre.tool-output")[0] == HOSTILE_TOOL_OUTPUT
    time.sleep(0.5)  # what markup would have loaded or run has had its chance
    _nothing_ran(driver)
    assert _console_errors(driver) == []  # nor was anything blocked: nothing tried to run


def test_screenshots_for_the_readme(driver, runs, tmp_path):
    """With RLOG_SCREENSHOTS=DIR: the overview and an episode side by side, from the baselines' run."""
    out = os.environ.get("RLOG_SCREENSHOTS")
    if not out:
        pytest.skip("RLOG_SCREENSHOTS is not set")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    site = tmp_path / "site"
    assert cli.main(["leaderboard", str(runs["baselines"]), "--html", str(site)]) == 0
    Path(out).mkdir(parents=True, exist_ok=True)
    driver.set_window_size(1500, 1000)
    _open(driver, site)
    driver.save_screenshot(str(Path(out) / "site-overview.png"))
    driver.find_element(By.CSS_SELECTOR, '.tab[data-view="episodes"]').click()
    _filter(driver, agent="heuristic", task="RootCauseAnalysis", min=1)
    driver.find_elements(By.CSS_SELECTOR, "#episode-table button.open-episode")[0].click()
    _wait(driver, lambda d: d.find_elements(By.ID, "compare"))
    Select(driver.find_element(By.ID, "compare")).select_by_visible_text("echo")
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#episode-detail article.episode")) == 2)
    driver.execute_script("document.getElementById('episode-detail').scrollIntoView({block: 'start'})")
    driver.save_screenshot(str(Path(out) / "site-episode.png"))
    assert _console_errors(driver) == []
    driver.set_window_size(1400, 900)
    shutil.rmtree(site)
