"""``rlog train sft`` and ``rlog train grpo``: thin layers over TRL's SFTTrainer and GRPOTrainer.

Each call reads a :class:`~rlog_env.training.config.TrainConfig`, builds the data (the exports of
:mod:`rlog_env.training.export`), loads the model through safetensors, runs the TRL trainer with
the options the config resolves (every TRL option reachable through ``config.trl``), and saves
the final model to ``output_dir/final``: ``model.safetensors``, the config, the tokenizer and a
``training.json`` (the config, the log history, the seconds spent). LoRA adapters are merged
before saving, so the final directory loads straight into
:class:`rlog_env.agents.transformers_agent.TransformersAgent` (``transformers:DIR``).

**Interrupted training** resumes (``resume=True``, ``rlog train … --resume``) from the last
*complete* checkpoint. The Trainer writes a checkpoint's files one after another, so a kill
during a save leaves a directory with some of them, or one of them cut short. Once a save has
finished, a callback writes ``rlog_checkpoint.json`` into the checkpoint (the size of each of
its files, written whole and renamed into place); a checkpoint counts as complete only when
that record is there and every file it lists is whole (its recorded size; a JSON file parses). Incomplete checkpoints
newer than the one resumed from are removed first (the Trainer would otherwise count them when
it rotates old checkpoints away). The final model is written beside ``final`` and renamed into
place. The checkpoints are the user's own files in the user's output directory: resuming
loads their optimizer and RNG states the way the Trainer does.

GRPO's reward functions are the task's own (:mod:`rlog_env.tasks.trl_rewards`): format and
answer apart, so TRL logs each; they read each row's task, so one run may mix tasks. The time
they take is measured and logged beside TRL's step time (``reward_seconds``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from rlog_env.agents.models import replace_directory
from rlog_env.datasets import SOURCES, load_source
from rlog_env.tasks import trl_reward_functions
from rlog_env.training.config import TrainConfig, resolve_device, trl_config

FINAL = "final"
BASE = "base"
CHECKPOINT_RECORD = "rlog_checkpoint.json"  # written into a checkpoint once it is saved whole
ROLLOUTS = "rollouts.jsonl"  # multi-turn GRPO: every scored rollout, in output_dir
# GRPO prompts from an endless source start here, apart from the samples SFT was built from.
GRPO_FIRST_INDEX = 1_000_000


def training_samples(config: TrainConfig, first_index: int = 0) -> list:
    """``config.episodes`` training samples of each task from ``config.source``'s train split."""
    takes_difficulty = "difficulty" in SOURCES[config.source].option_names
    options = {"difficulty": config.difficulty} if config.difficulty and takes_difficulty else {}
    samples = []
    for task in config.tasks:
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
    from rlog_env.agents.models import KNOWN_MODELS, get_model
    if model in KNOWN_MODELS:
        return str(get_model(model))
    return model  # a hub id: transformers resolves it (needs the network or the HF cache)


def load_model(path: str, device: str):
    """The model (float32 on CPU, bf16 on CUDA) and its tokenizer, through safetensors only and
    without running code from the model's directory (``trust_remote_code=False``)."""
    from rlog_env.agents.models import import_llm, require_safetensors
    torch, transformers = import_llm("training")
    require_safetensors(path)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    model = transformers.AutoModelForCausalLM.from_pretrained(path, use_safetensors=True, dtype=dtype,
                                                              trust_remote_code=False)
    return model, tokenizer


def _checkpoints(output_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """The ``checkpoint-STEP`` directories of ``output_dir``, by step."""
    found = []
    for path in Path(output_dir).glob("checkpoint-*"):
        step = path.name[len("checkpoint-"):]
        if step.isdigit() and path.is_dir():
            found.append((int(step), path))
    return sorted(found)


def _checkpoint_files(checkpoint: Path) -> dict[str, int]:
    return {p.relative_to(checkpoint).as_posix(): p.stat().st_size for p in sorted(checkpoint.rglob("*"))
            if p.is_file() and p.name != CHECKPOINT_RECORD and not p.name.startswith(f".{CHECKPOINT_RECORD}")}


def mark_complete(checkpoint: str | os.PathLike, step: int) -> None:
    """Record that ``checkpoint`` was saved completely: the size of each of its files."""
    checkpoint = Path(checkpoint)
    tmp = checkpoint / f".{CHECKPOINT_RECORD}.tmp"
    tmp.write_text(json.dumps({"step": step, "files": _checkpoint_files(checkpoint)}, indent=1), encoding="utf-8")
    os.replace(tmp, checkpoint / CHECKPOINT_RECORD)


def _whole(path: Path, size: int) -> bool:
    if path.suffix == ".json":
        # A JSON file cut short never parses; parsing (not the size) also lets a user edit
        # trainer_state.json by hand.
        json.loads(path.read_text(encoding="utf-8"))
        return True
    return path.stat().st_size == size


def is_complete(checkpoint: str | os.PathLike) -> bool:
    """Whether ``checkpoint`` has its completion record and every file it lists, whole (its
    recorded size; a JSON file: parses)."""
    checkpoint = Path(checkpoint)
    try:
        record = json.loads((checkpoint / CHECKPOINT_RECORD).read_text(encoding="utf-8"))
        files = record["files"]
        return "trainer_state.json" in files and all(_whole(checkpoint / name, size) for name, size in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def last_complete_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The complete checkpoint of ``output_dir`` with the most steps, or ``None``."""
    for _, path in reversed(_checkpoints(output_dir)):
        if is_complete(path):
            return path
    return None


def _checkpoint_callback():
    import transformers

    class MarkCompleteCheckpoints(transformers.TrainerCallback):
        """Writes the completion record of each checkpoint once the Trainer has saved it."""

        def on_save(self, args, state, control, **kwargs):
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and checkpoint.is_dir():
                mark_complete(checkpoint, state.global_step)

    return MarkCompleteCheckpoints()


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
    return replace_directory(tmp, final)


def _resume_point(config: TrainConfig) -> str | None:
    """The last complete checkpoint; incomplete ones after it are removed (see the module
    docstring)."""
    resume = last_complete_checkpoint(config.output_dir)
    resumed_step = -1 if resume is None else int(resume.name[len("checkpoint-"):])
    for step, path in _checkpoints(config.output_dir):
        if step > resumed_step and not is_complete(path):
            print(f"[rlog_env] removing the incomplete checkpoint {path} (a save that did not finish)",
                  file=sys.stderr)
            shutil.rmtree(path)
    return str(resume) if resume is not None else None


def _run(trainer, config: TrainConfig) -> float:
    resume = _resume_point(config) if config.resume else None
    began = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    return time.perf_counter() - began


def investigation_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The ``gymnasium.make`` arguments of ``config``'s investigation environments (JSON values:
    GRPO's rows carry them)."""
    from rlog_env.datasets.incidents import INCIDENT_SOURCES
    kwargs: dict[str, Any] = {"source": config.source, "reasoning": config.reasoning, "reward": config.reward}
    spec = INCIDENT_SOURCES.get(config.source)
    if spec is None:
        raise ValueError(f"TrainConfig.source expects an incident source for envs ({', '.join(INCIDENT_SOURCES)}), "
                         f"got {config.source!r}")
    if config.difficulty and "difficulty" in {o.name for o in spec.options}:
        kwargs["difficulty"] = config.difficulty
    if config.domains:
        kwargs["domains"] = list(config.domains)
    if config.data_dir:
        kwargs["data_dir"] = str(config.data_dir)
    return kwargs


def _transcript_dataset(config: TrainConfig):
    """The cold start's conversational SFT data: transcripts from ``config.data`` (``rlog data
    transcripts``) or the scripted investigator's, played on ``config.episodes`` training incidents
    of each environment."""
    from rlog_env.training.transcripts import cold_start_transcripts, read_transcripts, sft_dataset
    if config.data:
        transcripts = [t for t in read_transcripts(config.data) if t.get("env_id") in config.envs]
        if not transcripts:
            raise ValueError(f"{config.data} holds no transcript of {', '.join(config.envs)}")
    else:
        transcripts = cold_start_transcripts(config.envs, config.episodes, **investigation_kwargs(config))
    return sft_dataset(transcripts)


def train_sft(config: TrainConfig) -> Path:
    """Supervised fine-tuning: X→(R,Y) (``target="reasoning"``, the cold start) or X→Y
    (``target="answer"``, the baseline); with ``config.envs``, the investigations' cold start on
    transcripts (loss on the model's own turns only). Returns the final checkpoint directory."""
    import trl

    from rlog_env.training.export import read_trajectories, sft_dataset
    device = resolve_device(config.device)
    if config.envs:
        dataset = _transcript_dataset(config).shuffle(seed=config.seed)
    elif config.data:
        trajectories = [t for t in read_trajectories(config.data) if t.task in config.tasks]
        dataset = sft_dataset(trajectories, config.target, config.reasoning).shuffle(seed=config.seed)
    else:
        from rlog_env.datasets.reasoning import build_trajectories
        trajectories = build_trajectories(training_samples(config), seed=config.seed)
        dataset = sft_dataset(trajectories, config.target, config.reasoning).shuffle(seed=config.seed)
    model, tokenizer = load_model(resolve_model(config), device)
    trainer = trl.SFTTrainer(model=model, args=trl_config(config, "sft", device), train_dataset=dataset,
                             processing_class=tokenizer, callbacks=[_checkpoint_callback()],
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


def _investigation_grpo(config: TrainConfig):
    """GRPO's prompt set, environment factory and reward for ``config.envs``: rows of training
    incidents (from :data:`GRPO_FIRST_INDEX` on an endless split, apart from the cold start's),
    the environments TRL plays them in, and their return (each rollout logged to
    ``output_dir/rollouts.jsonl``)."""
    import gymnasium as gym

    from rlog_env.integrations.trl import (InvestigationReturn, environment_factories, environment_factory,
                                           investigation_rows)
    from rlog_env.training.export import to_dataset
    kwargs = investigation_kwargs(config)
    rows = []
    for env_id in config.envs:
        finite = len(gym.make(env_id, **kwargs).unwrapped.incidents) < sys.maxsize
        rows += investigation_rows(env_id, config.episodes, 0 if finite else GRPO_FIRST_INDEX, **kwargs)
    factory = (environment_factory(config.envs[0], **kwargs) if len(config.envs) == 1
               else environment_factories(config.envs, **kwargs))
    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    return to_dataset(rows), factory, InvestigationReturn(Path(config.output_dir) / ROLLOUTS)


def train_grpo(config: TrainConfig) -> Path:
    """GRPO on the joint reward (format + answer, the task's own functions) over prompts from
    ``config.source``'s train split; with ``config.envs``, multi-turn GRPO on the investigations
    (TRL's ``environment_factory``, the reward each rollout's return). Returns the final
    checkpoint directory."""
    import trl

    from rlog_env.training.export import grpo_dataset
    device = resolve_device(config.device)
    clock = {"reward_seconds": 0.0}
    extra: dict[str, Any] = {}
    if config.envs:
        dataset, factory, reward = _investigation_grpo(config)
        rewards, extra["environment_factory"] = [_TimedReward(reward, clock)], factory
    else:
        dataset = grpo_dataset(training_samples(config, GRPO_FIRST_INDEX), config.reasoning)
        rewards = [_TimedReward(f, clock) for f in trl_reward_functions(None, config.reasoning, config.reward)]
    dataset = dataset.shuffle(seed=config.seed)
    model, tokenizer = load_model(resolve_model(config), device)
    trainer = trl.GRPOTrainer(model=model, reward_funcs=rewards, args=trl_config(config, "grpo", device),
                              train_dataset=dataset, processing_class=tokenizer,
                              callbacks=[_reward_clock_callback(clock), _checkpoint_callback()],
                              peft_config=config.lora.peft_config() if config.lora else None, **extra)
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


__all__ = ["CHECKPOINT_RECORD", "FINAL", "GRPO_FIRST_INDEX", "is_complete", "last_complete_checkpoint",
           "investigation_kwargs", "load_model", "mark_complete", "resolve_model", "save_final", "train", "train_grpo", "train_sft",
           "training_samples"]
