"""VeRL's multi-turn rollout on the investigation environments, on CPU, without Ray or an LLM
server: VeRL's dataset reads the exported investigation rows, VeRL's agent-loop registry and
Hydra instantiate the loop each row names (as ``AgentLoopWorker`` does), and a scripted policy
stands in for the LLM server — it answers each ``generate`` with the next turn of the scripted
investigator's transcript of that incident, as token ids. VeRL's ``ToolAgentLoop`` machinery
parses the calls and runs the tools; the loop's ``reward_score`` is exactly the return the
Gymnasium environment gave the same transcript. The multi-turn example config composes with
VeRL's and passes its checks.

Runs in VeRL's venv (``.ci/verl``); skipped where verl is not installed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

verl = pytest.importorskip("verl")

import hydra  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from verl.experimental.agent_loop.agent_loop import DictConfigWrap, ToolListWrap, _agent_loop_registry  # noqa: E402
from verl.trainer.ppo.utils import need_critic, need_reference_policy  # noqa: E402
from verl.utils.config import validate_config  # noqa: E402
from verl.utils.dataset.rl_dataset import RLHFDataset  # noqa: E402
from verl.utils.import_utils import resolve_config_path  # noqa: E402
from verl.workers.rollout.replica import TokenOutput  # noqa: E402

import rlog_env.integrations.verl as rlog_verl  # noqa: E402
from rlog_env.datasets.sim.tools import TOOL_SCHEMAS  # noqa: E402
from rlog_env.envs.investigation_env import INVESTIGATION_ENVIRONMENTS  # noqa: E402
from rlog_env.integrations import verl_multiturn  # noqa: E402
from rlog_env.training.transcripts import play_transcripts, scripted_investigator  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "verl"
ENV_KWARGS = {"difficulty": "easy"}
INDEX = 3  # one incident per environment


def multiturn_config(tokenizer_dir, train: str = "train.parquet", **overrides):
    """The multi-turn example's config, composed with VeRL's ``ppo_trainer`` as ``main_ppo`` does."""
    args = [f"data.train_files={train}", f"data.val_files={train}", f"actor_rollout_ref.model.path={tokenizer_dir}",
            f"actor_rollout_ref.rollout.agent.agent_loop_config_path={EXAMPLE / 'rlog_agent_loops.yaml'}"]
    args += [f"{k}={v}" for k, v in overrides.items()]
    with initialize_config_dir(config_dir=str(EXAMPLE), version_base=None):
        return compose("rlog_multiturn_grpo", overrides=args)


@pytest.fixture(scope="module")
def transcripts():
    """The scripted investigator's transcript of one incident per investigation environment,
    played in the Gymnasium environment alone: its turns and its return."""
    scripted = scripted_investigator(**ENV_KWARGS)
    out = {}
    for env_id in INVESTIGATION_ENVIRONMENTS:
        (record,) = play_transcripts(scripted, env_id, [INDEX], **ENV_KWARGS)
        assert record["terminated"], record["truncated_by"]
        out[env_id] = record
    return out


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    rows = [row for env_id in INVESTIGATION_ENVIRONMENTS
            for row in rlog_verl.investigation_rows(env_id, 1, INDEX, **ENV_KWARGS)]
    return rows, rlog_verl.write_parquet(rows, tmp_path_factory.mktemp("data") / "train.parquet")


class ScriptedServer:
    """VeRL's LLM server client, scripted: each ``generate`` returns the next turn of the script
    as token ids, ending in the end-of-turn token as vLLM returns it. Records the prompts."""

    def __init__(self, tokenizer, turns):
        self.tokenizer, self.turns, self.prompts = tokenizer, list(turns), []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs):
        self.prompts.append(list(prompt_ids))
        text = self.turns.pop(0)
        ids = self.tokenizer.encode(text, add_special_tokens=False) + [self.tokenizer.eos_token_id]
        return TokenOutput(token_ids=ids, stop_reason="completed")


def run_loop(config, tokenizer, item, turns):
    """One rollout of ``item`` (a row as VeRL's dataset gives it) through the agent loop its
    ``agent_name`` names, instantiated as ``AgentLoopWorker._run_agent_loop`` does."""
    for entry in OmegaConf.load(resolve_config_path(config.actor_rollout_ref.rollout.agent.agent_loop_config_path)):
        _agent_loop_registry[entry.name] = entry
    server = ScriptedServer(tokenizer, turns)
    kwargs = {k: v for k, v in item.items() if k != "agent_name"}
    sampling = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "logprobs": False}

    async def rollout():  # the loop binds the running event loop when made, as in VeRL's worker
        loop = hydra.utils.instantiate(config=_agent_loop_registry[item["agent_name"]],
                                       trainer_config=DictConfigWrap(config=config), server_manager=server,
                                       tokenizer=tokenizer, processor=None, hf_model_type=None,
                                       dataset_cls=RLHFDataset, data_config=DictConfigWrap(config.data),
                                       tools=ToolListWrap([]))
        return loop, await loop.run(sampling, **kwargs)

    loop, output = asyncio.run(rollout())
    return loop, server, output


def assistant_turns(record):
    return [m["content"] for m in record["messages"] if m["role"] == "assistant"]


# -- the config ------------------------------------------------------------------------------------
def test_multiturn_config_composes_and_passes_verls_checks(tokenizer_dir):
    config = multiturn_config(tokenizer_dir)
    rollout = config.actor_rollout_ref.rollout
    assert config.algorithm.adv_estimator == "grpo"  # from rlog_grpo.yaml
    assert rollout.multi_turn.enable and rollout.multi_turn.format == "hermes"
    assert rollout.agent.default_agent_loop == rlog_verl.AGENT_NAME
    OmegaConf.resolve(config)
    assert rollout.response_length == config.data.max_response_length
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    # VeRL's rollout config dataclass takes the multi-turn settings.
    from verl.utils.config import omega_conf_to_dataclass

    multi_turn = omega_conf_to_dataclass(rollout.multi_turn)
    assert multi_turn.max_assistant_turns == 12


def test_agent_loop_config_names_the_loop():
    (entry,) = OmegaConf.load(EXAMPLE / "rlog_agent_loops.yaml")
    assert entry.name == rlog_verl.AGENT_NAME
    assert hydra.utils.get_class(entry._target_) is verl_multiturn.InvestigationAgentLoop


# -- the rollouts ----------------------------------------------------------------------------------
def test_dataset_reads_investigation_rows(parquet, tokenizer, tokenizer_dir, tmp_path):
    rows, path = parquet
    config = multiturn_config(tokenizer_dir, str(path), **{"data.max_prompt_length": 1 << 20})
    dataset = RLHFDataset(data_files=str(path), tokenizer=tokenizer, config=config.data)
    assert len(dataset) == len(INVESTIGATION_ENVIRONMENTS)
    for i, written in enumerate(rows):
        item = dataset[i]
        assert item["agent_name"] == rlog_verl.AGENT_NAME and item["raw_prompt"] == written["prompt"]
        assert item["tools_kwargs"] == written["extra_info"]["tools_kwargs"]
        assert set(item["tools_kwargs"]) == {s["function"]["name"] for s in TOOL_SCHEMAS}


@pytest.mark.parametrize("env_id", list(INVESTIGATION_ENVIRONMENTS))
def test_scripted_rollout_scores_the_environments_return(env_id, parquet, transcripts, tokenizer, tokenizer_dir):
    rows, path = parquet
    config = multiturn_config(tokenizer_dir, str(path), **{"data.max_prompt_length": 1 << 20})
    dataset = RLHFDataset(data_files=str(path), tokenizer=tokenizer, config=config.data)
    item = dataset[[r["data_source"] for r in rows].index(env_id)]
    record = transcripts[env_id]
    turns = assistant_turns(record)
    assert len(turns) >= 2  # tool turns, then the answer
    loop, server, output = run_loop(config, tokenizer, item, turns)
    assert not server.turns  # every scripted turn was generated: VeRL ran the tools between them
    assert output.reward_score == record["return"]  # to the bit
    extra = output.extra_fields["reward_extra_info"]
    assert extra["truncated_by"] == "" and extra["tool_calls"] >= 1
    # The tool outputs VeRL fed back are the environment's.
    verl_tools = [m["content"] for m in loop._agent_data.messages if m["role"] == "tool"]
    env_observations = "\n".join(m["content"] for m in record["messages"][2:] if m["role"] != "assistant")
    assert verl_tools and all(text in env_observations for text in verl_tools)
    assert output.num_turns == 1 + len(turns) + (len(turns) - 1)  # prompt, assistant turns, tool turns


def test_a_rollout_cut_at_the_turn_cap_scores_the_environments_truncation(transcripts, tokenizer, tokenizer_dir,
                                                                          tmp_path):
    """With ``max_assistant_turns`` equal to the environment's ``max_steps``, tool calls on the
    last turn are never answered: the environment steps that turn and truncates the episode
    (``truncated_by="max_steps"``), exactly as when the same turns are played in it alone."""
    import gymnasium as gym

    steps, env_id = 3, next(iter(INVESTIGATION_ENVIRONMENTS))
    rows = rlog_verl.investigation_rows(env_id, 1, INDEX, **ENV_KWARGS, max_steps=steps)
    path = rlog_verl.write_parquet(rows, tmp_path / "capped.parquet")
    config = multiturn_config(tokenizer_dir, str(path), **{
        "data.max_prompt_length": 1 << 20, "actor_rollout_ref.rollout.multi_turn.max_assistant_turns": steps})
    item = RLHFDataset(data_files=str(path), tokenizer=tokenizer, config=config.data)[0]
    call = assistant_turns(transcripts[env_id])[0]
    assert "<tool_call>" in call
    env = gym.make(env_id, **ENV_KWARGS, max_steps=steps)
    env.reset(options={"index": INDEX})
    expected, done = 0.0, False
    while not done:
        _, reward, terminated, truncated, info = env.step(call)
        expected, done = expected + reward, terminated or truncated
    assert info["truncated_by"] == "max_steps"
    _, server, output = run_loop(config, tokenizer, item, [call] * (steps + 1))
    assert len(server.turns) == 1  # VeRL stopped generating at its cap
    assert output.reward_score == expected
    assert output.extra_fields["reward_extra_info"]["truncated_by"] == "max_steps"


def test_a_row_without_its_episode_fails_naming_the_fix(parquet, tokenizer, tokenizer_dir):
    rows, path = parquet
    config = multiturn_config(tokenizer_dir, str(path), **{"data.max_prompt_length": 1 << 20})
    dataset = RLHFDataset(data_files=str(path), tokenizer=tokenizer, config=config.data)
    item = {**dataset[0], "tools_kwargs": {}}
    with pytest.raises(ValueError, match="investigation_rows"):
        run_loop(config, tokenizer, item, ["<answer>x</answer>"])
