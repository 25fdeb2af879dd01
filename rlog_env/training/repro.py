"""``rlog repro``: the R-Log ablation in miniature, from a base model to one leaderboard.

Stages (each writes ``OUT/<stage>/final`` and is skipped when that exists, so an interrupted
run resumes where it stopped):

1. ``reasoning`` — reasoning trajectories on simulator training episodes.
2. ``sft-answer`` — SFT X→Y on log–label pairs: the baseline R-Log compares against.
3. ``cold-start`` — SFT X→(R,Y), think-first: the cold start.
4. ``rlog`` — GRPO on the joint reward from the cold start: R-Log.
5. ``cold-start-fast`` then ``rlog-fast`` — the same two steps answer-first: R-Log-fast.
6. ``eval`` — each model through the evaluation runner on held-out simulator episodes (one set
   per evaluation domain of the source: seen and unseen systems and faults), and on the test
   splits of the real data sets present in the data directory.
7. ``leaderboard.md`` / ``leaderboard.json`` — mean joint reward per evaluation set, the
   format-valid rate, and latency: tokens to the end of the answer and seconds per episode.

The presets size the run: ``full`` for the tiny model on a laptop, ``quick`` a smoke run of a
few steps (CI). Every size can be overridden.
"""

from __future__ import annotations

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
    tiny_hidden_size: int = 64       # the sizes of the tiny model, when model="tiny"
    tiny_layers: int = 2
    trajectories: int = 64           # simulator training episodes per task for SFT
    sft_epochs: float = 8.0
    sft_learning_rate: float = 5e-3
    sft_max_length: int = 320        # tokens per SFT example, the end kept (the completion)
    grpo_steps: int = 30
    grpo_prompts_per_step: int = 4
    grpo_generations: int = 4
    grpo_learning_rate: float = 2e-4
    max_new_tokens: int = 320
    sim_episodes: int = 30           # per task, for each evaluation domain of the training source
    real_episodes: int = 10          # per environment of each real source
    difficulty: str = "easy"         # where the source takes it
    data_dir: str | None = None
    seed: int = 0
    trl: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("tiny_hidden_size", "tiny_layers", "trajectories", "sft_max_length", "grpo_steps", "grpo_prompts_per_step", "grpo_generations",
                     "max_new_tokens", "sim_episodes", "real_episodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ReproConfig.{name} expects a positive int, got {value!r}")
        if self.source not in SOURCES or SOURCES[self.source].needs_data:
            generated = [n for n, spec in SOURCES.items() if not spec.needs_data]
            raise ValueError(f"ReproConfig.source expects a source that needs no data set "
                             f"({', '.join(generated)}), got {self.source!r}")
        if self.grpo_generations < 2:
            raise ValueError(f"ReproConfig.grpo_generations expects >= 2 (GRPO compares a group), "
                             f"got {self.grpo_generations}")


PRESETS: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": {"tiny_hidden_size": 32, "tiny_layers": 1, "trajectories": 4, "sft_epochs": 1.0,
              "sft_max_length": 128, "grpo_steps": 1,
              "grpo_prompts_per_step": 2, "grpo_generations": 2, "max_new_tokens": 16,
              "sim_episodes": 1, "real_episodes": 1},
}

# name in the leaderboard, stage directory, output format, how it is trained.
MODELS = (
    ("SFT X→Y", "sft-answer", NO_TAGS),
    ("cold start X→(R,Y)", "cold-start", THINK_FIRST),
    ("R-Log", "rlog", THINK_FIRST),
    ("R-Log-fast", "rlog-fast", ANSWER_FIRST),
)


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


def _train_config(config: ReproConfig, out: Path, name: str, model: str, **fields) -> TrainConfig:
    return TrainConfig(model=model, output_dir=str(out / name), data=str(out / "reasoning"), seed=config.seed,
                       source=config.source, difficulty=_source_options(config.source, config).get("difficulty"),
                       device="cpu" if config.model == "tiny" else "auto", **fields)


def train_models(config: ReproConfig, verbose: bool = True) -> tuple[dict[str, Path], dict[str, float]]:
    """Train the four models of the ablation (stages 1–5); return their final directories."""
    from rlog_env.datasets.reasoning import reasoning_tasks, write_reasoning_dataset

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    if config.model == "tiny":
        from rlog_env.training.tiny import init_tiny
        base = out / "base"
        if not (base / "model.safetensors").is_file():
            init_tiny(base, hidden_size=config.tiny_hidden_size, num_layers=config.tiny_layers,
                      num_heads=max(1, config.tiny_hidden_size // 32), seed=config.seed, overwrite=True)
        base = str(base)
    else:
        base = resolve_model(TrainConfig(model=config.model, output_dir=str(out), seed=config.seed))
    if not (out / "reasoning" / "card.json").is_file():
        began = time.perf_counter()
        write_reasoning_dataset(out / "reasoning", source=config.source, split="train",
                                episodes=config.trajectories, seed=config.seed,
                                **_source_options(config.source, config))
        timings["reasoning"] = round(time.perf_counter() - began, 1)
    # On two CPU cores a step over whole examples (~750 tokens, the prompt being most of it) is
    # too slow for the few hundred steps a model from scratch needs; the end of each example —
    # the completion, which alone is learned, and the last log lines — is what counts.
    sft = {"num_train_epochs": config.sft_epochs, "learning_rate": config.sft_learning_rate,
           "max_length": config.sft_max_length, "truncation_mode": "keep_end",
           "save_strategy": "no", **config.trl.get("sft", {})}
    grpo = {"max_steps": config.grpo_steps, "learning_rate": config.grpo_learning_rate,
            "num_generations": config.grpo_generations,
            "per_device_train_batch_size": config.grpo_prompts_per_step * config.grpo_generations,
            "max_completion_length": config.max_new_tokens, "save_strategy": "no", **config.trl.get("grpo", {})}
    grpo_prompts = config.grpo_steps * config.grpo_prompts_per_step
    tasks = reasoning_tasks(config.source)

    def sft_stage(name: str, target: str, reasoning: str) -> Path:
        return _stage(out, name, lambda: train_sft(_train_config(
            config, out, name, base, tasks=tasks, target=target, reasoning=reasoning, trl=sft)),
            verbose, timings)

    def grpo_stage(name: str, start: Path, reasoning: str) -> Path:
        episodes = max(1, -(-grpo_prompts // len(tasks)))
        return _stage(out, name, lambda: train_grpo(_train_config(
            config, out, name, str(start), tasks=tasks, reasoning=reasoning, episodes=episodes, trl=grpo)),
            verbose, timings)

    models = {"sft-answer": sft_stage("sft-answer", "answer", THINK_FIRST)}
    models["cold-start"] = sft_stage("cold-start", "reasoning", THINK_FIRST)
    models["rlog"] = grpo_stage("rlog", models["cold-start"], THINK_FIRST)
    fast_start = sft_stage("cold-start-fast", "reasoning", ANSWER_FIRST)
    models["rlog-fast"] = grpo_stage("rlog-fast", fast_start, ANSWER_FIRST)
    return models, timings


def _real_sources(data_dir) -> list[str]:
    from rlog_env.datasets import load_source
    found = []
    for name in real_sources():
        task = SOURCES[name].tasks[0]
        try:
            load_source(name, task, split="test", data_dir=data_dir)
        except (FileNotFoundError, ValueError, OSError):
            continue
        found.append(name)
    return found


def evaluation_sets(config: ReproConfig) -> list[tuple[str, dict[str, Any]]]:
    """The held-out sets every model is evaluated on: (name, runner arguments): the training
    source's test split, one set per evaluation domain it declares, then each real source
    present in the data directory."""
    source, spec = config.source, SOURCES[config.source]
    options = {"episodes": config.sim_episodes, **_source_options(source, config)}
    if spec.eval_domains:
        sets = [(f"{source} {d}", {"source": source, "domains": (d,), **options}) for d in spec.eval_domains]
    else:
        sets = [(source, {"source": source, **options})]
    sets += [(name, {"source": name, "episodes": config.real_episodes}) for name in _real_sources(config.data_dir)]
    return sets


def tokens_to_answer(completion: str, reasoning: str, tokenizer) -> int:
    """Tokens a model writes until its answer is complete: through ``</answer>`` in the tagged
    formats (all of it when the tag is missing), the whole completion under ``none``."""
    end = completion.find("</answer>") if reasoning != NO_TAGS else -1
    text = completion if end < 0 else completion[:end + len("</answer>")]
    return len(tokenizer(text, add_special_tokens=False).input_ids)


def evaluate_models(config: ReproConfig, models: dict[str, Path], verbose: bool = True):
    """Every model on every evaluation set through the runner; one DataFrame of episodes."""
    import pandas as pd

    from rlog_env.agents.transformers_agent import TransformersAgent
    from rlog_env.leaderboard.runner import evaluate
    from rlog_env.leaderboard.tables import leaderboard, write

    out = Path(config.out) / "eval"
    frames = []
    agents = [TransformersAgent(models[stage], reasoning=fmt, name=name, batch_size=16,
                                max_new_tokens=config.max_new_tokens, device="cpu" if config.model == "tiny" else "auto",
                                seed=config.seed)
              for name, stage, fmt in MODELS]
    for set_name, arguments in evaluation_sets(config):
        _log(f"eval: {set_name}", verbose)
        run_dir = out / set_name.replace(" ", "-")
        frame = evaluate(agents, run_dir=run_dir, data_dir=config.data_dir, fit=False, batch_size=16, **arguments)
        write(leaderboard(frame), run_dir)
        frame["set"] = set_name
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    tokenizer = agents[0].tokenizer_ if hasattr(agents[0], "tokenizer_") else None
    if tokenizer is None:
        agents[0].load()
        tokenizer = agents[0].tokenizer_
    frame["tokens_to_answer"] = [tokens_to_answer(a, r, tokenizer) for a, r in zip(frame["answer"], frame["reasoning"])]
    return frame


def summarise(frame, timings: dict[str, float] | None = None) -> dict[str, Any]:
    """The repro leaderboard: per model, mean joint reward per evaluation set and latency."""
    sets = list(dict.fromkeys(frame["set"]))
    generated = [name for name, spec in SOURCES.items() if not spec.needs_data]  # simulated episodes
    rows = []
    for name, _, fmt in MODELS:
        part = frame[frame["agent"] == name]
        if part.empty:
            continue
        totals = np.array([r["total"] for r in part["reward"]])
        row = {"model": name, "reasoning": fmt,
               "reward": {s: float(np.mean([r["total"] for r in part[part["set"] == s]["reward"]])) for s in sets},
               "by_task": {f"{s}/{t}": float(np.mean([r["total"] for r in g["reward"]]))
                           for (s, t), g in part.groupby(["set", "task"], sort=False)},
               "mean_reward": float(totals.mean()),
               "format_valid": float(np.mean([bool(m.get("well_formed")) for m in part["metrics"]])),
               "tokens_to_answer": float(part["tokens_to_answer"].mean()),
               "seconds_per_episode": float(part["latency_s"].mean())}
        sim = part[part["source"].isin(generated)]
        row["sim_reward"] = float(np.mean([r["total"] for r in sim["reward"]])) if len(sim) else None
        rows.append(row)
    by = {r["model"]: r for r in rows}
    checks = {}
    if "R-Log" in by and "cold start X→(R,Y)" in by and by["R-Log"]["sim_reward"] is not None:
        checks["grpo_gain_sim"] = by["R-Log"]["sim_reward"] - by["cold start X→(R,Y)"]["sim_reward"]
    if "R-Log" in by and "R-Log-fast" in by and by["R-Log"]["tokens_to_answer"]:
        checks["fast_token_ratio"] = by["R-Log-fast"]["tokens_to_answer"] / by["R-Log"]["tokens_to_answer"]
    return {"sets": sets, "rows": rows, "checks": checks, "timings_s": timings or {},
            "episodes": int(len(frame))}


def markdown(summary: dict[str, Any]) -> str:
    """The repro leaderboard as Markdown."""
    sets = summary["sets"]
    lines = ["| model | " + " | ".join(sets) + " | format-valid | tokens to answer | s / episode |",
             "|---|" + "---|" * (len(sets) + 3)]
    for row in summary["rows"]:
        lines.append(f"| {row['model']} | " + " | ".join(f"{row['reward'][s]:.3f}" for s in sets)
                     + f" | {row['format_valid']:.1%} | {row['tokens_to_answer']:.1f} | {row['seconds_per_episode']:.3f} |")
    checks = summary["checks"]
    notes = ["", "Mean joint R-Log reward (format + answer) per evaluation set."]
    if "grpo_gain_sim" in checks:
        notes.append(f"GRPO gain over the cold start on held-out simulator episodes: {checks['grpo_gain_sim']:+.3f}.")
    if "fast_token_ratio" in checks:
        notes.append(f"R-Log-fast reaches its answer in {checks['fast_token_ratio']:.2f}× R-Log's tokens.")
    return "\n".join(lines + notes) + "\n"


def repro(config: ReproConfig, verbose: bool = True) -> dict[str, Any]:
    """Run the whole ablation; write ``leaderboard.md`` and ``leaderboard.json`` into ``config.out``."""
    began = time.perf_counter()
    models, timings = train_models(config, verbose)
    eval_began = time.perf_counter()
    frame = evaluate_models(config, models, verbose)
    timings["eval"] = round(time.perf_counter() - eval_began, 1)
    timings["total"] = round(time.perf_counter() - began, 1)
    summary = summarise(frame, timings)
    summary["config"] = dataclasses.asdict(config)
    out = Path(config.out)
    for name, text in (("leaderboard.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n"),
                       ("leaderboard.md", markdown(summary))):
        tmp = out / f".{name}.tmp-{os.getpid()}"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out / name)
    return summary


def preset(name: str, **overrides: Any) -> ReproConfig:
    """A :class:`ReproConfig` from a preset name (``full``, ``quick``) and overrides."""
    if name not in PRESETS:
        raise ValueError(f"preset expects one of {', '.join(PRESETS)}, got {name!r}")
    return ReproConfig(**{**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}})


__all__ = ["MODELS", "PRESETS", "ReproConfig", "evaluate_models", "evaluation_sets", "markdown", "preset",
           "real_sources", "repro", "summarise", "tokens_to_answer", "train_models"]
