"""Multi-turn GRPO in TRL on an investigation, end to end on CPU: a tiny model (Qwen2.5's chat
template) is cold-started on the scripted investigator's transcripts (``rlog train sft --envs``),
then trained with ``GRPOTrainer(environment_factory=…)`` for two steps (``rlog train grpo
--envs``). The rollouts call tools and read their outputs; every logged return equals the
Gymnasium environment's return for the same transcript, replayed here turn by turn with the
environment alone; TRL's logged mean reward is their mean; a checkpoint is saved whole.

About 2.5 minutes on two cores (the cold start is most of it)."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

pytest.importorskip("trl")

from rlog_env.training.config import TrainConfig  # noqa: E402
from rlog_env.training.tiny import init_tiny  # noqa: E402
from rlog_env.training.trainers import (ROLLOUTS, final_metrics, investigation_kwargs, is_complete,  # noqa: E402
                                        train_grpo, train_sft)

ENV = "RLog/RootCauseInvestigation-v0"
ROLLOUTS_PER_STEP, GENERATIONS = 4, 4  # one prompt, four rollouts of it, per step


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("multiturn")
    base = init_tiny(root / "base", hidden_size=128, num_layers=2, num_heads=2)
    # The cold start: 16 transcripts, cut after the first turns (max_length) so that 60 steps
    # teach the tool-call syntax; the rate is high for a model this small.
    cold = train_sft(TrainConfig(model=str(base), output_dir=str(root / "sft"), envs=(ENV,), episodes=16,
                                 difficulty="easy", device="cpu",
                                 trl={"max_steps": 60, "per_device_train_batch_size": 4, "learning_rate": 6e-3,
                                      "max_length": 2750, "warmup_steps": 5, "save_strategy": "no"}))
    config = TrainConfig(model=str(cold), output_dir=str(root / "grpo"), envs=(ENV,), episodes=8, difficulty="easy",
                         device="cpu", trl={"max_steps": 2, "per_device_train_batch_size": ROLLOUTS_PER_STEP,
                                            "num_generations": GENERATIONS, "temperature": 0.5,
                                            "max_completion_length": 768, "save_steps": 2, "logging_steps": 1})
    final = train_grpo(config)
    rollouts = [json.loads(line) for line in (root / "grpo" / ROLLOUTS).read_text().splitlines()]
    return {"config": config, "final": final, "rollouts": rollouts, "cold": cold}


def test_the_cold_start_learnt_from_transcripts_with_tools(run):
    record = final_metrics(run["cold"])
    assert record["kind"] == "sft" and record["examples"] == 16
    assert record["config"]["envs"] == [ENV]


def test_rollouts_hold_tool_calls_and_tool_outputs(run):
    rollouts = run["rollouts"]
    assert len(rollouts) == 2 * ROLLOUTS_PER_STEP
    with_tools = [r for r in rollouts if r["tool_calls"]]
    assert with_tools, "no rollout called a tool: the cold start did not teach the tool-call syntax"
    for rollout in with_tools:
        roles = [m["role"] for m in rollout["completion"]]
        assert "tool" in roles and roles[0] == "assistant"
        outputs = [m["content"] for m in rollout["completion"] if m["role"] == "tool"]
        assert all(isinstance(o, str) and o for o in outputs)


def replay(rollout, kwargs) -> float:
    """The Gymnasium environment's return for a logged rollout: each assistant message stepped as
    the text the model wrote (its content, then its calls in the Hermes convention); a rollout
    that stops on unanswered calls, or before the episode ends, is truncated."""
    env = gym.make(rollout["env_id"], **kwargs)
    env.reset(options={"index": rollout["index"]})
    messages = rollout["completion"]
    total, turn = 0.0, 0
    for n, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        turn += 1
        text = message.get("content") or ""
        for tool_call in message.get("tool_calls") or ():
            function = tool_call["function"]
            text += "<tool_call>" + json.dumps({"name": function["name"], "arguments": function["arguments"]}) + "</tool_call>"
        answered = any(m["role"] == "tool" for m in messages[n + 1:])
        if message.get("tool_calls") and not answered and turn < env.unwrapped.max_steps:
            break  # TRL never ran these calls: the rollout was cut short before them
        _, reward, terminated, truncated, _ = env.step(text)
        total += reward
        if terminated or truncated:
            return total
    return total + env.unwrapped.task.truncation_reward()


def test_logged_rewards_equal_the_gymnasium_returns_of_the_same_transcripts(run):
    kwargs = investigation_kwargs(run["config"])
    for rollout in run["rollouts"]:
        assert rollout["return"] == replay(rollout, kwargs), rollout["completion"]
    # TRL's own log: each step's mean reward is the mean of that step's returns.
    history = [e for e in final_metrics(run["final"])["log_history"] if "rewards/investigation_return/mean" in e]
    assert len(history) == 2
    for step, entry in enumerate(history):
        returns = [r["return"] for r in run["rollouts"][step * ROLLOUTS_PER_STEP:(step + 1) * ROLLOUTS_PER_STEP]]
        assert entry["rewards/investigation_return/mean"] == pytest.approx(sum(returns) / len(returns), abs=1e-6)


def test_a_checkpoint_saves_whole_and_the_final_model_loads(run):
    transformers = pytest.importorskip("transformers")
    checkpoint = run["final"].parent / "checkpoint-2"
    assert is_complete(checkpoint)
    model = transformers.AutoModelForCausalLM.from_pretrained(run["final"], use_safetensors=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(run["final"])
    assert model.config.num_hidden_layers == 2 and tokenizer.encode("<tool_call>", add_special_tokens=False)
