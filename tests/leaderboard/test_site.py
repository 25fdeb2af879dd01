"""The leaderboard's web page, built without a browser: the files it writes, the embedded data
(the board as the tables have it, escaped so that no string of a run can end a script block),
the episodes in chunk and index files, where the site may be written (new, empty, or an earlier
site, replaced whole), the `--html` options of `rlog leaderboard` and `rlog eval`, and clear
errors. `test_site_browser.py` drives the page in Chromium."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from rlog_env import cli
from rlog_env.agents.base import FunctionAgent
from rlog_env.leaderboard import site
from rlog_env.leaderboard.aggregate import episode_score
from rlog_env.leaderboard.results import RESULTS, read_results
from rlog_env.leaderboard.runner import run
from rlog_env.leaderboard.tables import agent_totals, leaderboard, radar_values

ENVS = ["RLog/LogParsing-v0", "RLog/AnomalyDetection-v0", "RLog/LogInterpretation-v0"]
HOSTILE_AGENT = "</script><script>window.__pwned=1</script><!--"
HOSTILE_ANSWER = "<img src=x onerror=alert(1)>\u2028</SCRIPT>&amp;\u2029"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A real run (two function agents on three environments), and a planted record: an agent
    named to close a script block, an answer that would be markup, fields never shown."""
    path = tmp_path_factory.mktemp("site") / "run"
    agents = [FunctionAgent(lambda p: "<think>look</think><answer>normal</answer>", name="normal"),
              FunctionAgent(lambda p: p.split("Logs:")[-1].strip()[:200], name="echo-ish")]
    run(agents, ENVS, episodes=4, run_dir=path, fit=False)
    first = json.loads((path / RESULTS).read_text().splitlines()[0])
    planted = {**first, "agent": HOSTILE_AGENT, "answer": HOSTILE_ANSWER, "parsed_answer": HOSTILE_ANSWER,
               "py/object": "os.system", "secret": "never shown"}
    with (path / RESULTS).open("a") as handle:
        handle.write(json.dumps(planted) + "\n")
    return path


def _embedded(index_html: str) -> dict:
    block = re.search(r'<script type="application/json" id="rlog-data">(.*?)</script>', index_html, re.S)
    return json.loads(block.group(1))


def _payload(path: Path, function: str):
    text = path.read_text(encoding="ascii")
    match = re.fullmatch(rf"{function}\((\d+),(.*)\);\n", text, re.S)
    assert match, f"{path} is not one call of {function}"
    return int(match.group(1)), json.loads(match.group(2))


def _chunks(root: Path) -> list[dict]:
    records = []
    for number, path in enumerate(sorted((root / "episodes").glob("chunk-*.js"))):
        n, chunk = _payload(path, "rlogChunk")
        assert n == number
        records += chunk
    return records


def test_script_json_cannot_end_a_script_block_and_reads_back_unchanged():
    value = {"agent": HOSTILE_AGENT, "answer": HOSTILE_ANSWER, "surrogate": "\udcff", "cjk": "日志",
             "nested": [{"</script>": "<!-- -->"}], "n": 1.5}
    text = site.script_json(value)
    assert text.isascii() and not set("<>&") & set(text)
    assert "\u2028" not in text and "\\u2028" in text and "\\u2029" in text
    assert json.loads(text) == value
    odd = json.loads(site.script_json({"rate": math.inf, "low": -math.inf, "gap": math.nan}))
    assert odd == {"rate": "Infinity", "low": "-Infinity", "gap": "NaN"}  # JSON has no such numbers


def test_the_site_holds_the_board_and_every_episode(run_dir, tmp_path):
    records = list(read_results(run_dir))
    board = leaderboard(records)
    index = site.write(board, iter(records), tmp_path / "site", title="a title", runs=["run"])
    root = index.parent
    assert index == tmp_path / "site" / "index.html"
    assert {p.name for p in root.iterdir()} == {"index.html", "site.js", "site.css", "episodes", site.MARKER,
                                                ".nojekyll"}
    page = index.read_text(encoding="ascii")
    data = _embedded(page)
    assert data["board"] == json.loads(site.script_json(board))  # the board as the tables have it
    assert data["totals"] == json.loads(site.script_json([agent_totals(row) for row in board["rows"]]))
    assert data["radar"]["values"] == radar_values(board) and "(reward + 2) / (best + 2)" in data["radar"]["scale"]
    assert [c["name"] for c in data["columns"]] == board["tasks"] == ["LogParsing", "AnomalyDetection",
                                                                      "LogInterpretation"]
    assert [c["env"] for c in data["columns"]] == ENVS
    episodes = data["episodes"]
    assert episodes["count"] == len(records) and episodes["agents"] == ["normal", "echo-ish", HOSTILE_AGENT]
    assert episodes["columns"] == ["LogParsing", "AnomalyDetection", "LogInterpretation"]
    # Every episode, in order, with the fields the page shows and nothing else.
    shown = _chunks(root)
    assert shown == [{k: r[k] for k in site.EPISODE_FIELDS if k in r} for r in records]
    assert "py/object" not in shown[-1] and "secret" not in shown[-1]
    # The index: one summary per episode, pointing at its chunk.
    n, columns = _payload(root / "episodes" / "index-0000.js", "rlogIndex")
    assert n == 0 and set(columns) == set(site.INDEX_COLUMNS)
    assert columns["score"] == [round(episode_score(r), 6) for r in records]
    assert columns["sample"] == [r["index"] for r in records]
    assert [episodes["agents"][a] for a in columns["agent"]] == [r["agent"] for r in records]
    assert [episodes["tasks"][t] for t in columns["task"]] == [r["task"] for r in records]
    assert [episodes["domains"][d] for d in columns["domain"]] == [r["domain"] for r in records]
    assert columns["unseen"] == [int(r["unseen"]) for r in records]
    assert columns["turns"] == [1] * len(records) and columns["chunk"] == [0] * len(records)
    assert [f & 1 for f in columns["flags"]] == [int(r["metrics"]["well_formed"]) for r in records]


def test_no_string_of_a_run_is_markup_in_any_file(run_dir, tmp_path):
    index = site.write(leaderboard(read_results(run_dir)), read_results(run_dir), tmp_path / "site")
    page = index.read_text(encoding="ascii")
    # The page's own script blocks only: the data block and site.js.
    assert len(re.findall(r"</script", page, re.I)) == 2 and len(re.findall(r"<script", page, re.I)) == 2
    assert "<!--" not in page and "\u2028" not in page
    for path in (index.parent / "episodes").iterdir():
        text = path.read_text(encoding="ascii")  # ASCII: every other character escaped
        assert "<" not in text and ">" not in text and "&" not in text
    assert _embedded(page)["episodes"]["agents"][-1] == HOSTILE_AGENT
    assert _chunks(index.parent)[-1]["answer"] == HOSTILE_ANSWER


def test_the_page_runs_only_its_own_script_and_fetches_nothing():
    assets = Path(site.__file__).parent / "site_assets"
    # The code, without its comments (which name what it never does); the SVG namespace is a name, not a fetch.
    script = re.sub(r"/\*.*?\*/|^\s*//.*$", "", (assets / "site.js").read_text(), flags=re.S | re.M)
    script = script.replace('"http://www.w3.org/2000/svg"', "SVGNS")
    page, style = (assets / "index.html").read_text(), (assets / "site.css").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "fetch(", "XMLHttpRequest", "setAttribute(\"on", "javascript:", ".href", "import("):
        assert sink not in script, sink
    assert re.search(r"script-src 'self'[;\"]", page) and "object-src 'none'" in page and "default-src 'none'" in page
    assert "unsafe-inline" not in page and "unsafe-eval" not in page
    for text in (script, page, style):
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), "no network: nothing from another host"
    assert "@import" not in style and "url(" not in style


def test_episodes_are_split_into_chunks_and_index_files(run_dir, tmp_path, monkeypatch):
    records = list(read_results(run_dir))
    big = {**records[0], "index": 10_000, "answer": "x" * 5_000}  # larger than a chunk may be
    records = records[:7] + [big] + records[7:]
    monkeypatch.setattr(site, "CHUNK_EPISODES", 3)
    monkeypatch.setattr(site, "CHUNK_BYTES", 4_000)
    monkeypatch.setattr(site, "INDEX_EPISODES", 5)
    root = site.write(leaderboard(records), records, tmp_path / "site").parent
    data = _embedded((root / "index.html").read_text())["episodes"]
    chunks = sorted((root / "episodes").glob("chunk-*.js"))
    sizes = [len(_payload(path, "rlogChunk")[1]) for path in chunks]
    assert sum(sizes) == len(records) and max(sizes) <= 3
    assert [len(_payload(p, "rlogChunk")[1]) for p in chunks if "x" * 5_000 in p.read_text()] == [1]
    assert data["chunk_files"] == len(chunks)
    assert _chunks(root) == [{k: r[k] for k in site.EPISODE_FIELDS if k in r} for r in records]
    indexes = sorted((root / "episodes").glob("index-*.js"))
    assert len(indexes) == data["index_files"] == math.ceil(len(records) / 5) and data["per_index"] == 5
    chunk_of = []
    for n, path in enumerate(indexes):
        number, columns = _payload(path, "rlogIndex")
        assert number == n and len(columns["agent"]) == (5 if n < len(indexes) - 1 else len(records) - 5 * n)
        chunk_of += columns["chunk"]
    # Each episode's chunk, as the page finds it: chunk numbers never decrease, and each chunk
    # holds the episodes from the first that names it.
    assert chunk_of == sorted(chunk_of) and set(chunk_of) == set(range(len(chunks)))
    assert [chunk_of.count(c) for c in range(len(chunks))] == sizes


def test_a_transcript_keeps_every_turn(tmp_path):
    """Investigation records keep their turns (completion, tool calls and outputs, step reward)."""
    from rlog_env.leaderboard import runner

    ids = ["RLog/FaultLocalization-v0"]
    monkey = runner.FIT_INCIDENTS
    runner.FIT_INCIDENTS = 20
    try:
        path = run(["scripted-investigator", "random-tools"], ids, episodes=2, run_dir=tmp_path / "inv")
    finally:
        runner.FIT_INCIDENTS = monkey
    records = list(read_results(path))
    root = site.write(leaderboard(records), records, tmp_path / "site").parent
    shown = _chunks(root)
    assert all(s["turns"] == r["turns"] and s["return"] == r["return"] for s, r in zip(shown, records))
    _, columns = _payload(root / "episodes" / "index-0000.js", "rlogIndex")
    assert columns["turns"] == [len(r["turns"]) for r in records] and max(columns["turns"]) == 12
    assert columns["score"] == [round(r["return"], 6) for r in records]


def test_an_empty_run_makes_a_page_that_says_so(tmp_path):
    index = site.write({"rows": [], "tasks": []}, [], tmp_path / "site")
    data = _embedded(index.read_text())
    assert data["episodes"]["count"] == 0 and data["episodes"]["index_files"] == 0
    assert not list((index.parent / "episodes").iterdir())


# -- where the site goes ----------------------------------------------------------------------
def test_an_earlier_site_is_replaced_whole_and_an_empty_or_new_dir_is_used(run_dir, tmp_path):
    board = leaderboard(read_results(run_dir))
    (tmp_path / "empty").mkdir()
    site.write(board, read_results(run_dir), tmp_path / "empty")
    target = tmp_path / "deep" / "new" / "site"
    site.write(board, read_results(run_dir), target)
    (target / "episodes" / "chunk-9999.js").write_text("stale")
    (target / "left-over.txt").write_text("from before")
    site.write(board, [], target)  # again, with no episodes
    assert not (target / "left-over.txt").exists() and not list((target / "episodes").iterdir())
    assert [p.name for p in target.parent.iterdir()] == ["site"]  # no temporary or old directory left


@pytest.mark.parametrize("kind", ["files", "file", "link"])
def test_a_target_that_is_not_a_site_is_refused_and_left_alone(kind, run_dir, tmp_path):
    target = tmp_path / "target"
    if kind == "files":
        target.mkdir()
        (target / "thesis.tex").write_text("precious")
    elif kind == "file":
        target.write_text("precious")
    else:
        (tmp_path / "elsewhere").mkdir()
        target.symlink_to(tmp_path / "elsewhere")
    expected = {"files": "not a site rlog wrote", "file": "not a directory", "link": "symbolic link"}[kind]
    with pytest.raises(ValueError, match=expected):
        site.write(leaderboard(read_results(run_dir)), read_results(run_dir), target)
    if kind == "files":
        assert [p.name for p in target.iterdir()] == ["thesis.tex"]
    elif kind == "file":
        assert target.read_text() == "precious"
    else:
        assert target.is_symlink() and not list((tmp_path / "elsewhere").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["target"] + (["elsewhere"] if kind == "link" else []))


def test_a_failed_build_leaves_the_earlier_site_as_it_was(run_dir, tmp_path):
    board = leaderboard(read_results(run_dir))
    index = site.write(board, read_results(run_dir), tmp_path / "site")
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}

    def broken():
        yield from list(read_results(run_dir))[:3]
        raise ValueError("results.jsonl, line 4: broken")

    with pytest.raises(ValueError, match="line 4"):
        site.write(board, broken(), tmp_path / "site")
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    assert after == before and index.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


# -- the command line ---------------------------------------------------------------------------
def test_rlog_leaderboard_html(run_dir, tmp_path, capsys):
    assert cli.main(["leaderboard", str(run_dir), "--html", str(tmp_path / "page")]) == 0
    out = capsys.readouterr().out
    assert f"web page: {tmp_path / 'page' / 'index.html'}" in out and "| agent |" in out
    data = _embedded((tmp_path / "page" / "index.html").read_text())
    assert data["runs"] == ["run"] and data["title"] == "rlog leaderboard: run"
    assert data["episodes"]["count"] == len(list(read_results(run_dir)))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep")
    assert cli.main(["leaderboard", str(run_dir), "--html", str(tmp_path / "notes")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rlog: error: --html") and "not a site rlog wrote" in err and "new or empty" in err
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep"


def test_rlog_eval_html(tmp_path, capsys):
    assert cli.main(["eval", "--agents", "constant-normal", "--envs", "RLog/AnomalyDetection-v0", "--episodes", "3",
                     "--run-dir", str(tmp_path / "run"), "--html", str(tmp_path / "page"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["site"] == str(tmp_path / "page" / "index.html")
    data = _embedded((tmp_path / "page" / "index.html").read_text())
    assert data["episodes"]["count"] == 3 and data["board"] == json.loads(site.script_json(printed["leaderboard"]))
    # A bad --html is refused before anything is evaluated.
    (tmp_path / "taken").write_text("a file")
    assert cli.main(["eval", "--agents", "constant-normal", "--envs", "RLog/AnomalyDetection-v0", "--episodes", "3",
                     "--run-dir", str(tmp_path / "run2"), "--html", str(tmp_path / "taken")]) == 2
    assert "--html" in capsys.readouterr().err and not (tmp_path / "run2").exists()
