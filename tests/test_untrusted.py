"""Untrusted artefacts: what others hand us is loaded as data, and runs nothing.

- **Models** load through safetensors only: a model directory whose weights are only a pickle
  (``pytorch_model.bin``, ``*.pt``, ``*.pth``, ``*.pkl``, ``*.ckpt``) is refused with a clear
  error before anything reads it; Python files beside a model's config (``auto_map``) are never
  run unless the user passes ``trust_remote_code=True``. Each hostile file here creates a marker
  file when it runs; a positive control shows it does, and every test shows the marker absent.
- **Submitted runs** (``config.json`` and ``results.jsonl`` from someone else) are read as
  JSON: fields an unpickler or a YAML loader would act on stay plain data, agent names cannot
  break the leaderboard's Markdown, start spreadsheet formulas or mathtext, a symbolic link
  planted where the leaderboard is written is replaced rather than followed, an agent module
  planted in the run is never imported, and every malformed record is an error naming the file,
  the line and the field.
- **Agent specs** ``python:module:callable`` import the module named and nothing else, and are
  parsed, never evaluated.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import pickle
import re
import runpy
import shutil
import sys
from pathlib import Path

import pytest

import rlog_env  # noqa: F401 - registers the environments
from rlog_env import cli
from rlog_env.agents.base import FunctionAgent, Observation
from rlog_env.agents.registry import make_agent
from rlog_env.leaderboard.results import RESULTS, read_frame, read_results
from rlog_env.leaderboard.runner import evaluate
from rlog_env.agents.models import UnsafeModelError, require_safetensors

# --------------------------------------------------------------------------------------------
# Models


class _Payload:
    """Unpickled, it creates ``path`` (what a malicious checkpoint would do, harmlessly)."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


PICKLE_NAMES = ["pytorch_model.bin", "model.pt", "model.pth", "weights.pkl", "last.ckpt"]


@pytest.mark.parametrize("name", PICKLE_NAMES)
def test_a_model_dir_with_only_a_malicious_pickle_is_refused(name, tmp_path, capsys):
    model, marker = tmp_path / "model", tmp_path / "UNPICKLED"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    payload = pickle.dumps({"weights": _Payload(marker)})
    (model / name).write_bytes(payload)
    pickle.loads(payload)  # the positive control: unpickling this file runs its code
    assert marker.exists()
    marker.unlink()

    from rlog_env.agents.transformers_agent import TransformersAgent
    from rlog_env.training.trainers import load_model

    with pytest.raises(UnsafeModelError, match=rf"{name}.*safetensors"):
        TransformersAgent(model, device="cpu").load()
    with pytest.raises(UnsafeModelError, match="pickle"):
        load_model(str(model), "cpu")
    assert cli.main(["eval", "--agents", f"transformers:{model}", "--envs", "RLog/AnomalyDetection-v0",
                     "--episodes", "1", "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "rlog: error:" in err and str(model) in err and name in err
    assert cli.main(["train", "sft", "--model", str(model), "--output-dir", str(tmp_path / "out"),
                     "--episodes", "1", "--device", "cpu", "--trl", "max_steps=1"]) == 2
    assert "safetensors" in capsys.readouterr().err
    assert not marker.exists()


def test_a_dir_without_weights_is_refused_and_a_hub_id_is_left_to_use_safetensors(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UnsafeModelError, match="no model.safetensors"):
        require_safetensors(tmp_path)
    require_safetensors("HuggingFaceTB/SmolLM2-135M-Instruct")  # not a directory: no error here


def _small_model(out: Path) -> Path:
    """A real two-file model (a 1-layer Llama, a word-level tokenizer), built in a second."""
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<unk>", "<pad>", "<eos>", "normal", "abnormal", "<think>", "</think>", "<answer>", "</answer>"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>",
                                                     pad_token="<pad>", eos_token="<eos>")
    config = transformers.LlamaConfig(vocab_size=len(words), hidden_size=8, intermediate_size=16,
                                      num_hidden_layers=1, num_attention_heads=1, num_key_value_heads=1,
                                      max_position_embeddings=64, pad_token_id=1, eos_token_id=2, bos_token_id=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def test_code_beside_a_model_never_runs_without_trust_remote_code(tmp_path):
    model = _small_model(tmp_path / "model")
    markers = {name: tmp_path / f"RAN_{name}" for name in ("modeling_evil", "tokenization_evil")}
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "modeling_evil.EvilConfig", "AutoModelForCausalLM": "modeling_evil.EvilModel"}
    (model / "config.json").write_text(json.dumps(config))
    tokenizer_config = json.loads((model / "tokenizer_config.json").read_text())
    tokenizer_config["auto_map"] = {"AutoTokenizer": [None, "tokenization_evil.EvilTokenizer"]}
    (model / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    (model / "modeling_evil.py").write_text(
        f"open({str(markers['modeling_evil'])!r}, 'w').write('ran')\n"
        "from transformers import LlamaConfig, LlamaForCausalLM\n"
        "class EvilConfig(LlamaConfig): pass\n"
        "class EvilModel(LlamaForCausalLM): config_class = EvilConfig\n")
    (model / "tokenization_evil.py").write_text(
        f"open({str(markers['tokenization_evil'])!r}, 'w').write('ran')\n"
        "from transformers import PreTrainedTokenizerFast\n"
        "class EvilTokenizer(PreTrainedTokenizerFast): pass\n")
    # A decoy pickle beside the safetensors weights is never read either.
    (model / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(tmp_path / "UNPICKLED")))

    from rlog_env.agents.transformers_agent import TransformersAgent
    from rlog_env.training.trainers import load_model

    agent = TransformersAgent(model, device="cpu", max_new_tokens=2)
    observation = Observation("normal", ({"role": "user", "content": "normal"},), "anomaly_detection", "")
    assert len(agent.act([observation])) == 1
    assert type(agent.model_).__name__ == "LlamaForCausalLM"  # the library's class, not the file's
    trained, _ = load_model(str(model), "cpu")
    assert type(trained).__name__ == "LlamaForCausalLM"
    assert not any(m.exists() for m in markers.values()) and not (tmp_path / "UNPICKLED").exists()
    runpy.run_path(str(model / "modeling_evil.py"))  # the positive control: the file does run code
    assert markers["modeling_evil"].exists()


# --------------------------------------------------------------------------------------------
# Submitted runs

ENVS = ["RLog/AnomalyDetection-v0", "RLog/LogParsing-v0", "RLog/LogInterpretation-v0"]
HOSTILE_FIELDS = {
    "py/object": "os.system", "py/reduce": [{"py/function": "os.system"}, ["touch MARKER"]],
    "__class__": "subprocess.Popen", "__reduce__": "os.system", "$type": "System.Diagnostics.Process",
    "!!python/object/apply:os.system": ["touch MARKER"], "eval": "__import__('os').system('touch MARKER')",
    "pickle": "gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAV0b3VjaJSFlFKULg==",
}
HOSTILE_AGENTS = ["evil | 9.999 [9.999, 9.999] | 100.0% | 1 |\n| fake-agent | 9 |",
                  "=HYPERLINK(\"http://evil.example\",\"click\")", "$\\frac{1}{$ mathtext",
                  "python:planted_agent:agent"]


@pytest.fixture
def submitted(tmp_path, monkeypatch) -> dict:
    """A run directory as a stranger might submit it: real episodes, hostile extras."""
    run = tmp_path / "submitted"
    evaluate([FunctionAgent(lambda p: "<think>x</think><answer>normal</answer>", name="a")], ENVS,
             episodes=3, run_dir=run, fit=False)
    base = [json.loads(line) for line in (run / RESULTS).read_text().splitlines()]
    records = [{**record, "agent": agent, **HOSTILE_FIELDS} for agent in HOSTILE_AGENTS for record in base]
    (run / RESULTS).write_text("".join(json.dumps(r) + "\n" for r in records))
    header = json.loads((run / "config.json").read_text())
    header["config"]["agents"] = HOSTILE_AGENTS
    (run / "config.json").write_text(json.dumps(header))
    marker = tmp_path / "PLANTED_AGENT_RAN"
    (run / "planted_agent.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nagent = print\n")
    victims = {}
    for name in ("leaderboard.md", "leaderboard.csv"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("precious")
        (run / name).symlink_to(victim)
        victims[name] = victim
    # As if run from inside the submitted directory: its planted module would be importable.
    monkeypatch.syspath_prepend(str(run))
    monkeypatch.delitem(sys.modules, "planted_agent", raising=False)
    return {"run": run, "records": records, "marker": marker, "victims": victims}


def test_a_submitted_run_is_loaded_as_data_and_its_leaderboard_runs_nothing(submitted, capsys):
    run = submitted["run"]
    frame = read_frame(run)
    assert len(frame) == len(submitted["records"])
    assert frame["py/reduce"].iloc[0] == HOSTILE_FIELDS["py/reduce"]  # plain data, as written
    assert frame["eval"].iloc[0] == HOSTILE_FIELDS["eval"]
    assert cli.main(["leaderboard", str(run)]) == 0
    out = capsys.readouterr().out
    assert cli.main(["rescore", str(run)]) == 0 and "every recorded score reproduces" in capsys.readouterr().out

    assert not submitted["marker"].exists() and "planted_agent" not in sys.modules
    for name, victim in submitted["victims"].items():
        assert victim.read_text() == "precious"  # the planted link was replaced, not followed
        assert not (run / name).is_symlink()
    markdown = (run / "leaderboard.md").read_text()
    assert markdown == out.rstrip("\n") + "\n" or out.startswith(markdown.rstrip("\n"))
    assert "\n| fake-agent |" not in markdown  # the agent name could not add a row
    # Every line of every table has its header's number of column separators.
    tables, table = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            table.append(len(re.findall(r"(?<!\\)\|", line)))
        elif table:
            tables.append(table)
            table = []
    assert len(tables) >= 3 and all(len(set(t)) == 1 for t in tables), tables
    assert r"evil \| 9.999" in markdown
    with (run / "leaderboard.csv").open(newline="") as handle:
        agents = {row["agent"] for row in csv.DictReader(handle)}
    assert "'" + HOSTILE_AGENTS[1] in agents and not any(a.startswith(("=", "+", "-", "@")) for a in agents)
    if importlib.util.find_spec("matplotlib"):
        assert (run / "radar.png").read_bytes().startswith(b"\x89PNG")  # mathtext in a name did not break it


def test_a_results_file_that_is_not_a_regular_file_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / RESULTS).symlink_to("/dev/zero")  # read as lines, it would never end
    with pytest.raises(ValueError, match="not a regular file"):
        list(read_results(run))
    assert cli.main(["leaderboard", str(run)]) == 2


def _bad(field, value):
    return lambda record: {**record, field: value}


def _without(field):
    return lambda record: {k: v for k, v in record.items() if k != field}


# description -> (change to the second record, or its raw line; what the error must name)
BAD_RECORDS = {
    "a JSON array": (lambda r: "[1, 2]", "not an object"),
    "a JSON string": (lambda r: '"hello"', "not an object"),
    "not JSON": (lambda r: "{'agent': 'python dict'}", "not a JSON episode record"),
    "NaN reward": (lambda r: json.dumps(r).replace('"total": -2.0', '"total": NaN')
                   .replace('"total": 0.0', '"total": NaN').replace('"total": -1.9', '"total": NaN'),
                   "NaN"),
    "an infinite reward": (lambda r: json.dumps({**r, "reward": {"total": 7.0}}).replace("7.0", "1e999"),
                           "finite number 'total'"),
    "no reward": (_without("reward"), "no field 'reward'"),
    "no agent": (_without("agent"), "no field 'agent'"),
    "no index": (_without("index"), "no field 'index'"),
    "index as a string": (_bad("index", "1"), "field 'index' expects an integer"),
    "index as true": (_bad("index", True), "field 'index' expects an integer"),
    "index as a float": (_bad("index", 1.5), "field 'index' expects an integer"),
    "a negative index": (_bad("index", -1), "sample index >= 0"),
    "agent as a number": (_bad("agent", 42), "field 'agent' expects a string"),
    "env as an object": (_bad("env", {"id": 1}), "field 'env' expects a string"),
    "an unknown task": (_bad("task", "rm -rf /"), "field 'task' expects one of"),
    "reward as a string": (_bad("reward", "lots"), "field 'reward' expects an object"),
    "reward total as a string": (_bad("reward", {"total": "1.0"}), "finite number 'total'"),
    "reward total as true": (_bad("reward", {"total": True}), "finite number 'total'"),
    "metrics as a list": (_bad("metrics", [1]), "field 'metrics' expects an object"),
    "latency as a string": (_bad("latency_s", "fast"), "field 'latency_s' expects a number"),
    "a negative latency": (_bad("latency_s", -5.0), "field 'latency_s' expects a finite number >= 0"),
    "domain as a list": (_bad("domain", ["a", "b"]), "field 'domain' expects a string"),
    "unseen as a string": (_bad("unseen", "no"), "field 'unseen' expects true or false"),
    "reference as null": (_bad("reference", None), "field 'reference' expects a string"),
    "parsed answer as a number": (_bad("parsed_answer", 3), "field 'parsed_answer' expects a string or null"),
    "answer as an object": (_bad("answer", {"a": 1}), "field 'answer' expects a string"),
    "error as a number": (_bad("error", 500), "field 'error' expects a string or null"),
    "usage as a list": (_bad("usage", [1, 2]), "field 'usage' expects an object or null"),
    "the same episode twice": (lambda r: {**r, "index": 0}, "recorded a second time (first at line 1)"),
}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("clean") / "run"
    evaluate([FunctionAgent(lambda p: "", name="empty")], ["RLog/AnomalyDetection-v0"], episodes=2,
             run_dir=run, fit=False)
    return run


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_a_malformed_record_is_an_error_naming_file_line_and_field(case, clean_run, tmp_path, capsys):
    change, expected = BAD_RECORDS[case]
    first, second = [json.loads(line) for line in (clean_run / RESULTS).read_text().splitlines()]
    bad = change(second)
    run = tmp_path / "run"
    shutil.copytree(clean_run, run)
    (run / RESULTS).write_text(json.dumps(first) + "\n" + (bad if isinstance(bad, str) else json.dumps(bad)) + "\n")
    with pytest.raises(ValueError) as raised:
        list(read_results(run))
    message = str(raised.value)
    assert f"{run / RESULTS}, line 2: " in message and expected in message, message
    assert cli.main(["leaderboard", str(run)]) == 2
    assert "line 2: " in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Agent specs


@pytest.fixture
def user_package(tmp_path, monkeypatch) -> dict:
    """``userpkg.agents`` (an answer function, a constant) and a sibling ``userpkg.evil`` that
    leaves a marker if anything imports it."""
    package = tmp_path / "userpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "agents.py").write_text("def answer(prompt):\n    return '<answer>normal</answer>'\n\n"
                                       "THRESHOLD = 0.5\n")
    marker = tmp_path / "EVIL_IMPORTED"
    (package / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\ndef answer(p):\n    return ''\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("userpkg", "userpkg.agents", "userpkg.evil"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return {"marker": marker, "tmp": tmp_path}


def _new_modules(call) -> set[str]:
    before = set(sys.modules)
    try:
        call()
    finally:
        after = set(sys.modules)
    return after - before


def test_a_python_spec_imports_only_the_module_it_names(user_package):
    agent = None

    def load():
        nonlocal agent
        agent = make_agent("python:userpkg.agents:answer")

    assert _new_modules(load) == {"userpkg", "userpkg.agents"}
    assert agent.name == "python:userpkg.agents:answer" and agent.act([Observation("p", (), "t", "")]) == [
        "<answer>normal</answer>"]
    assert not user_package["marker"].exists()


@pytest.mark.parametrize("spec, expected", [
    ("python:userpkg.agents:missing", "module 'userpkg.agents' has no attribute 'missing'"),
    ("python:userpkg.agents:THRESHOLD", "names a float, not an agent"),
    ("python:userpkg.nothing:answer", "no module named 'userpkg.nothing'"),
])
def test_a_python_spec_naming_nothing_usable_is_a_clear_error_and_imports_nothing_else(spec, expected, user_package):
    def load():
        with pytest.raises(ValueError, match=expected):
            make_agent(spec)

    assert _new_modules(load) <= {"userpkg", "userpkg.agents"}
    assert not user_package["marker"].exists()


@pytest.mark.parametrize("spec", [
    "python:__import__('os').system('touch EVAL_RAN'):x",
    "python:os;import userpkg.evil:answer",
    "python:.agents:answer",
    "python:userpkg.agents:answer.__globals__",
    "python:userpkg agents:answer",
    "python:userpkg.agents:",
    "python:answer",
])
def test_a_python_spec_is_parsed_never_evaluated(spec, user_package, monkeypatch):
    monkeypatch.chdir(user_package["tmp"])
    with pytest.raises(ValueError, match="expected python:module:callable"):
        _new_modules(lambda: make_agent(spec))
    assert not user_package["marker"].exists() and not (user_package["tmp"] / "EVAL_RAN").exists()
    assert "userpkg.evil" not in sys.modules
    assert cli.main(["eval", "--agents", spec, "--run-dir", str(user_package["tmp"] / "run")]) == 2


def test_a_submitted_run_without_answers_cannot_be_rescored(clean_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(clean_run, run)
    records = [json.loads(line) for line in (run / RESULTS).read_text().splitlines()]
    (run / RESULTS).write_text("".join(json.dumps({k: v for k, v in r.items() if k != "answer"}) + "\n"
                                       for r in records))
    assert cli.main(["leaderboard", str(run)]) == 0  # the leaderboard needs no answers
    assert cli.main(["rescore", str(run)]) == 2
    assert "has no 'answer' field" in capsys.readouterr().err
