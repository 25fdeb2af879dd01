"""``rlog repro``: the R-Log ablation in miniature, from a base model to one leaderboard.

Stages (each writes ``OUT/<stage>/final`` and is skipped when that exists, so an interrupted
run resumes where it stopped; evaluation resumes episode by episode from each cell's
``results.jsonl``):

1. ``reasoning`` — reasoning trajectories on simulator training episodes.
2. ``sft-answer`` — SFT X→Y on log–label pairs: the baseline R-Log compares against.
3. ``cold-start`` — SFT X→(R,Y), think-first: the cold start.
4. ``rlog`` — GRPO on the joint reward from the cold start: R-Log.
5. ``cold-start-fast`` then ``rlog-fast`` — the same two steps answer-first: R-Log-fast.
6. ``eval`` — the base model prompt-only and each trained model through the evaluation runner,
   one *cell* per (evaluation set, task): held-out simulator episodes (one set per evaluation
   domain of the source: seen and unseen systems and faults) and the test splits of the real
   data sets present in the data directory. The *primary cell* (``ReproConfig.primary``) gets
   its own episode count and is played first.
7. ``curves`` — GRPO's learning curves: the mean training reward of every step (TRL's log) and
   the held-out reward of the model at each checkpoint (``curve_every`` steps), written as
   ``learning_curve.csv`` and ``learning_curve.png``.
8. ``leaderboard.md`` / ``leaderboard.json`` — per model and cell the mean joint reward with its
   bootstrap interval and the format-valid rate; the paired differences the ablation is about
   (GRPO vs its cold start, R-Log vs X→Y, R-Log-fast vs R-Log) with their intervals; latency:
   tokens to the end of the answer and seconds per episode.

The presets size the run: ``full`` for the tiny model on a laptop, ``quick`` a smoke run of a
few steps (CI), ``pretrained`` SmolLM2-135M-Instruct on two CPU cores (hours: see the README), and
``pretrained-quick`` the same recipe cut to a few steps and episodes (CI). Every size can be
overridden.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rlog_env.datasets import SOURCES
from rlog_env.tasks import ANSWER_FIRST, NO_TAGS, THINK_FIRST
from rlog_env.training.config import TrainConfig
from rlog_env.training.trainers import FINAL, resolve_model, train_grpo, train_sft

def real_sources() -> tuple[str, ...]:
    """The registered sources that read a data set (``needs_data``), in registration order."""
    return tuple(name for name, spec in SOURCES.items() if spec.needs_data)


def _source_options(source: str, config: "ReproConfig") -> dict[str, Any]:
    """``difficulty`` for a source that takes it."""
    return {"difficulty": config.difficulty} if "difficulty" in SOURCES[source].option_names else {}


@dataclass(frozen=True)
class ReproConfig:
    """The sizes of a ``repro`` run (see :data:`PRESETS`)."""

    model: str = "tiny"
    out: str = "runs/repro"
    source: str = "sim"              # what the models are trained on (a source that needs no data)
    tasks: tuple[str, ...] | None = None  # trained and evaluated; None: every task with trajectories
    tiny_hidden_size: int = 64       # the sizes of the tiny model, when model="tiny"
    tiny_layers: int = 2
    lora: dict[str, Any] | None = None  # LoRA settings (rlog_env.training.config.LoraSettings); None: full
    trajectories: int = 64           # simulator training episodes per task for SFT
    sft_epochs: float = 8.0
    sft_learning_rate: float = 5e-3
    sft_max_length: int = 320        # tokens per SFT example, the end kept (the completion)
    grpo_steps: int = 30
    grpo_prompts_per_step: int = 4
    grpo_generations: int = 4
    grpo_learning_rate: float = 2e-4
    grpo_micro_batch: int | None = None  # completions per forward/backward (None: the whole step's at once)
    max_new_tokens: int = 320        # GRPO's completions (and the evaluation's, unless eval_max_new_tokens)
    eval_max_new_tokens: int | None = None  # the evaluation's answers (None: max_new_tokens)
    eval_dtype: str = "auto"         # the evaluated models' weights (TransformersAgent's dtype)
    sim_episodes: int = 30           # per task, for each evaluation domain of the training source
    real_episodes: int = 10          # per task of each real source
    real: tuple[str, ...] | None = None  # the real sources evaluated (None: every one present)
    primary: tuple[str, str] | None = None  # (evaluation domain, task): the comparison named first
    primary_episodes: int = 30       # episodes of the primary cell
    curve_every: int = 0             # GRPO steps between held-out checkpoints (0: no held-out curve)
    curve_episodes: int = 16         # per task, of the primary domain, at each checkpoint
    difficulty: str = "easy"         # where the source takes it
    data_dir: str | None = None
    seed: int = 0
    trl: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("tiny_hidden_size", "tiny_layers", "trajectories", "sft_max_length", "grpo_steps", "grpo_prompts_per_step", "grpo_generations",
                     "max_new_tokens", "sim_episodes", "real_episodes", "primary_episodes", "curve_episodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ReproConfig.{name} expects a positive int, got {value!r}")
        if self.eval_max_new_tokens is not None and (not isinstance(self.eval_max_new_tokens, int)
                                                     or self.eval_max_new_tokens < 1):
            raise ValueError(f"ReproConfig.eval_max_new_tokens expects a positive int or None (None: max_new_tokens), "
                             f"got {self.eval_max_new_tokens!r}")
        from rlog_env.agents.transformers_agent import DTYPES
        if self.eval_dtype not in DTYPES:
            raise ValueError(f"ReproConfig.eval_dtype expects one of {DTYPES}, got {self.eval_dtype!r}")
        if not isinstance(self.curve_every, int) or self.curve_every < 0:
            raise ValueError(f"ReproConfig.curve_every expects an int >= 0 (0: no held-out curve), got {self.curve_every!r}")
        if self.source not in SOURCES or SOURCES[self.source].needs_data:
            generated = [n for n, spec in SOURCES.items() if not spec.needs_data]
            raise ValueError(f"ReproConfig.source expects a source that needs no data set "
                             f"({', '.join(generated)}), got {self.source!r}")
        group = self.grpo_prompts_per_step * self.grpo_generations
        if self.grpo_micro_batch is not None and (not isinstance(self.grpo_micro_batch, int) or self.grpo_micro_batch < 1
                                                  or group % self.grpo_micro_batch):
            raise ValueError(f"ReproConfig.grpo_micro_batch expects a positive divisor of grpo_prompts_per_step * "
                             f"grpo_generations ({group}), or None, got {self.grpo_micro_batch!r}")
        if self.grpo_generations < 2:
            raise ValueError(f"ReproConfig.grpo_generations expects >= 2 (GRPO compares a group), "
                             f"got {self.grpo_generations}")
        for name in ("tasks", "real", "primary"):
            if isinstance(getattr(self, name), (list, str)):
                value = getattr(self, name)
                object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        from rlog_env.datasets.reasoning import check_reasoning_tasks
        object.__setattr__(self, "tasks", check_reasoning_tasks(self.source, self.tasks))
        unknown = [r for r in self.real or () if r not in real_sources()]
        if unknown:
            raise ValueError(f"ReproConfig.real expects sources among {', '.join(real_sources())}, got {unknown}")
        if self.primary is not None:
            domains = SOURCES[self.source].eval_domains or ()
            if (len(self.primary) != 2 or self.primary[0] not in domains or self.primary[1] not in self.tasks):
                raise ValueError(f"ReproConfig.primary expects (domain, task) with a domain among {list(domains)} "
                                 f"and a task among {list(self.tasks)}, got {self.primary!r}")


# The sizes of the ``pretrained`` preset (SmolLM2-135M-Instruct on two CPU cores) were set by
# measurement. Training: ~95 tokens/s in float32, ~136 with bf16 autocast (fp32 weights and
# optimizer, bf16 matmuls), hence ``bf16``. SFT: 3 epochs at 2e-4 over 40 trajectories per task
# (60 steps, ~20 min a stage). At 2 epochs and 1e-4 the cold start had learned the tags but not
# the reasoning's shape: on unseen systems it quoted one failing log line after another and never
# closed </think> (73 % format-valid on the primary cell, 27 % cut off at 512 tokens); at 3 epochs
# and 2e-4, 97 % of the first 64 primary episodes are well-formed. GRPO's completions get 448
# tokens: parsing trajectories reach 400 (5 of 40 are over 320), so a smaller cap would punish
# the very reasoning the cold start taught. Evaluation: an easy anomaly-detection prompt is ~900
# SmolLM2 tokens (its tokenizer spells numbers digit by digit); on a CPU with AVX512-BF16, bf16
# weights prefill 1.9x and decode 1.5x faster than float32 (16 such prompts: 46 s -> 24 s, 238 ->
# 160 ms a token), hence ``eval_dtype``. The evaluation's budget, 512 tokens, holds the longest
# SFT target with room to spare. Evaluating six models on 550 episodes each is most of the wall
# time. A GRPO step (2 prompts x 4 completions, then 8 single-sequence backward passes) takes
# ~2-3 min: 8 steps, at a learning rate that moves the policy within them. HDFS's sessions
# (~2,700 tokens: 7 s of prompt alone each) are left out of the real sets; loghub's and LogLM's stay.
_PRETRAINED: dict[str, Any] = {
    "model": "smollm2-135m", "tasks": ("anomaly_detection", "log_parsing"), "difficulty": "easy",
    "trajectories": 40, "sft_epochs": 3.0, "sft_learning_rate": 2e-4, "sft_max_length": 1024,
    "grpo_steps": 8, "grpo_prompts_per_step": 2, "grpo_generations": 4, "grpo_learning_rate": 5e-5,
    "grpo_micro_batch": 1,
    "max_new_tokens": 448, "eval_max_new_tokens": 512, "eval_dtype": "bfloat16",
    "sim_episodes": 50, "real_episodes": 50, "real": ("loghub", "loglm"),
    "primary": ("unseen", "anomaly_detection"), "primary_episodes": 200,
    "curve_every": 4, "curve_episodes": 16,
    "trl": {"sft": {"per_device_train_batch_size": 4, "warmup_steps": 4, "logging_steps": 4, "bf16": True},
            "grpo": {"temperature": 0.9, "logging_steps": 1, "bf16": True}},
}

PRESETS: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": {"tiny_hidden_size": 32, "tiny_layers": 1, "trajectories": 4, "sft_epochs": 1.0,
              "sft_max_length": 128, "grpo_steps": 1,
              "grpo_prompts_per_step": 2, "grpo_generations": 2, "max_new_tokens": 16,
              "sim_episodes": 1, "real_episodes": 1, "primary_episodes": 1},
    "pretrained": _PRETRAINED,
    # The pretrained recipe end to end at smoke size, for CI: every stage, the primary cell, the
    # curves and the intervals (pass --model tiny where SmolLM2 is not cached).
    "pretrained-quick": {**_PRETRAINED, "trajectories": 4, "sft_epochs": 1.0, "sft_max_length": 128,
                         "grpo_steps": 2, "grpo_prompts_per_step": 1, "grpo_generations": 2, "grpo_micro_batch": 1,
                         "max_new_tokens": 16, "eval_max_new_tokens": 24, "sim_episodes": 2, "real_episodes": 2,
                         "primary_episodes": 4,
                         "curve_every": 1, "curve_episodes": 2, "trl": {"grpo": {"logging_steps": 1}}},
}

PROMPT_ONLY = "prompt-only"
BASE_STAGE = "base"  # the untrained model: the prompt-only row
# name in the leaderboard, stage directory, output format, how it is trained.
MODELS = (
    (PROMPT_ONLY, BASE_STAGE, THINK_FIRST),
    ("SFT X→Y", "sft-answer", NO_TAGS),
    ("cold start X→(R,Y)", "cold-start", THINK_FIRST),
    ("R-Log", "rlog", THINK_FIRST),
    ("cold start X→(A,R)", "cold-start-fast", ANSWER_FIRST),
    ("R-Log-fast", "rlog-fast", ANSWER_FIRST),
)
# The differences the ablation is about: (model, minus model).
COMPARISONS = (
    ("R-Log", "cold start X→(R,Y)"),   # GRPO above its cold start
    ("R-Log", "SFT X→Y"),              # reasoning-first above X→Y
    ("R-Log-fast", "R-Log"),           # what answer-first gives up
    ("R-Log-fast", "cold start X→(A,R)"),
    ("cold start X→(R,Y)", PROMPT_ONLY),
)
GRPO_STAGES = {"rlog": "cold-start", "rlog-fast": "cold-start-fast"}  # GRPO stage -> its start


def _log(message: str, verbose: bool) -> None:
    if verbose:
        print(f"[repro {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _stage(out: Path, name: str, build: Callable[[], Path], verbose: bool, timings: dict) -> Path:
    final = out / name / FINAL
    if (final / "model.safetensors").is_file():
        _log(f"{name}: done earlier ({final})", verbose)
        return final
    _log(f"{name}: training", verbose)
    began = time.perf_counter()
    path = build()
    timings[name] = round(time.perf_counter() - began, 1)
    _log(f"{name}: {timings[name]} s", verbose)
    return path


def _device(config: ReproConfig) -> str:
    return "cpu" if config.model == "tiny" else "auto"


def _train_config(config: ReproConfig, out: Path, name: str, model: str, **fields) -> TrainConfig:
    return TrainConfig(model=model, output_dir=str(out / name), data=str(out / "reasoning"), seed=config.seed,
                       source=config.source, difficulty=_source_options(config.source, config).get("difficulty"),
                       device=_device(config), lora=config.lora, **fields)


def train_models(config: ReproConfig, verbose: bool = True) -> tuple[dict[str, Path], dict[str, float]]:
    """Train the models of the ablation (stages 1–5); return every model's directory by stage
    (``base`` the untrained one)."""
    from rlog_env.datasets.reasoning import write_reasoning_dataset

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    if config.model == "tiny":
        from rlog_env.training.tiny import init_tiny
        base = out / BASE_STAGE
        if not (base / "model.safetensors").is_file():
            init_tiny(base, hidden_size=config.tiny_hidden_size, num_layers=config.tiny_layers,
                      num_heads=max(1, config.tiny_hidden_size // 32), seed=config.seed, overwrite=True)
        base = str(base)
    else:
        base = resolve_model(TrainConfig(model=config.model, output_dir=str(out), seed=config.seed))
    if not (out / "reasoning" / "card.json").is_file():
        began = time.perf_counter()
        write_reasoning_dataset(out / "reasoning", source=config.source, tasks=config.tasks, split="train",
                                episodes=config.trajectories, seed=config.seed,
                                **_source_options(config.source, config))
        timings["reasoning"] = round(time.perf_counter() - began, 1)
    # On two CPU cores a step over whole examples (~750 tokens, the prompt being most of it) is
    # too slow for the few hundred steps a model from scratch needs; the end of each example —
    # the completion, which alone is learned, and the last log lines — is what counts.
    sft = {"num_train_epochs": config.sft_epochs, "learning_rate": config.sft_learning_rate,
           "max_length": config.sft_max_length, "truncation_mode": "keep_end",
           "save_strategy": "no", **config.trl.get("sft", {})}
    # The held-out curve's checkpoints hold the weights alone: an interrupted GRPO stage restarts
    # whole, so optimizer states would only fill the disk.
    saving = ({"save_strategy": "steps", "save_steps": config.curve_every, "save_only_model": True,
               "save_total_limit": None} if config.curve_every else {"save_strategy": "no"})
    # A step generates every prompt's group at once, then learns from them grpo_micro_batch at a
    # time (gradient accumulation): on CPU, attention keeps each layer's full score matrix for the
    # backward pass, so eight 2,700-token sequences at once need ~60 GB, one at a time ~8.
    group = config.grpo_prompts_per_step * config.grpo_generations
    micro = config.grpo_micro_batch or group
    grpo = {"max_steps": config.grpo_steps, "learning_rate": config.grpo_learning_rate,
            "num_generations": config.grpo_generations, "per_device_train_batch_size": micro,
            "gradient_accumulation_steps": group // micro,
            "max_completion_length": config.max_new_tokens, **saving, **config.trl.get("grpo", {})}
    grpo_prompts = config.grpo_steps * config.grpo_prompts_per_step
    tasks = config.tasks

    def sft_stage(name: str, target: str, reasoning: str) -> Path:
        return _stage(out, name, lambda: train_sft(_train_config(
            config, out, name, base, tasks=tasks, target=target, reasoning=reasoning, trl=sft)),
            verbose, timings)

    def grpo_stage(name: str, start: Path, reasoning: str) -> Path:
        episodes = max(1, -(-grpo_prompts // len(tasks)))
        return _stage(out, name, lambda: train_grpo(_train_config(
            config, out, name, str(start), tasks=tasks, reasoning=reasoning, episodes=episodes, trl=grpo)),
            verbose, timings)

    models = {BASE_STAGE: Path(base), "sft-answer": sft_stage("sft-answer", "answer", THINK_FIRST)}
    models["cold-start"] = sft_stage("cold-start", "reasoning", THINK_FIRST)
    models["rlog"] = grpo_stage("rlog", models["cold-start"], THINK_FIRST)
    models["cold-start-fast"] = sft_stage("cold-start-fast", "reasoning", ANSWER_FIRST)
    models["rlog-fast"] = grpo_stage("rlog-fast", models["cold-start-fast"], ANSWER_FIRST)
    return models, timings


def _real_sources(config: "ReproConfig") -> list[str]:
    from rlog_env.datasets import load_source
    found = []
    for name in config.real if config.real is not None else real_sources():
        task = SOURCES[name].tasks[0]
        try:
            load_source(name, task, split="test", data_dir=config.data_dir)
        except (FileNotFoundError, ValueError, OSError):
            continue
        found.append(name)
    return found


def _env_id(task: str) -> str:
    from rlog_env.envs import ENVIRONMENTS
    return next(env_id for env_id, cls in ENVIRONMENTS.items() if cls.task_name == task)


def evaluation_cells(config: ReproConfig) -> list[tuple[str, str, dict[str, Any]]]:
    """The held-out cells every model is evaluated on, the primary one first: (set, task, runner
    arguments). The sets are the training source's test split, one per evaluation domain it
    declares, then each real source present in the data directory; each set holds one cell per
    task of ``config.tasks`` it serves."""
    source, spec = config.source, SOURCES[config.source]
    cells = []
    for domain in spec.eval_domains or (None,):
        name = f"{source} {domain}" if domain else source
        for task in config.tasks:
            primary = config.primary == (domain, task)
            arguments = {"source": source, "envs": [_env_id(task)], **_source_options(source, config),
                         "episodes": config.primary_episodes if primary else config.sim_episodes,
                         **({"domains": (domain,)} if domain else {})}
            cells.insert(0, (name, task, arguments)) if primary else cells.append((name, task, arguments))
    for real in _real_sources(config):
        cells += [(real, task, {"source": real, "envs": [_env_id(task)], "episodes": config.real_episodes})
                  for task in config.tasks if SOURCES[real].serves(task)]
    return cells


def evaluation_sets(config: ReproConfig) -> list[str]:
    """The evaluation sets, in the order of :func:`evaluation_cells` (the primary cell's first)."""
    return list(dict.fromkeys(name for name, _, _ in evaluation_cells(config)))


def tokens_to_answer(completion: str, reasoning: str, tokenizer) -> int:
    """Tokens a model writes until its answer is complete: through ``</answer>`` in the tagged
    formats (all of it when the tag is missing), the whole completion under ``none``."""
    end = completion.find("</answer>") if reasoning != NO_TAGS else -1
    text = completion if end < 0 else completion[:end + len("</answer>")]
    return len(tokenizer(text, add_special_tokens=False).input_ids)


# The runner hands the agent this many episodes at once, and the agent sorts them by prompt length
# into generation batches of AGENT_BATCH: little padding, where one batch of mixed lengths pads
# every prompt to its longest (2.5x the work on the simulator's anomaly-detection prompts).
RUNNER_BATCH, AGENT_BATCH = 64, 16


def _eval_settings(config: ReproConfig) -> dict[str, Any]:
    """How the evaluated models generate: what a resumed evaluation must share with its start."""
    return {"max_new_tokens": config.eval_max_new_tokens or config.max_new_tokens, "dtype": config.eval_dtype}


def _claim_eval_dir(directory: Path, config: ReproConfig) -> None:
    """Record the generation settings in ``directory/settings.json``, or refuse to resume there
    under others: the runner's resume keys episodes by agent name, so episodes generated under
    another budget or dtype would otherwise be mixed into the cells silently."""
    settings, path = _eval_settings(config), directory / "settings.json"
    if path.is_file():
        found = json.loads(path.read_text(encoding="utf-8"))
        if found != settings:
            raise ValueError(f"{directory} holds episodes generated with {found}, not {settings}: "
                             f"move it aside (or pass another --out) to evaluate with these settings")
        return
    if directory.is_dir() and any(directory.iterdir()):
        raise ValueError(f"{directory} holds episodes without a settings.json (how they were generated "
                         f"is unknown): move it aside to evaluate with {settings}")
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")  # renamed into place: a kill leaves no half record
    tmp.write_text(json.dumps(settings) + "\n", encoding="utf-8")
    tmp.replace(path)


def _agent(config: ReproConfig, path: Path, reasoning: str, name: str):
    from rlog_env.agents.transformers_agent import TransformersAgent
    settings = _eval_settings(config)
    return TransformersAgent(path, reasoning=reasoning, name=name, batch_size=AGENT_BATCH,
                             max_new_tokens=settings["max_new_tokens"], dtype=settings["dtype"],
                             device=_device(config), seed=config.seed)


def _cell_dir(out: Path, set_name: str, task: str) -> Path:
    return out / set_name.replace(" ", "-") / task


def evaluate_models(config: ReproConfig, models: dict[str, Path], verbose: bool = True):
    """Every model on every evaluation cell through the runner; one DataFrame of episodes."""
    import pandas as pd

    from rlog_env.leaderboard.runner import evaluate
    from rlog_env.leaderboard.tables import leaderboard, write

    out = Path(config.out) / "eval"
    _claim_eval_dir(out, config)
    frames = []
    agents = [_agent(config, models[stage], fmt, name) for name, stage, fmt in MODELS]
    for set_name, task, arguments in evaluation_cells(config):
        _log(f"eval: {set_name} / {task} ({arguments['episodes']} episodes)", verbose)
        run_dir = _cell_dir(out, set_name, task)
        frame = evaluate(agents, run_dir=run_dir, data_dir=config.data_dir, fit=False,
                         batch_size=RUNNER_BATCH, **arguments)
        write(leaderboard(frame), run_dir)
        frame["set"] = set_name
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    tokenizer = agents[0].load().tokenizer_ if not hasattr(agents[0], "tokenizer_") else agents[0].tokenizer_
    frame["tokens_to_answer"] = [tokens_to_answer(a, r, tokenizer) for a, r in zip(frame["answer"], frame["reasoning"])]
    return frame


# -- learning curves ------------------------------------------------------------------------
CURVES_CSV, CURVES_PNG = "learning_curve.csv", "learning_curve.png"
CURVE_FIELDS = ("stage", "kind", "step", "reward", "reward_std", "format", "answer", "frac_reward_zero_std")


def _checkpoints(stage_dir: Path) -> list[tuple[int, Path]]:
    found = []
    for path in stage_dir.glob("checkpoint-*"):
        suffix = path.name.split("-", 1)[1]
        if suffix.isdigit() and (path / "model.safetensors").is_file():
            found.append((int(suffix), path))
    return sorted(found)


def _training_rows(stage: str, final: Path) -> list[dict[str, Any]]:
    """GRPO's logged mean training reward of every step (``training.json``'s log history)."""
    history = json.loads((final / "training.json").read_text(encoding="utf-8")).get("log_history", [])
    rows = []
    for entry in history:
        if "reward" not in entry or "step" not in entry:
            continue
        parts = {key.split("/")[1]: value for key, value in entry.items()
                 if key.startswith("rewards/") and key.endswith("/mean")}
        rows.append({"stage": stage, "kind": "train", "step": int(entry["step"]), "reward": entry["reward"],
                     "reward_std": entry.get("reward_std"), "format": parts.get("format"),
                     "answer": parts.get("answer"), "frac_reward_zero_std": entry.get("frac_reward_zero_std")})
    return rows


def learning_curves(config: ReproConfig, models: dict[str, Path], verbose: bool = True) -> list[dict[str, Any]]:
    """Each GRPO stage's training reward per step, and its held-out reward at each checkpoint
    (step 0 the model it started from): ``curve_episodes`` test episodes of each task in the
    primary cell's domain, played through the runner (resumable, under ``OUT/curves``)."""
    from rlog_env.leaderboard.runner import evaluate

    out = Path(config.out)
    rows: list[dict[str, Any]] = []
    formats = {stage: fmt for _, stage, fmt in MODELS}
    if config.curve_every:
        _claim_eval_dir(out / "curves", config)
    for stage, start in GRPO_STAGES.items():
        rows += _training_rows(stage, models[stage])
        if not config.curve_every:
            continue
        domain = config.primary[0] if config.primary else None
        points = [(0, models[start])] + _checkpoints(out / stage)
        for step, path in points:
            _log(f"curves: {stage} step {step}", verbose)
            frame = evaluate([_agent(config, path, formats[stage], f"{stage}@{step}")],
                             [_env_id(t) for t in config.tasks], source=config.source,
                             episodes=config.curve_episodes, data_dir=config.data_dir, fit=False,
                             batch_size=RUNNER_BATCH, run_dir=out / "curves" / stage / f"step-{step}",
                             **({"domains": (domain,)} if domain else {}), **_source_options(config.source, config))
            totals = [r["total"] for r in frame["reward"]]
            rows.append({"stage": stage, "kind": "held-out", "step": step, "reward": float(np.mean(totals)),
                         "reward_std": float(np.std(totals)),
                         "format": float(np.mean([r.get("format", np.nan) for r in frame["reward"]])),
                         "answer": float(np.mean([r.get("answer", np.nan) for r in frame["reward"]])),
                         "frac_reward_zero_std": None})
    return rows


def write_curves(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """``learning_curve.csv`` and ``learning_curve.png`` in ``out``; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    csv_path, png_path = out / CURVES_CSV, out / CURVES_PNG
    tmp = out / f".{CURVES_CSV}.tmp-{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CURVE_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(csv_path)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for kind, axis, title in (("train", axes[0], "GRPO training reward (mean of each step's group)"),
                              ("held-out", axes[1], "held-out reward at each checkpoint")):
        for stage in GRPO_STAGES:
            points = sorted((r["step"], r["reward"]) for r in rows if r["stage"] == stage and r["kind"] == kind)
            if points:
                axis.plot(*zip(*points), marker="o", label=stage)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("GRPO step")
        axis.set_ylabel("mean joint reward (format + answer)")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend()
    tmp = out / f".{CURVES_PNG}.tmp-{os.getpid()}.png"
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    tmp.replace(png_path)
    return csv_path, png_path


# -- the summary ----------------------------------------------------------------------------
def _keys(part) -> np.ndarray:
    """The episodes' bootstrap keys, the leaderboard's own (their samples): every model's interval
    resamples the same samples, and a cell's interval is the leaderboard's for that cell."""
    from rlog_env.leaderboard.aggregate import episode_bootstrap_key
    return np.array([episode_bootstrap_key(r, n) for n, r in enumerate(part.to_dict("records"))], dtype=np.uint64)


def _interval(values: np.ndarray, keys: np.ndarray, seed: int) -> list[float]:
    from rlog_env.leaderboard.metrics import bootstrap_ci
    if len(values) < 2:
        return [float("nan"), float("nan")]
    return [float(v) for v in bootstrap_ci(values, keys=keys, seed=seed)]


def _paired(frame, a: str, b: str, cell: tuple[str, str]):
    """The totals of models ``a`` and ``b`` on the episodes of ``cell`` both played, paired, and
    those episodes' bootstrap keys."""
    rows = frame[(frame["set"] == cell[0]) & (frame["task"] == cell[1])]
    by = {}
    for name in (a, b):
        part = rows[rows["agent"] == name]
        by[name] = {int(k): r["total"] for k, r in zip(_keys(part), part["reward"])}
    common = sorted(set(by[a]) & set(by[b]))
    return (np.array(common, dtype=np.uint64), np.array([by[a][k] for k in common]),
            np.array([by[b][k] for k in common]))


def summarise(frame, timings: dict[str, float] | None = None, primary: tuple[str, str] | None = None,
              seed: int = 0) -> dict[str, Any]:
    """The repro leaderboard: per model, mean joint reward per evaluation set and per cell (with
    its 95 % Poisson-bootstrap interval and format-valid rate), latency, and the paired
    differences of :data:`COMPARISONS` in every cell (``primary``: the ``(set, task)`` named
    first)."""
    sets = list(dict.fromkeys(frame["set"]))
    cells = list(dict.fromkeys(zip(frame["set"], frame["task"])))
    generated = [name for name, spec in SOURCES.items() if not spec.needs_data]  # simulated episodes
    rows = []
    for name, _, fmt in MODELS:
        part = frame[frame["agent"] == name]
        if part.empty:
            continue
        totals = np.array([r["total"] for r in part["reward"]])
        row = {"model": name, "reasoning": fmt,
               "reward": {s: float(np.mean([r["total"] for r in part[part["set"] == s]["reward"]])) for s in sets},
               "by_task": {}, "cells": {},
               "mean_reward": float(totals.mean()),
               "format_valid": float(np.mean([bool(m.get("well_formed")) for m in part["metrics"]])),
               "tokens_to_answer": float(part["tokens_to_answer"].mean()),
               "seconds_per_episode": float(part["latency_s"].mean())}
        for (s, t), group in part.groupby(["set", "task"], sort=False):
            values = np.array([r["total"] for r in group["reward"]])
            row["by_task"][f"{s}/{t}"] = float(values.mean())
            row["cells"][f"{s}/{t}"] = {
                "mean": float(values.mean()), "interval": _interval(values, _keys(group), seed), "n": int(len(values)),
                "format_valid": float(np.mean([bool(m.get("well_formed")) for m in group["metrics"]])),
                "tokens_to_answer": float(group["tokens_to_answer"].mean()),
                "seconds_per_episode": float(group["latency_s"].mean())}
        sim = part[part["source"].isin(generated)]
        row["sim_reward"] = float(np.mean([r["total"] for r in sim["reward"]])) if len(sim) else None
        rows.append(row)
    names = {r["model"] for r in rows}
    comparisons = []
    for cell in ([primary] if primary in cells else []) + [c for c in cells if c != primary]:
        for a, b in COMPARISONS:
            if a not in names or b not in names:
                continue
            keys, left, right = _paired(frame, a, b, cell)
            if not len(keys):
                continue
            comparisons.append({"cell": f"{cell[0]}/{cell[1]}", "primary": cell == primary, "model": a, "minus": b,
                                "difference": float((left - right).mean()),
                                "interval": _interval(left - right, keys, seed), "n": len(keys)})
    by = {r["model"]: r for r in rows}
    checks = {}
    if "R-Log" in by and "cold start X→(R,Y)" in by and by["R-Log"]["sim_reward"] is not None:
        checks["grpo_gain_sim"] = by["R-Log"]["sim_reward"] - by["cold start X→(R,Y)"]["sim_reward"]
    if "R-Log" in by and "R-Log-fast" in by and by["R-Log"]["tokens_to_answer"]:
        checks["fast_token_ratio"] = by["R-Log-fast"]["tokens_to_answer"] / by["R-Log"]["tokens_to_answer"]
        if by["R-Log-fast"]["seconds_per_episode"]:
            checks["fast_speedup"] = by["R-Log"]["seconds_per_episode"] / by["R-Log-fast"]["seconds_per_episode"]
    return {"sets": sets, "cells": [f"{s}/{t}" for s, t in cells],
            "primary": f"{primary[0]}/{primary[1]}" if primary in cells else None,
            "rows": rows, "comparisons": comparisons, "checks": checks, "timings_s": timings or {},
            "episodes": int(len(frame))}


def _ci(cell: dict[str, Any]) -> str:
    low, high = cell["interval"]
    return f"{cell['mean']:.3f}" + ("" if np.isnan(low) else f" [{low:.2f}, {high:.2f}]")


def markdown(summary: dict[str, Any]) -> str:
    """The repro leaderboard as Markdown: the primary cell and its differences first (where the
    run names one), every cell, then the mean per evaluation set and latency."""
    lines: list[str] = []
    primary = summary.get("primary")
    if primary:
        lines += [f"**Primary cell: {primary}** (mean joint reward, 95 % bootstrap interval; n episodes each)", "",
                  "| model | reward | format-valid | tokens to answer | s / episode |", "|---|---|---|---|---|"]
        for row in summary["rows"]:
            cell = row["cells"].get(primary)
            if cell:
                lines.append(f"| {row['model']} | {_ci(cell)} | {cell['format_valid']:.1%} | "
                             f"{cell['tokens_to_answer']:.1f} | {cell['seconds_per_episode']:.2f} |")
        lines += ["", "| difference | mean | 95 % interval | n |", "|---|---|---|---|"]
        for c in summary["comparisons"]:
            if c["primary"]:
                low, high = c["interval"]
                lines.append(f"| {c['model']} − {c['minus']} | {c['difference']:+.3f} | [{low:+.3f}, {high:+.3f}] | {c['n']} |")
        lines.append("")
    cells = summary.get("cells", [])
    if cells:
        lines += ["| model | " + " | ".join(cells) + " |", "|---|" + "---|" * len(cells)]
        for row in summary["rows"]:
            lines.append(f"| {row['model']} | " + " | ".join(
                f"{_ci(row['cells'][c])} ({row['cells'][c]['format_valid']:.0%})" if c in row["cells"] else "–"
                for c in cells) + " |")
        lines += ["", "Each cell: mean joint reward [95 % interval] (format-valid rate).", ""]
    sets = summary["sets"]
    lines += ["| model | " + " | ".join(sets) + " | format-valid | tokens to answer | s / episode |",
              "|---|" + "---|" * (len(sets) + 3)]
    for row in summary["rows"]:
        lines.append(f"| {row['model']} | " + " | ".join(f"{row['reward'][s]:.3f}" for s in sets)
                     + f" | {row['format_valid']:.1%} | {row['tokens_to_answer']:.1f} | {row['seconds_per_episode']:.3f} |")
    checks = summary["checks"]
    notes = ["", "Mean joint R-Log reward (format + answer) per evaluation set."]
    if "grpo_gain_sim" in checks:
        notes.append(f"GRPO gain over the cold start on held-out simulator episodes: {checks['grpo_gain_sim']:+.3f}.")
    if "fast_token_ratio" in checks:
        notes.append(f"R-Log-fast reaches its answer in {checks['fast_token_ratio']:.2f}× R-Log's tokens"
                     + (f" ({checks['fast_speedup']:.2f}× faster per episode)." if "fast_speedup" in checks else "."))
    if summary.get("curves"):
        notes.append(f"Learning curves: {summary['curves']['png']} and {summary['curves']['csv']}.")
    return "\n".join(lines + notes) + "\n"


def repro(config: ReproConfig, verbose: bool = True) -> dict[str, Any]:
    """Run the whole ablation; write ``leaderboard.md``, ``leaderboard.json`` and the learning
    curves into ``config.out``."""
    began = time.perf_counter()
    models, timings = train_models(config, verbose)
    eval_began = time.perf_counter()
    frame = evaluate_models(config, models, verbose)
    timings["eval"] = round(time.perf_counter() - eval_began, 1)
    curves_began = time.perf_counter()
    out = Path(config.out)
    csv_path, png_path = write_curves(learning_curves(config, models, verbose), out)
    timings["curves"] = round(time.perf_counter() - curves_began, 1)
    timings["total"] = round(time.perf_counter() - began, 1)
    primary = None
    if config.primary:
        primary = next((s, t) for s, t, a in evaluation_cells(config)
                       if t == config.primary[1] and a.get("domains") == (config.primary[0],))
    summary = summarise(frame, timings, primary, config.seed)
    summary["config"] = dataclasses.asdict(config)
    summary["curves"] = {"csv": str(csv_path), "png": str(png_path)}
    for name, text in (("leaderboard.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n"),
                       ("leaderboard.md", markdown(summary))):
        tmp = out / f".{name}.tmp-{os.getpid()}"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out / name)
    return summary


def preset(name: str, **overrides: Any) -> ReproConfig:
    """A :class:`ReproConfig` from a preset name (see :data:`PRESETS`) and overrides."""
    if name not in PRESETS:
        raise ValueError(f"preset expects one of {', '.join(PRESETS)}, got {name!r}")
    return ReproConfig(**{**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}})


__all__ = ["COMPARISONS", "MODELS", "PRESETS", "ReproConfig", "evaluate_models", "evaluation_cells", "evaluation_sets",
           "learning_curves", "markdown", "preset", "real_sources", "repro", "summarise", "tokens_to_answer",
           "train_models", "write_curves"]
