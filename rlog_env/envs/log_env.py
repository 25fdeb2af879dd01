"""The R-Log environments: log observations, free-text answers, the task's reward.

An environment is a task (:mod:`rlog_env.tasks`) over a sample source (:mod:`rlog_env.datasets`):
``reset`` draws a sample and returns its prompt; ``step`` scores the answer with the task's own
reward. The environment classes and their manuals are generated from the task and the sources
that serve it (:func:`environment_class`); :mod:`rlog_env.envs.registry` registers them.
"""

from __future__ import annotations

import os
import sys
import textwrap
from typing import Any, ClassVar, Iterable

import gymnasium as gym
from gymnasium.vector import AutoresetMode

from rlog_env.datasets import SOURCES, load_source, sources_for
from rlog_env.envs.spaces import ACTION_SPACE, OBSERVATION_SPACE
from rlog_env.tasks import RLOG, SCHEMES, THINK_FIRST, Reward, Sample, Task, get_task
from rlog_env.tasks.base import prompt_text


def reset_info(task: Task, sample: Sample, source: str, split: str, index: int) -> dict[str, Any]:
    """The ``info`` of ``reset``: what an agent may know of an episode besides its prompt.

    ``messages`` (the prompt as chat messages), ``logs`` (the log text the prompt shows),
    ``task``, ``source``, ``split``, ``domain``, ``index`` and the sample's ``meta``; never the
    reference. The one builder of it (the environments, and the CLI's teacher, use it).
    """
    return {
        "messages": task.messages(sample),
        "logs": sample.logs,
        "task": task.name,
        "source": source,
        "split": split,
        "domain": sample.domain,
        "index": int(index),
        "meta": dict(sample.meta),
    }


def episode_index(np_random, options: dict[str, Any] | None, n: int) -> int:
    """The index of ``reset``'s episode: ``options["index"]`` when given (an ``int``; the source
    checks its range), else one drawn uniformly below ``n`` from the environment's generator.

    The draw is rejection sampling on the generator's raw 64-bit words, keeping the fewest top
    bits that cover every index (at least half the draws are kept): exact for any length, and
    cheaper than ``Generator.integers`` (BENCHMARKS.md has the figures).
    """
    index = (options or {}).get("index")
    if index is not None:
        if isinstance(index, bool) or not isinstance(index, int) and not hasattr(index, "__index__"):
            raise TypeError(f"options['index'] expects an int, got {type(index).__name__}")
        return int(index)
    shift = 64 - (n - 1).bit_length()
    raw = np_random.bit_generator.random_raw
    while True:
        index = raw() >> shift
        if index < n:
            return index


def refuse_next_step_autoreset(depth: int = 16) -> None:
    """Raise a ``ValueError`` when the caller is a Gymnasium vector environment in the next-step
    autoreset mode (``gymnasium.make_vec(id, vectorization_mode="sync"|"async")`` without
    ``vector_kwargs``): there every second step of a one-step episode would be a reset that
    scores nothing (reward 0, ``terminated=False``). Looks at the callers' frames once per
    environment: the vector env's ``reset`` (its ``autoreset_mode``) or Gymnasium's async
    worker (its ``autoreset_mode`` argument)."""
    frame = sys._getframe(1)
    for _ in range(depth):
        if frame is None:
            return
        owner = frame.f_locals.get("self")
        mode = getattr(owner, "autoreset_mode", None) if isinstance(owner, gym.vector.VectorEnv) else None
        if mode is None and frame.f_code.co_name == "_async_worker":
            mode = frame.f_locals.get("autoreset_mode")
        if mode is not None:
            if AutoresetMode(mode) == AutoresetMode.NEXT_STEP:
                raise ValueError(
                    "the R-Log environments end every episode after one step, so a vector environment must "
                    "reset them in the same step: use gymnasium.make_vec(id, num_envs=N) (its vector_mode="
                    "\"async\" for worker processes), or pass vector_kwargs={\"autoreset_mode\": \"SameStep\"} "
                    "with vectorization_mode=\"sync\" or \"async\"; the next-step mode would waste every second "
                    "step on a reset that scores nothing")
            return
        frame = frame.f_back


class RLogEnv(gym.Env[str, str]):
    """Base class of the R-Log environments; each generated subclass's docstring is its manual.

    Subclasses set :attr:`task_name` (:func:`environment_class` makes them).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,  # text renders once per episode; declared so checkers need not guess
        # One-step episodes: the same-step mode resets a finished sub-environment within the
        # step that ended it, so a vector environment never wastes a step on a reset.
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }
    task_name: ClassVar[str]

    def __init__(
        self,
        source: str | None = None,
        data_dir: os.PathLike | str | None = None,
        split: str = "train",
        domains: str | Iterable[str] | None = None,
        reasoning: str = THINK_FIRST,
        reward: str = RLOG,
        render_mode: str | None = None,
        **source_options: Any,
    ):
        self.task = get_task(self.task_name, reasoning, reward)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode expects None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.source_name = source if source is not None else self.task.default_source
        spec = SOURCES.get(self.source_name)
        if spec is not None:
            self.task.scheme.check_source(self.task, spec)
        self.source = load_source(
            self.source_name, self.task_name, split=split, data_dir=data_dir, domains=domains,
            **source_options,
        )
        self.observation_space = OBSERVATION_SPACE
        self.action_space = ACTION_SPACE
        self.reward_range = self.task.reward_range
        self._sample: Sample | None = None
        self._vector_checked = False
        self._observation = ""
        self._last: tuple[str, Reward] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Draw a sample (or take ``options["index"]``) and return its prompt and ``info``
        (:func:`reset_info`)."""
        super().reset(seed=seed)
        if not self._vector_checked:  # once: the first reset comes from whatever drives the env
            self._vector_checked = True
            refuse_next_step_autoreset()
        index = episode_index(self.np_random, options, len(self.source))
        self._sample = sample = self.source[index]
        info = reset_info(self.task, sample, self.source_name, self.source.split, index)
        self._observation = prompt_text(info["messages"])
        self._last = None
        return self._observation, info

    def step(self, action: str):
        """Score the answer; the episode ends (``terminated=True``).

        ``info`` holds ``reward`` (``total``, ``format``, ``answer``), ``metrics`` (the task's
        cheap metrics), ``parsed_answer`` (the answer the format rule read, ``None`` when it
        found none), ``reference`` (the reference answer) and ``unseen`` (whether the sample
        involves a held-out domain; ``False`` on sources without one).
        """
        if self._sample is None:
            raise gym.error.ResetNeeded("call reset() before step(): each episode is one answer")
        if not isinstance(action, str):
            raise TypeError(
                f"an action must be the answer text (str), got {type(action).__name__}; "
                "decode token ids before stepping"
            )
        sample, self._sample = self._sample, None
        task = self.task
        parsed = task.parse(action)
        reward = task.score_parsed(parsed, sample.reference, sample.logs, sample.facts.get("key_facts"))
        self._last = (action, reward)
        info = {"reward": reward.as_dict(), "metrics": dict(reward.details), "parsed_answer": parsed.answer,
                "reference": sample.reference, "unseen": bool(sample.facts.get("unseen", False))}
        return self._observation, reward.total, True, False, info

    def render(self) -> str | None:
        """``ansi``: the prompt, and after a step the answer and its reward, as text."""
        if self.render_mode != "ansi":
            return None
        text = self._observation
        if self._last is not None:
            answer, reward = self._last
            text += (f"\n\n--- answer ---\n{answer}\n--- reward --- total {reward.total:.4f} "
                     f"(format {reward.format:.4f}, answer {reward.answer:.4f})")
        return text

    def __len__(self) -> int:
        """The number of samples in the split: ``reset(options={"index": i})`` for i below it."""
        return len(self.source)


def _indent(text: str, spaces: int = 8, hang: int = 0, width: int = 92) -> str:
    """``text`` wrapped to ``width`` columns, indented by ``spaces`` (lines after the first by
    ``hang`` more)."""
    return textwrap.fill(text, width=width, break_on_hyphens=False, initial_indent=" " * spaces,
                         subsequent_indent=" " * (spaces + hang))


def _arg(text: str) -> str:
    return _indent(text, 8, 4)


def environment_manual(task_cls: type[Task]) -> str:
    """The manual of ``task_cls``'s environment, generated from the task and the sources that
    serve it (their options and domains): the docstring of its environment class."""
    sources = sources_for(task_cls.name)
    parts = [f"{task_cls.title}: {task_cls.summary or task_cls.default_instruction}", ""]
    if task_cls.manual_description:
        parts += ["    Description:", _indent(task_cls.manual_description), ""]
    parts += [
        "    Observation:",
        _indent("The prompt as one ``str``: the format rules, the instruction and the logs. ``info`` "
                "of ``reset`` holds the same prompt as chat ``messages`` (system: format rules; user: "
                "instruction and logs) and the sample's metadata; never the reference."),
        "",
        "    Action:",
        _indent("The completion as a ``str``, in the format chosen by ``reasoning``."),
        "",
    ]
    if task_cls.manual_reward:
        parts += ["    Reward:", _indent(task_cls.manual_reward), ""]
    schemes = "; ".join(f"``{name!r}`` {scheme.description}" for name, scheme in SCHEMES.items())
    parts += [
        "    Arguments (keyword arguments of ``gymnasium.make``):",
        _arg(f"source: where samples come from; ``None`` takes the task's default "
                f"(``{task_cls.default_source}``). Sources for this task: {', '.join(sources)}."),
        _arg("data_dir: the data directory of a real source (default ``$RLOG_DATA_DIR``), laid "
                "out like shared/data."),
        _arg('split: ``"train"`` (default) or ``"test"``; disjoint by content.'),
        _arg("domains: keep only these systems (a name or a list of names)."),
        _arg('reasoning: ``"think-first"`` (``<think>…</think><answer>…</answer>``, R-Log, '
                'default), ``"answer-first"`` (``<answer>…</answer><think>…</think>``, R-Log-fast) '
                'or ``"none"`` (the whole completion is the answer).'),
        _arg(f"reward: the reward scheme, ``'rlog'`` by default: {schemes}."),
        _arg('render_mode: ``None`` or ``"ansi"``.'),
    ]
    for name in sources:
        spec = SOURCES[name]
        for option in spec.options:
            if option.tasks is None or task_cls.name in option.tasks:
                parts.append(_arg(f"{option.name}: ``{name}`` only: {option.doc}"))
    domain_docs = [f"Domains of ``{name}``: {SOURCES[name].domains_doc}" for name in sources
                   if SOURCES[name].domains_doc]
    if domain_docs:
        parts += [""] + [_indent(doc, 4) for doc in domain_docs]
    parts += [
        "",
        "    Episode end:",
        _indent("One step: ``step(answer)`` always returns ``terminated=True``. Call ``reset`` again. "
                '``reset(options={"index": i})`` gives sample ``i`` of the split (``0 <= i < '
                "len(env.unwrapped)``) so a split can be evaluated completely, each sample once; "
                "otherwise ``reset(seed=…)`` draws one uniformly with the environment's generator."),
        "",
        "    Version history:",
        "        v0: first release.",
    ]
    return "\n".join(parts) + "\n"


def environment_class(task_cls: type[Task]) -> type[RLogEnv]:
    """The environment class of ``task_cls`` (``LogParsing`` -> ``LogParsingEnv``), its manual
    generated by :func:`environment_manual`."""
    name = f"{task_cls.column()}Env"
    return type(name, (RLogEnv,), {"__doc__": environment_manual(task_cls), "task_name": task_cls.name,
                                   "__module__": __name__, "__qualname__": name})
