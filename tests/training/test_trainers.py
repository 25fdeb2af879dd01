"""`rlog train sft|grpo` for real: TRL's trainers on a tiny model, a few steps each, and the
checkpoints they save loaded by the transformers agent."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("trl")

import rlog_env  # noqa: E402,F401
from rlog_env.agents.base import Observation  # noqa: E402
from rlog_env.agents.transformers_agent import TransformersAgent  # noqa: E402
from rlog_env.cli import main  # noqa: E402
from rlog_env.training.config import TrainConfig  # noqa: E402
from rlog_env.training.tiny import init_tiny  # noqa: E402
from rlog_env.training.trainers import final_metrics, train_grpo, train_sft  # noqa: E402

FAST = {"logging_steps": 1, "save_strategy": "no", "per_device_train_batch_size": 2}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return init_tiny(tmp_path_factory.mktemp("tiny") / "base", hidden_size=32, num_layers=1, num_heads=1,
                     corpus_episodes=20)


@pytest.fixture(scope="module")
def cold_start(base, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sft")
    return train_sft(TrainConfig(model=str(base), output_dir=str(out), episodes=2, difficulty="easy",
                                 device="cpu", trl={**FAST, "max_steps": 2}))


def _observation(env_id: str, reasoning: str = "think-first") -> Observation:
    env = gym.make(env_id, reasoning=reasoning, difficulty="easy")
    return Observation.from_reset(*env.reset(seed=0))


def test_sft_saves_a_safetensors_checkpoint_the_agent_loads(cold_start):
    names = {p.name for p in cold_start.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "training.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    record = final_metrics(cold_start)
    assert record["kind"] == "sft" and record["examples"] == 10 and record["config"]["target"] == "reasoning"
    assert any("loss" in entry for entry in record["log_history"])
    agent = TransformersAgent(cold_start, max_new_tokens=4, device="cpu")
    answers = agent.act([_observation("RLog/AnomalyDetection-v0")])
    assert len(answers) == 1 and isinstance(answers[0], str)


def test_sft_answer_target_is_the_x_to_y_baseline(base, tmp_path):
    path = train_sft(TrainConfig(model=str(base), output_dir=str(tmp_path), episodes=1, target="answer",
                                 tasks=("anomaly_detection",), difficulty="easy", device="cpu",
                                 trl={**FAST, "max_steps": 1}))
    assert final_metrics(path)["config"]["target"] == "answer"


def test_grpo_logs_format_and_answer_apart_and_times_the_rewards(cold_start, tmp_path):
    path = train_grpo(TrainConfig(model=str(cold_start), output_dir=str(tmp_path), episodes=1, difficulty="easy",
                                  device="cpu", trl={**FAST, "max_steps": 1, "num_generations": 2,
                                                     "max_completion_length": 8}))
    record = final_metrics(path)
    step = next(e for e in record["log_history"] if "rewards/format/mean" in e)
    assert "rewards/answer/mean" in step and step["reward_seconds"] >= 0
    assert step["reward"] == pytest.approx(step["rewards/format/mean"] + step["rewards/answer/mean"])
    assert (path / "model.safetensors").is_file()
    TransformersAgent(path, max_new_tokens=2, device="cpu").act([_observation("RLog/LogParsing-v0")])


def test_lora_adapters_are_merged_into_a_plain_checkpoint(base, tmp_path):
    pytest.importorskip("peft")
    path = train_sft(TrainConfig(model=str(base), output_dir=str(tmp_path), episodes=1, difficulty="easy",
                                 device="cpu", lora={"r": 2, "target_modules": ["q_proj", "v_proj"]},
                                 trl={**FAST, "max_steps": 1}))
    assert not (path / "adapter_config.json").exists()
    from safetensors import safe_open
    with safe_open(path / "model.safetensors", "pt") as weights:
        assert not any("lora" in key for key in weights.keys())
    TransformersAgent(path, max_new_tokens=2, device="cpu").act([_observation("RLog/AnomalyDetection-v0")])


def test_resume_continues_from_the_last_complete_checkpoint(base, tmp_path):
    common = dict(model=str(base), output_dir=str(tmp_path), episodes=2, difficulty="easy", device="cpu",
                  tasks=("anomaly_detection",))
    trl = {**FAST, "save_strategy": "steps", "save_steps": 1, "per_device_train_batch_size": 1}
    train_sft(TrainConfig(**common, trl={**trl, "max_steps": 2}))
    state = tmp_path / "checkpoint-2" / "trainer_state.json"
    # mark the checkpoint: a run resumed from it carries the mark in its history
    record = json.loads(state.read_text())
    record["log_history"].append({"resumed_from": "checkpoint-2", "step": 2})
    state.write_text(json.dumps(record))
    (tmp_path / "checkpoint-7").mkdir()  # an incomplete checkpoint (killed mid-save) is not resumed from
    path = train_sft(TrainConfig(**common, resume=True, trl={**trl, "max_steps": 3}))
    history = final_metrics(path)["log_history"]
    assert {"resumed_from": "checkpoint-2", "step": 2} in history
    assert [e["step"] for e in history if "loss" in e] == [1, 2, 3]


def test_cli_train_sft_and_grpo(base, tmp_path, capsys):
    sft_out, grpo_out = tmp_path / "sft", tmp_path / "grpo"
    code = main(["train", "sft", "--model", str(base), "--output-dir", str(sft_out), "--episodes", "1",
                 "--tasks", "log_parsing", "--difficulty", "easy", "--device", "cpu",
                 "--trl", "max_steps=1", "save_strategy=no", "per_device_train_batch_size=1"])
    assert code == 0 and "transformers:" in capsys.readouterr().out
    config = tmp_path / "grpo.toml"
    config.write_text(f'model = "{sft_out / "final"}"\noutput_dir = "{grpo_out}"\nepisodes = 1\n'
                      'tasks = ["anomaly_detection"]\ndifficulty = "easy"\ndevice = "cpu"\n'
                      '[trl]\nmax_steps = 1\nnum_generations = 2\nmax_completion_length = 4\n'
                      'per_device_train_batch_size = 2\nsave_strategy = "no"\n', encoding="utf-8")
    assert main(["train", "grpo", "--config", str(config)]) == 0
    assert json.loads((grpo_out / "final" / "training.json").read_text())["kind"] == "grpo"


def test_cli_rejects_a_misspelt_trl_option(base, tmp_path, capsys):
    code = main(["train", "sft", "--model", str(base), "--output-dir", str(tmp_path), "--trl", "max_step=1"])
    assert code == 2 and "max_steps" in capsys.readouterr().err
