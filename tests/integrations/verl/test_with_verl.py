"""VeRL itself, on CPU and without Ray: its dataset class reads the exported parquet, its reward
loading finds ``compute_score`` and its naive reward managers turn reference, wrong and garbage
responses into exactly the environment's rewards; the example config composes with VeRL's.

Runs in VeRL's venv (``.ci/verl``: ``pip install -e '.[verl,test]'`` over the CPU build of
torch); skipped where verl is not installed. The tokenizer is rlog_env's tiny one, built offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

verl = pytest.importorskip("verl")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from integrations.verl_cases import completions, env_for, env_reward, samples_of  # noqa: E402
from omegaconf import OmegaConf, open_dict  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.trainer.ppo.reward import get_custom_reward_fn, load_reward_manager  # noqa: E402
from verl.trainer.ppo.utils import need_critic, need_reference_policy  # noqa: E402
from verl.utils.config import validate_config  # noqa: E402
from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn  # noqa: E402

import rlog_env.integrations.verl as rlog_verl  # noqa: E402
from rlog_env.tasks import FORMATS, SCHEMES, TASKS  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "verl"
REWARD_PATHS = ("pkg://rlog_env.integrations.verl", rlog_verl.__file__)  # the example's, and the file


def example_config(tokenizer_dir, train: str = "train.parquet", **overrides):
    """The example's config, composed with VeRL's ``ppo_trainer`` as ``main_ppo`` composes it."""
    args = [f"data.train_files={train}", f"data.val_files={train}",
            f"actor_rollout_ref.model.path={tokenizer_dir}"] + [f"{k}={v}" for k, v in overrides.items()]
    with initialize_config_dir(config_dir=str(EXAMPLE), version_base=None):
        return compose("rlog_grpo", overrides=args)


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    """Every task x format x scheme, two simulator samples each, in one parquet file."""
    rows = []
    for task in TASKS:
        for reasoning in FORMATS:
            for reward in SCHEMES:
                rows += rlog_verl.rows(samples_of(env_for(task, reasoning, reward)), reasoning, reward)
    return rows, rlog_verl.write_parquet(rows, tmp_path_factory.mktemp("data") / "train.parquet")


# -- the example config --------------------------------------------------------------------------
def test_example_config_composes_and_passes_verls_checks(tokenizer_dir):
    config = example_config(tokenizer_dir)
    assert config.algorithm.adv_estimator == "grpo"
    assert config.actor_rollout_ref.rollout.name == "vllm"
    assert config.reward.custom_reward_function.path == "pkg://rlog_env.integrations.verl"
    assert config.reward.custom_reward_function.name == "compute_score"
    assert config.data.reward_fn_key == "data_source"
    OmegaConf.resolve(config)  # every interpolation of VeRL's defaults resolves
    # What main_ppo checks before it starts Ray.
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    assert not need_critic(config) and need_reference_policy(config)  # GRPO: KL to the cold start


def test_example_run_script_names_the_config():
    script = (EXAMPLE / "run_rlog_grpo.sh").read_text()
    assert "verl.trainer.main_ppo" in script and "--config-name=rlog_grpo" in script
    assert "--kind verl" in script


# -- VeRL's dataset ------------------------------------------------------------------------------
def test_rlhf_dataset_reads_every_task(parquet, tokenizer, tokenizer_dir, tmp_path):
    rows, path = parquet
    config = example_config(tokenizer_dir, str(path))
    with open_dict(config):
        config.data.max_prompt_length = 1 << 20  # the tiny tokenizer's prompts: keep all, count them
        config.data.cache_dir = str(tmp_path / "cache")
    dataset = RLHFDataset(data_files=str(path), tokenizer=tokenizer, config=config.data)
    assert len(dataset) == len(rows)
    items = [dataset[i] for i in range(len(dataset))]
    assert {item["data_source"] for item in items} == {cls.env_id for cls in TASKS.values()}
    for item, written in zip(items, rows):
        assert item["raw_prompt"] == written["prompt"]
        assert item["reward_model"] == written["reward_model"]
        assert item["index"] == written["extra_info"]["index"]
        assert {k: item["extra_info"][k] for k in written["extra_info"]} == written["extra_info"]
    batch = DataProto.from_single_dict(collate_fn(items[:4]))  # as VeRL's dataloader batches them
    assert list(batch.non_tensor_batch["data_source"]) == [r["data_source"] for r in rows[:4]]


# -- VeRL's reward loading and reward managers -----------------------------------------------------
def rollout_batch(dataset_items, tokenizer, cases) -> DataProto:
    """A DataProto as VeRL's rollout leaves it: left-padded prompts, right-padded responses ending
    in the end-of-sequence token, the attention mask over both; one row per (item, completion)."""
    prompts, responses, non_tensor = [], [], {"data_source": [], "reward_model": [], "extra_info": [], "uid": []}
    for item, completion in cases:
        prompts.append(tokenizer.apply_chat_template(item["raw_prompt"], add_generation_prompt=True, tokenize=True,
                                                     return_dict=False))
        ids = tokenizer.encode(completion, add_special_tokens=False)
        assert tokenizer.decode(ids, skip_special_tokens=True) == completion  # the text comes back whole
        responses.append(ids + [tokenizer.eos_token_id])
        non_tensor["data_source"].append(item["data_source"])
        non_tensor["reward_model"].append(item["reward_model"])
        non_tensor["extra_info"].append(dict(item["extra_info"]))
        non_tensor["uid"].append(str(item["index"]))
    p_len, r_len, pad = max(map(len, prompts)), max(map(len, responses)), tokenizer.pad_token_id
    prompt_ids = torch.tensor([[pad] * (p_len - len(p)) + p for p in prompts])
    response_ids = torch.tensor([r + [pad] * (r_len - len(r)) for r in responses])
    mask = torch.tensor([[0] * (p_len - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (r_len - len(r))
                         for p, r in zip(prompts, responses)])
    return DataProto.from_dict(
        tensors={"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask,
                 "input_ids": torch.cat([prompt_ids, response_ids], dim=1),
                 "position_ids": torch.clamp(torch.cumsum(mask, dim=1) - 1, min=0)},
        non_tensors={k: np.array(v, dtype=object) for k, v in non_tensor.items()})


@pytest.fixture(scope="module")
def scored_cases(parquet, tokenizer, tokenizer_dir, tmp_path_factory):
    """(dataset item, completion, the environment's reward) for every task x format x scheme:
    the first sample of each, every completion of verl_cases."""
    rows, path = parquet
    config = example_config(tokenizer_dir, str(path))
    with open_dict(config):
        config.data.max_prompt_length = 1 << 20
        config.data.cache_dir = str(tmp_path_factory.mktemp("cache"))
    dataset = RLHFDataset(data_files=str(path), tokenizer=tokenizer, config=config.data)
    cases = []
    for i in range(len(dataset)):
        item = dataset[i]
        extra = item["extra_info"]
        if extra["index"] != 0:
            continue
        env = env_for(extra["task"], extra["reasoning"], extra["reward"])
        sample = samples_of(env, 1)[0]
        for _, completion in completions(env, sample):
            cases.append((item, completion, env_reward(env, 0, completion)))
    return cases


@pytest.mark.parametrize("reward_path", REWARD_PATHS, ids=["pkg", "file"])
def test_reward_loop_naive_manager_gives_the_environments_rewards(scored_cases, tokenizer, tokenizer_dir,
                                                                   reward_path):
    """VeRL 0.9's trainer scores rollouts in reward-loop workers: each loads the reward with
    ``load_reward_manager`` and runs ``NaiveRewardManager.run_single`` per response; the manager
    class assembles the token-level scores. Driven here without Ray (the worker class itself)."""
    from verl.experimental.reward_loop import RewardLoopWorker, migrate_legacy_reward_impl

    config = migrate_legacy_reward_impl(example_config(tokenizer_dir, **{
        "reward.custom_reward_function.path": reward_path}))
    worker = RewardLoopWorker(config)
    manager = worker.reward_manager
    assert type(manager).__name__ == "NaiveRewardManager"
    data = rollout_batch([c[0] for c in scored_cases], tokenizer, [(c[0], c[1]) for c in scored_cases])
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    token_scores = type(manager).assemble_rm_scores(data, [o["reward_score"] for o in outputs])
    # How RewardLoopManager gathers the extra keys: the first row's, read on every row.
    keys = list(outputs[0]["reward_extra_info"])
    extra = {k: np.array([o["reward_extra_info"][k] for o in outputs]) for k in keys}
    expected = [c[2] for c in scored_cases]
    assert [o["reward_score"] for o in outputs] == [e["score"] for e in expected]
    assert token_scores.sum(dim=-1).tolist() == torch.tensor([e["score"] for e in expected]).tolist()
    assert ((token_scores != 0).sum(dim=-1) <= 1).all()  # one score, on the last response token
    for key in keys:
        assert list(extra[key]) == [e[key] for e in expected], key
    assert {e["score"] for e in expected} >= {-2.0, 1.1}  # garbage and references among them
    combos = {tuple(c[0]["extra_info"][k] for k in ("task", "reasoning", "reward")) for c in scored_cases}
    assert len(combos) == len(TASKS) * len(FORMATS) * len(SCHEMES)

    import ray

    assert not ray.is_initialized()  # all of it in this process


def test_legacy_naive_manager_gives_the_environments_rewards(scored_cases, tokenizer, tokenizer_dir):
    """The batch ``NaiveRewardManager`` (verl.workers.reward_manager), with the reward VeRL's own
    ``get_custom_reward_fn`` loads from the file path."""
    from verl.workers.reward_manager import NaiveRewardManager

    config = example_config(tokenizer_dir, **{"reward.custom_reward_function.path": rlog_verl.__file__})
    compute_score = get_custom_reward_fn(config)
    manager = NaiveRewardManager(tokenizer=tokenizer, num_examine=0, compute_score=compute_score)
    data = rollout_batch([c[0] for c in scored_cases], tokenizer, [(c[0], c[1]) for c in scored_cases])
    result = manager(data, return_dict=True)
    expected = [c[2] for c in scored_cases]
    sums = result["reward_tensor"].sum(dim=-1)
    assert sums.tolist() == torch.tensor([e["score"] for e in expected]).tolist()
    assert result["reward_extra_info"]["score"] == [e["score"] for e in expected]
    assert result["reward_extra_info"]["metrics"] == [e["metrics"] for e in expected]
    assert all(json.loads(m) is not None for m in result["reward_extra_info"]["metrics"])


def test_load_reward_manager_refuses_nothing_it_should_load(tokenizer, tokenizer_dir):
    """VeRL's own loader, from the example config: the naive manager over compute_score."""
    config = example_config(tokenizer_dir)
    manager = load_reward_manager(config, tokenizer)
    assert manager.compute_score.func.__name__ == "_call_with_kwargs"  # VeRL's kwargs wrapper
    assert manager.compute_score.args[0] is rlog_verl.compute_score  # the module itself (pkg://)
