"""The tiny model: built for real (no download) once per module, loaded back with the Auto
classes, driven by the transformers agent and the CLI. Needs torch, transformers and
tokenizers (the ``llm`` extra); without them these tests fail, saying so, rather than skip.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest

import rlog_env  # noqa: F401 - registers the environments
from rlog_env.agents.base import Observation
from rlog_env.datasets import load_source
from rlog_env.tasks import get_task

NEEDED = ("torch", "transformers", "tokenizers", "safetensors")
missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
if missing:  # pragma: no cover - the llm extra is installed where these tests run
    pytest.fail(f"these tests need the llm extra ({', '.join(missing)} missing): pip install -e '.[llm]'",
                pytrace=False)

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from rlog_env.tasks.formats import TAGS  # noqa: E402
from rlog_env.training.tiny import CHAT_TEMPLATE, TOOL_TAGS  # noqa: E402
from rlog_env.training.tiny import (  # noqa: E402
    EOS,
    PAD,
    TinyModelConfig,
    init_tiny,
    tiny_info,
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    started = time.perf_counter()
    path = init_tiny(tmp_path_factory.mktemp("tiny") / "model", seed=0)
    print(f"\ninit_tiny: {time.perf_counter() - started:.1f}s, {tiny_info(path)['parameters']:,} parameters")
    return path


@pytest.fixture(scope="module")
def tokenizer(tiny):
    return AutoTokenizer.from_pretrained(tiny)


@pytest.fixture(scope="module")
def model(tiny):
    return AutoModelForCausalLM.from_pretrained(tiny, use_safetensors=True)


def _ad_messages(count: int = 3, **options) -> list[list[dict[str, str]]]:
    source = load_source("sim", "anomaly_detection", split="train", **options)
    task = get_task("anomaly_detection")
    return [task.messages(source[i]) for i in range(count)]


# --------------------------------------------------------------------------------------------
# The checkpoint


def test_writes_an_ordinary_checkpoint_with_a_model_card(tiny):
    names = {p.name for p in tiny.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json", "README.md"} <= names
    assert not [p for p in tiny.parent.iterdir() if p.name.startswith(".")], "a temporary directory was left behind"
    tokenizer_config = json.loads((tiny / "tokenizer_config.json").read_text())
    assert "<|im_start|>" in tokenizer_config["chat_template"]
    card = (tiny / "README.md").read_text()
    assert "random" in card and "untrained" in card
    assert f"{tiny_info(tiny)['parameters']:,}" in card


def test_loads_back_with_the_auto_classes_as_a_float32_llama(model, tokenizer):
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.dtype == torch.float32
    assert model.config.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert len(tokenizer) == model.config.vocab_size == 4096


def test_parameter_count_is_a_few_million(model, tiny):
    count = sum(p.numel() for p in model.parameters())
    assert 3_000_000 <= count <= 6_000_000
    assert tiny_info(tiny)["parameters"] == count


def test_auto_tokenizer_encodes_like_the_saved_tokenizer_json(tiny, tokenizer):
    """transformers may pick a tokenizer class by model type: it must not change the encoding."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(tiny / "tokenizer.json"))
    texts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in _ad_messages()]
    texts += ["  leading spaces, 0x7f3a 12:00:01.123 <think>é ü 中</think>\n\t<answer>abnormal</answer>"]
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False).input_ids
        assert ids == raw.encode(text, add_special_tokens=False).ids
        assert tokenizer.decode(ids) == text
    # No BOS or EOS is slipped in by default either.
    assert tokenizer("normal").input_ids == raw.encode("normal", add_special_tokens=False).ids


def test_reasoning_tags_are_single_ordinary_tokens_that_survive_skipping_specials(tokenizer):
    special = set(tokenizer.all_special_tokens)
    for tag in TAGS + TOOL_TAGS:
        assert tag not in special
        assert len(tokenizer.encode(tag, add_special_tokens=False)) == 1
    completion = "<think>the disk is full</think><answer>abnormal</answer>"
    ids = tokenizer.encode(completion + EOS, add_special_tokens=False)
    assert tokenizer.decode(ids, skip_special_tokens=True) == completion


def test_eos_is_im_end_and_padding_is_pad(tokenizer, model):
    eos, pad = tokenizer.convert_tokens_to_ids(EOS), tokenizer.convert_tokens_to_ids(PAD)
    assert tokenizer.eos_token == EOS and tokenizer.eos_token_id == eos
    assert tokenizer.pad_token == PAD and tokenizer.pad_token_id == pad
    assert eos != pad
    assert model.generation_config.eos_token_id == eos
    assert model.generation_config.pad_token_id == pad
    assert model.config.eos_token_id == eos


def test_chat_template_is_prefix_consistent(tokenizer):
    for messages in _ad_messages():
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        completion = "<think>no error line</think><answer>normal</answer>"
        full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": completion}],
                                             tokenize=False)
        assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
        assert full.startswith(prompt)
        assert full[len(prompt):] == completion + "<|im_end|>\n"
        # ... and in token ids too (what SFT on prompt-completion data relies on).
        prompt_ids = tokenizer(prompt, add_special_tokens=False).input_ids
        full_ids = tokenizer(full, add_special_tokens=False).input_ids
        assert full_ids[:len(prompt_ids)] == prompt_ids


# --------------------------------------------------------------------------------------------
# Determinism, refusal, validation


def test_same_seed_same_files_in_another_process_other_seed_other_weights(tiny, tmp_path):
    script = ("import sys; from rlog_env.training.tiny import init_tiny; "
              "init_tiny(sys.argv[1], seed=int(sys.argv[2]))")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "again"), "0"], check=True,
                   capture_output=True, timeout=300)
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "config.json"):
        assert _sha256(tmp_path / "again" / name) == _sha256(tiny / name), name

    state = torch.random.get_rng_state()
    other = init_tiny(tmp_path / "other", seed=1)
    assert torch.equal(torch.random.get_rng_state(), state), "the global RNG state was changed"
    assert _sha256(other / "model.safetensors") != _sha256(tiny / "model.safetensors")
    assert _sha256(other / "tokenizer.json") == _sha256(tiny / "tokenizer.json")


def test_refuses_a_non_empty_directory_unless_overwrite(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="non-empty"):
        init_tiny(target, vocab_size=512, hidden_size=32, num_layers=1, corpus_episodes=2)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    init_tiny(target, vocab_size=512, hidden_size=32, num_layers=1, corpus_episodes=2, overwrite=True)
    assert not (target / "keep.txt").exists() and (target / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]


@pytest.mark.parametrize("arguments, message", [
    ({"vocab_size": 100}, "vocab_size"),
    ({"hidden_size": 250, "num_heads": 4}, "multiple of 2 \\* num_heads"),
    ({"num_layers": 0}, "num_layers"),
    ({"seed": -1}, "seed"),
    ({"corpus_episodes": 1.5}, "corpus_episodes"),
])
def test_bad_sizes_raise_value_errors(arguments, message):
    with pytest.raises(ValueError, match=f"expects .*{message}|{message}.*got"):
        TinyModelConfig(**arguments)


# --------------------------------------------------------------------------------------------
# In use


def test_transformers_agent_acts_on_real_observations(tiny):
    from rlog_env.agents.transformers_agent import TransformersAgent

    env = gym.make("RLog/AnomalyDetection-v0")
    observations = [Observation.from_reset(*env.reset(seed=seed)) for seed in range(2)]
    agent = TransformersAgent(str(tiny), max_new_tokens=8)
    answers = agent.act(observations)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    assert all(1 <= u["completion_tokens"] <= 8 and u["prompt_tokens"] > 0 for u in agent.last_usage_)
    reward = env.step(answers[-1])[1]
    assert isinstance(reward, float)


def test_cli_init_tiny(tmp_path, capsys):
    from rlog_env.cli import main

    out = tmp_path / "cli-model"
    args = ["model", "init-tiny", "--out", str(out), "--seed", "3", "--vocab-size", "512",
            "--hidden-size", "64", "--layers", "1"]
    assert main(args + ["--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["path"] == str(out.absolute()) and info["vocab_size"] == 512 and info["num_layers"] == 1
    assert AutoModelForCausalLM.from_pretrained(out, use_safetensors=True).config.hidden_size == 64
    assert main(args) == 2
    assert "non-empty" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    assert str(out.absolute()) in capsys.readouterr().out
    assert main(["model", "init-tiny", "--out", str(tmp_path / "bad"), "--hidden-size", "30"]) == 2
    assert "expects" in capsys.readouterr().err


def test_report_sft_step_time(model):
    """Not an assertion: the time of one forward+backward on 8 x 512 tokens (printed with -s)."""
    model.train()
    generator = torch.Generator().manual_seed(0)
    batch = torch.randint(4, 4092, (8, 512), generator=generator)
    try:
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            timings.append(time.perf_counter() - started)
            model.zero_grad(set_to_none=True)
    finally:
        model.eval()
    print(f"\ntiny forward+backward 8x512 on {torch.get_num_threads()} threads: "
          f"{min(timings):.2f}s (first {timings[0]:.2f}s), loss {loss.item():.2f}")
    assert torch.isfinite(loss)


def test_corpus_tasks_are_the_tasks_the_simulator_serves():
    from rlog_env.datasets import SOURCES
    from rlog_env.tasks import TASKS
    from rlog_env.training.tiny import CORPUS_SOURCE, corpus_tasks

    assert corpus_tasks() == tuple(t for t in TASKS if SOURCES[CORPUS_SOURCE].serves(t))


def test_chat_template_is_qwen2_5_as_trl_ships_it_and_renders_tool_calls(tokenizer):
    """TRL parses tool calls only for chat templates it recognises: the text must be exactly its
    Qwen2.5 template; tool calls and results render in the Hermes convention the environments
    read, and decode back with special tokens skipped."""
    chat_template_utils = pytest.importorskip("trl.chat_template_utils")
    assert tokenizer.chat_template == CHAT_TEMPLATE == chat_template_utils.qwen2_5_chat_template
    tools = [{"type": "function", "function": {"name": "count", "description": "Count lines.",
                                                "parameters": {"type": "object", "properties": {}}}}]
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                {"role": "assistant", "content": "",
                 "tool_calls": [{"type": "function", "function": {"name": "count", "arguments": {"by": "minute"}}}]},
                {"role": "tool", "name": "count", "content": "3 lines"}]
    text = tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True, tokenize=False)
    assert '<tool_call>\n{"name": "count", "arguments": {"by": "minute"}}\n</tool_call><|im_end|>' in text
    assert "<tool_response>\n3 lines\n</tool_response>" in text and "You are Qwen" not in text
    turn = '<tool_call>\n{"name": "count", "arguments": {}}\n</tool_call>'
    ids = tokenizer.encode(turn + EOS, add_special_tokens=False)
    assert tokenizer.decode(ids, skip_special_tokens=True) == turn
