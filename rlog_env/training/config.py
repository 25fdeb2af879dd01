"""Training configuration: one dataclass for ``rlog train sft`` and ``rlog train grpo``.

A :class:`TrainConfig` says which model, on what data, in which output format, and carries a
``trl`` mapping that reaches every option of TRL's ``SFTConfig`` / ``GRPOConfig`` (checked by
name: a misspelt option is an error, not a silent default). It can be read from a TOML or YAML
file whose keys are the dataclass fields, with ``[trl]`` and ``[lora]`` tables::

    model = "smollm2-135m"
    output_dir = "checkpoints/grpo"
    reasoning = "think-first"
    [trl]
    max_steps = 200
    num_generations = 8
    [lora]
    r = 16

Device defaults (see :func:`device_defaults`): on CPU ``use_cpu=True`` and float32 (TRL
defaults to bf16); on CUDA bf16, and for GRPO vLLM when ``vllm`` is ``"colocate"`` or
``"server"`` (``pip install 'rlog_env[gpu]'``). Several GPUs: ``accelerate launch -m
rlog_env.cli train grpo --config FILE`` (see the README's training section).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rlog_env.datasets import SOURCES
from rlog_env.envs.investigation_env import DEFAULT_MAX_STEPS
from rlog_env.tasks import FORMATS, INVESTIGATIONS, SCHEMES, TASKS, THINK_FIRST

KINDS = ("sft", "grpo")
DEVICES = ("auto", "cpu", "cuda")
VLLM_MODES = ("off", "colocate", "server")
TARGETS = ("reasoning", "answer")


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapters through peft; merged into the base weights when the checkpoint is saved."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] | str = "all-linear"

    def __post_init__(self) -> None:
        if not isinstance(self.r, int) or self.r < 1:
            raise ValueError(f"lora.r expects a positive int, got {self.r!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"lora.dropout expects a float in [0, 1), got {self.dropout!r}")
        if isinstance(self.target_modules, list):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))

    def peft_config(self):
        """The ``peft.LoraConfig`` for a causal LM."""
        try:
            import peft
        except ImportError as error:
            raise ImportError("LoRA needs peft: pip install 'rlog_env[train]'") from error
        modules = self.target_modules if isinstance(self.target_modules, str) else list(self.target_modules)
        return peft.LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                               target_modules=modules, task_type="CAUSAL_LM")


@dataclass(frozen=True)
class TrainConfig:
    """One training run (see the module docstring).

    Arguments:
        model: ``"tiny"`` (a fresh tiny model built with :func:`rlog_env.training.tiny.init_tiny`
            under ``output_dir/base``), a known name (``"smollm2-135m"``), a checkpoint
            directory, or a hub id.
        output_dir: where TRL writes its checkpoints; the final model goes to ``output_dir/final``.
        data: a reasoning data set written by ``rlog data reasoning`` (SFT); ``None`` builds
            one from ``source``. GRPO draws its prompts from ``source``.
        source, tasks, episodes, domains, difficulty, data_dir: the training samples
            (``episodes`` per task; a finite split gives at most its size). ``tasks`` defaults
            to every registered task ``source`` serves; ``difficulty`` applies where the
            source takes that option.
        envs: investigation environment ids (``RLog/RootCauseInvestigation-v0``, …): train on
            investigations instead of ``tasks`` — SFT on transcripts (the cold start: ``data`` a
            directory written by ``rlog data transcripts``, or the scripted investigator's,
            played here), GRPO through TRL's ``environment_factory``
            (:mod:`rlog_env.integrations.trl`); ``episodes`` incidents per environment.
        reasoning: the output format taught (SFT X→(R,Y)) and rewarded (GRPO).
        target: SFT only — ``"reasoning"`` (cold start X→(R,Y)) or ``"answer"`` (baseline X→Y).
        reward: GRPO only — the reward scheme (``rlog``, ``unit``, ``grounded``, ``hardened``).
        seed: seeds the data and TRL.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        vllm: GRPO generation with vLLM: ``off``, ``colocate`` or ``server`` (CUDA only).
        lora: LoRA settings, or ``None`` for full fine-tuning.
        trl: options passed to TRL's ``SFTConfig`` / ``GRPOConfig`` as they are.
        resume: continue from the last complete checkpoint in ``output_dir`` (one whose save
            finished: see :mod:`rlog_env.training.trainers`); incomplete ones after it are removed.
    """

    model: str = "tiny"
    output_dir: str = "checkpoints/rlog"
    data: str | None = None
    source: str = "sim"
    tasks: tuple[str, ...] | None = None  # None: the tasks `source` serves
    envs: tuple[str, ...] = ()  # investigation environments (then `tasks` is not used)
    episodes: int = 200
    domains: tuple[str, ...] | None = None
    difficulty: str | None = None
    data_dir: str | None = None
    reasoning: str = THINK_FIRST
    target: str = "reasoning"
    reward: str = "rlog"
    seed: int = 0
    device: str = "auto"
    vllm: str = "off"
    lora: LoraSettings | None = None
    trl: Mapping[str, Any] = field(default_factory=dict)
    resume: bool = False

    def __post_init__(self) -> None:
        for name in ("tasks", "domains", "envs"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
            elif isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if isinstance(self.lora, Mapping):
            object.__setattr__(self, "lora", LoraSettings(**self.lora))
        if self.source not in SOURCES:
            raise ValueError(f"TrainConfig.source expects one of {', '.join(SOURCES)}, got {self.source!r}")
        spec = SOURCES[self.source]
        if self.tasks is None:
            object.__setattr__(self, "tasks", tuple(t for t in TASKS if spec.serves(t)))
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise ValueError(f"tasks expects names among {', '.join(TASKS)}, got {list(self.tasks)}")
        unserved = [t for t in self.tasks if not spec.serves(t)]
        if unserved:
            raise ValueError(f"TrainConfig.tasks expects tasks source {self.source!r} serves "
                             f"({', '.join(spec.tasks)}), got {', '.join(unserved)}; pick another source")
        checks = [
            (isinstance(self.episodes, int) and self.episodes >= 1, "episodes", "a positive int"),
            (self.reasoning in FORMATS, "reasoning", f"one of {FORMATS}"),
            (self.target in TARGETS, "target", f"one of {TARGETS}"),
            (self.reward in SCHEMES, "reward", f"one of {tuple(SCHEMES)}"),
            (self.device in DEVICES, "device", f"one of {DEVICES}"),
            (self.vllm in VLLM_MODES, "vllm", f"one of {VLLM_MODES}"),
            (isinstance(self.seed, int), "seed", "an int"),
            (isinstance(self.trl, Mapping), "trl", "a mapping of TRL option names to values"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise ValueError(f"TrainConfig.{name} expects {expected}, got {getattr(self, name)!r}")
        investigations = {cls.env_id for cls in INVESTIGATIONS.values()}
        wrong = [e for e in self.envs if e not in investigations]
        if wrong:
            raise ValueError(f"TrainConfig.envs expects investigation environments ({', '.join(sorted(investigations))}), "
                             f"got {', '.join(map(repr, wrong))}; one-step tasks are chosen with tasks")
        if self.envs and self.target == "answer":
            raise ValueError("envs trains investigations from transcripts (the cold start); target='answer' "
                             "(X→Y) applies to the one-step tasks")
        if self.target == "answer" and self.reasoning != THINK_FIRST:
            raise ValueError("target='answer' (X→Y) trains plain answers; leave reasoning at its default")

    @classmethod
    def from_file(cls, path: str | os.PathLike, **overrides: Any) -> "TrainConfig":
        """A config from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file, then ``overrides``."""
        values = read_config_file(path)
        trl = {**values.pop("trl", {}), **overrides.pop("trl", {})}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown}; expects keys among {sorted(names)} "
                             "(TRL options go into a [trl] table)")
        return cls(**{**values, **overrides, "trl": trl})

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (written beside the checkpoint)."""
        return dataclasses.asdict(self)


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping in a TOML or YAML config file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        import tomllib
        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML ({error})") from error
    elif path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as error:
            raise ImportError("YAML configs need PyYAML (installed with the train extra); or use TOML") from error
        try:
            values = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error})") from error
    else:
        raise ValueError(f"config file expects a .toml, .yaml or .yml suffix, got {path.name!r}")
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expects a mapping of config keys, got {type(values).__name__}")
    return values


def resolve_device(device: str) -> str:
    """``cuda`` or ``cpu`` for ``device`` (``auto``: CUDA when torch sees one)."""
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no CUDA device; use device='cpu' or 'auto'")
    return device


def device_defaults(kind: str, device: str, vllm: str = "off") -> dict[str, Any]:
    """TRL options that make ``kind`` run on ``device`` (``cpu`` or ``cuda``)."""
    if device == "cpu":
        if vllm != "off":
            raise ValueError(f"vllm={vllm!r} needs a CUDA device; set vllm='off' on CPU")
        # TRL defaults to bf16, slow or unsupported on CPU, and to gradient checkpointing,
        # which recomputes every activation: a tenfold slower step for a small model on CPU.
        return {"use_cpu": True, "bf16": False, "gradient_checkpointing": False}
    options: dict[str, Any] = {"bf16": True}
    if kind == "grpo" and vllm != "off":
        options.update(use_vllm=True, vllm_mode=vllm)
    return options


# Defaults that suit a laptop and the tiny model; everything can be overridden through `trl`.
BASE_DEFAULTS: dict[str, dict[str, Any]] = {
    "sft": {"per_device_train_batch_size": 8, "learning_rate": 1e-3, "num_train_epochs": 1,
            "lr_scheduler_type": "cosine", "warmup_steps": 10, "logging_steps": 10,
            "save_strategy": "steps", "save_steps": 100, "save_total_limit": 2, "max_length": 2048,
            "train_sampling_strategy": "group_by_length",
            "report_to": "none", "dataloader_num_workers": 0},
    "grpo": {"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 256,
             "learning_rate": 2e-5, "temperature": 1.0, "beta": 0.0, "logging_steps": 5,
             "save_strategy": "steps", "save_steps": 50, "save_total_limit": 2, "report_to": "none",
             "dataloader_num_workers": 0},
}


# What changes for investigations (config.envs): SFT learns the model's own turns of whole
# transcripts; GRPO's completion spans the conversation (turns and tool outputs), and TRL's cap on
# tool turns matches the environment's turn budget (max_steps turns, the answer one of them).
INVESTIGATION_DEFAULTS: dict[str, dict[str, Any]] = {
    "sft": {"assistant_only_loss": True, "max_length": 8192},
    "grpo": {"max_completion_length": 2048, "max_tool_calling_iterations": DEFAULT_MAX_STEPS - 1},
}


def trl_config_class(kind: str):
    """TRL's config class for ``kind`` (``sft`` or ``grpo``)."""
    if kind not in KINDS:
        raise ValueError(f"kind expects one of {KINDS}, got {kind!r}")
    try:
        import trl
    except ImportError as error:
        raise ImportError("training needs TRL: pip install 'rlog_env[train]'") from error
    return trl.SFTConfig if kind == "sft" else trl.GRPOConfig


def trl_options(config: TrainConfig, kind: str, device: str) -> dict[str, Any]:
    """The options for TRL's config: defaults, device settings, then the user's ``trl``."""
    cls = trl_config_class(kind)
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config.trl) - valid)
    if unknown:
        hints = {u: difflib.get_close_matches(u, valid, n=1) for u in unknown}
        hint = "; ".join(f"{u!r}: did you mean {h[0]!r}?" for u, h in hints.items() if h)
        raise ValueError(f"trl options expects fields of trl.{cls.__name__}, got unknown {unknown}"
                         + (f" ({hint})" if hint else ""))
    investigation = INVESTIGATION_DEFAULTS[kind] if config.envs else {}
    cap = investigation.get("max_tool_calling_iterations")
    if cap is not None and config.trl.get("max_tool_calling_iterations", cap) != cap:
        raise ValueError(f"trl option max_tool_calling_iterations expects {cap} for investigations (the environments "
                         f"allow {DEFAULT_MAX_STEPS} turns, the answer included), got "
                         f"{config.trl['max_tool_calling_iterations']!r}; a different cap would score rollouts "
                         "the environment would not")
    return {**BASE_DEFAULTS[kind], **investigation, **device_defaults(kind, device, config.vllm),
            "output_dir": config.output_dir, "seed": config.seed, **config.trl}


def trl_config(config: TrainConfig, kind: str, device: str | None = None):
    """TRL's ``SFTConfig`` or ``GRPOConfig`` for ``config`` on ``device`` (default: resolved)."""
    device = device or resolve_device(config.device)
    return trl_config_class(kind)(**trl_options(config, kind, device))


__all__ = ["BASE_DEFAULTS", "INVESTIGATION_DEFAULTS", "LoraSettings", "TrainConfig", "device_defaults", "read_config_file",
           "resolve_device", "trl_config", "trl_options"]
