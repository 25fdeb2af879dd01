"""``rlog train sft`` and ``rlog train grpo``: thin layers over TRL's SFTTrainer and GRPOTrainer.

Each call reads a :class:`~rlog_env.training.config.TrainConfig`, builds the data (the exports of
:mod:`rlog_env.training.export`), loads the model through safetensors, runs the TRL trainer with
the options the config resolves (every TRL option reachable through ``config.trl``), and saves
the final model to ``output_dir/final``: ``model.safetensors``, the config, the tokenizer and a
``training.json`` (the config, the log history, the seconds spent). LoRA adapters are merged
before saving, so the final directory loads straight into
:class:`rlog_env.agents.transformers_agent.TransformersAgent` (``transformers:DIR``).

GRPO's reward functions are the task's own (:mod:`rlog_env.tasks.trl_rewards`): format and
answer apart, so TRL logs each; they read each row's task, so one run may mix tasks. The time
they take is measured and logged beside TRL's step time (``reward_seconds``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from rlog_env.datasets import load_source
from rlog_env.tasks import trl_reward_functions
from rlog_env.training.config import TrainConfig, resolve_device, trl_config

FINAL = "final"
BASE = "base"
# GRPO prompts from an endless source start here, apart from the samples SFT was built from.
GRPO_FIRST_INDEX = 1_000_000


def training_samples(config: TrainConfig, first_index: int = 0) -> list:
    """``config.episodes`` training samples of each task from ``config.source``'s train split."""
    samples = []
    for task in config.tasks:
        options = {"difficulty": config.difficulty} if config.difficulty and config.source == "sim" else {}
        source = load_source(config.source, task, split="train", data_dir=config.data_dir,
                             domains=config.domains, **options)
        start = first_index if not source.finite else 0
        stop = min(start + config.episodes, len(source))
        samples.extend(source[i] for i in range(start, stop))
    return samples


def resolve_model(config: TrainConfig) -> str:
    """The directory (or hub id) of ``config.model``; ``"tiny"`` is built under ``output_dir/base``."""
    model = config.model
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser())
    if model == "tiny":
        from rlog_env.training.tiny import init_tiny
        base = Path(config.output_dir) / BASE
        if not (base / "model.safetensors").is_file():
            init_tiny(base, seed=config.seed, overwrite=True)
        return str(base)
    from rlog_env.models import KNOWN_MODELS, get_model
    if model in KNOWN_MODELS:
        return str(get_model(model))
    return model  # a hub id: transformers resolves it (needs the network or the HF cache)


def load_model(path: str, device: str):
    """The model (float32 on CPU, bf16 on CUDA) and its tokenizer, through safetensors."""
    from rlog_env.models import import_llm
    torch, transformers = import_llm("training")
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    model = transformers.AutoModelForCausalLM.from_pretrained(path, use_safetensors=True, dtype=dtype)
    return model, tokenizer


def _last_checkpoint(output_dir: str) -> str | None:
    checkpoints = sorted(Path(output_dir).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    complete = [p for p in checkpoints if (p / "trainer_state.json").is_file()]
    return str(complete[-1]) if complete else None


def save_final(trainer, tokenizer, config: TrainConfig, kind: str, seconds: float, extra=None) -> Path:
    """Save the trained model (LoRA merged) as safetensors into ``output_dir/final``, atomically."""
    final = Path(config.output_dir) / FINAL
    tmp = final.with_name(f".{FINAL}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model = trainer.model
    if hasattr(model, "merge_and_unload"):  # a peft model: fold the adapters into the weights
        model = model.merge_and_unload()
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    record = {"kind": kind, "config": config.as_dict(), "seconds": round(seconds, 2),
              "log_history": trainer.state.log_history, **(extra or {})}
    (tmp / "training.json").write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def _run(trainer, config: TrainConfig) -> float:
    resume = _last_checkpoint(config.output_dir) if config.resume else None
    began = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    return time.perf_counter() - began


def train_sft(config: TrainConfig) -> Path:
    """Supervised fine-tuning: X→(R,Y) (``target="reasoning"``, the cold start) or X→Y
    (``target="answer"``, the baseline). Returns the final checkpoint directory."""
    import trl

    from rlog_env.training.export import read_trajectories, sft_dataset
    device = resolve_device(config.device)
    if config.data:
        trajectories = [t for t in read_trajectories(config.data) if t.task in config.tasks]
    else:
        from rlog_env.datasets.reasoning import build_trajectories
        trajectories = build_trajectories(training_samples(config), seed=config.seed)
    dataset = sft_dataset(trajectories, config.target, config.reasoning).shuffle(seed=config.seed)
    model, tokenizer = load_model(resolve_model(config), device)
    trainer = trl.SFTTrainer(model=model, args=trl_config(config, "sft", device), train_dataset=dataset,
                             processing_class=tokenizer,
                             peft_config=config.lora.peft_config() if config.lora else None)
    seconds = _run(trainer, config)
    return save_final(trainer, tokenizer, config, "sft", seconds, {"examples": len(dataset)})


class _TimedReward:
    """A reward function that adds the seconds it takes to a shared clock (picklable)."""

    def __init__(self, function, clock: dict[str, float]):
        self.function, self.clock = function, clock
        self.__name__ = function.__name__

    def __call__(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.clock["reward_seconds"] += time.perf_counter() - began


def _reward_clock_callback(clock: dict[str, float]):
    import transformers

    class RewardClock(transformers.TrainerCallback):
        """Logs the seconds the reward functions took since the last log, beside TRL's."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            seconds = round(clock["reward_seconds"], 4)
            clock["reward_seconds"] = 0.0
            if logs is not None:
                logs["reward_seconds"] = seconds  # what the printers show
            if state.log_history:
                state.log_history[-1]["reward_seconds"] = seconds  # what training.json keeps

    return RewardClock()


def train_grpo(config: TrainConfig) -> Path:
    """GRPO on the joint reward (format + answer, the task's own functions) over prompts from
    ``config.source``'s train split. Returns the final checkpoint directory."""
    import trl

    from rlog_env.training.export import grpo_dataset
    device = resolve_device(config.device)
    dataset = grpo_dataset(training_samples(config, GRPO_FIRST_INDEX), config.reasoning).shuffle(seed=config.seed)
    model, tokenizer = load_model(resolve_model(config), device)
    clock = {"reward_seconds": 0.0}
    rewards = [_TimedReward(f, clock) for f in trl_reward_functions(None, config.reasoning, config.reward)]
    trainer = trl.GRPOTrainer(model=model, reward_funcs=rewards, args=trl_config(config, "grpo", device),
                              train_dataset=dataset, processing_class=tokenizer,
                              callbacks=[_reward_clock_callback(clock)],
                              peft_config=config.lora.peft_config() if config.lora else None)
    seconds = _run(trainer, config)
    return save_final(trainer, tokenizer, config, "grpo", seconds, {"prompts": len(dataset)})


def train(kind: str, config: TrainConfig) -> Path:
    """``train_sft`` or ``train_grpo`` by ``kind``."""
    if kind == "sft":
        return train_sft(config)
    if kind == "grpo":
        return train_grpo(config)
    raise ValueError(f"kind expects 'sft' or 'grpo', got {kind!r}")


def final_metrics(checkpoint: str | os.PathLike) -> dict[str, Any]:
    """The ``training.json`` saved beside a final checkpoint."""
    return json.loads((Path(checkpoint) / "training.json").read_text(encoding="utf-8"))


__all__ = ["FINAL", "GRPO_FIRST_INDEX", "load_model", "resolve_model", "save_final", "train", "train_grpo",
           "train_sft", "training_samples"]
