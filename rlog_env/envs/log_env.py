"""The five R-Log environments: one log observation, one free-text answer, one reward.

Every environment is a one-step episode over a task (:mod:`rlog_env.tasks`) and a sample source
(:mod:`rlog_env.datasets`): ``reset`` draws a sample and returns its prompt; ``step`` scores the
answer with the task's own reward and ends the episode.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Iterable

import gymnasium as gym
from gymnasium.vector import AutoresetMode

from rlog_env.datasets import DEFAULT_SOURCES, SOURCES, load_source
from rlog_env.envs.spaces import ACTION_SPACE, OBSERVATION_SPACE
from rlog_env.tasks import GROUNDED, RLOG, TEXT_TASKS, THINK_FIRST, Reward, Sample, get_task
from rlog_env.tasks.base import prompt_text


class RLogEnv(gym.Env[str, str]):
    """Base class of the R-Log environments; see each task's class for its manual.

    Subclasses set :attr:`task_name` and write their manual in their docstring.
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
        self.source_name = source if source is not None else DEFAULT_SOURCES[self.task_name]
        if reward == GROUNDED and self.task_name in TEXT_TASKS and SOURCES.get(self.source_name) \
                and SOURCES[self.source_name].needs_data:
            raise ValueError(
                f"reward='grounded' needs the key facts that only the simulator's samples carry; "
                f"got source={self.source_name!r}: use source='sim', or reward='rlog' or 'unit'"
            )
        self.source = load_source(
            self.source_name, self.task_name, split=split, data_dir=data_dir, domains=domains,
            **source_options,
        )
        self.observation_space = OBSERVATION_SPACE
        self.action_space = ACTION_SPACE
        self.reward_range = self.task.reward_range
        self._sample: Sample | None = None
        self._observation = ""
        self._last: tuple[str, Reward] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Draw a sample (or take ``options["index"]``) and return its prompt and ``info``.

        ``info`` holds ``messages`` (the prompt as chat messages), ``logs`` (the log text the
        prompt shows), ``task``, ``source``, ``split``, ``domain``, ``index`` and the sample's
        ``meta``; never the reference.
        """
        super().reset(seed=seed)
        index = (options or {}).get("index")
        if index is None:
            index = self._draw_index()
        elif isinstance(index, bool) or not isinstance(index, (int,)) and not hasattr(index, "__index__"):
            raise TypeError(f"options['index'] expects an int, got {type(index).__name__}")
        self._sample = sample = self.source[int(index)]
        messages = self.task.messages(sample)
        self._observation = prompt_text(messages)
        self._last = None
        info = {
            "messages": messages,
            "logs": sample.logs,
            "task": self.task_name,
            "source": self.source_name,
            "split": self.source.split,
            "domain": sample.domain,
            "index": int(index),
            "meta": dict(sample.meta),
        }
        return self._observation, info

    def _draw_index(self) -> int:
        """A uniform index below ``len(self.source)`` from the environment's generator.

        Rejection sampling on the generator's raw 64-bit words, keeping the fewest top bits that
        cover every index (at least half the draws are kept): exact for any length, and 0.4 µs
        where ``Generator.integers`` takes 2.6 µs, ≈ 2 % of a simulated episode.
        """
        n = len(self.source)
        shift = 64 - (n - 1).bit_length()
        raw = self.np_random.bit_generator.random_raw
        while True:
            index = raw() >> shift
            if index < n:
                return index

    def step(self, action: str):
        """Score the answer; the episode ends (``terminated=True``).

        ``info`` holds ``reward`` (``total``, ``format``, ``answer``), ``metrics`` (the task's
        cheap metrics) and ``reference`` (the reference answer).
        """
        if self._sample is None:
            raise gym.error.ResetNeeded("call reset() before step(): each episode is one answer")
        if not isinstance(action, str):
            raise TypeError(
                f"an action must be the answer text (str), got {type(action).__name__}; "
                "decode token ids before stepping"
            )
        sample, self._sample = self._sample, None
        reward = self.task.reward_for(action, sample)
        self._last = (action, reward)
        info = {"reward": reward.as_dict(), "metrics": dict(reward.details),
                "reference": sample.reference}
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


_ARGUMENTS = """
    Arguments (keyword arguments of ``gymnasium.make``):
        source: where samples come from; ``None`` takes the task's default ({default}).
            Sources for this task: {sources}.
        data_dir: the data directory of a real source (default ``$RLOG_DATA_DIR``), laid out
            like shared/data.
        split: ``"train"`` (default) or ``"test"``; disjoint by content.
        domains: keep only these systems (a name or a list of names).
        reasoning: ``"think-first"`` (``<think>…</think><answer>…</answer>``, R-Log, default),
            ``"answer-first"`` (``<answer>…</answer><think>…</think>``, R-Log-fast) or
            ``"none"`` (the whole completion is the answer).
        reward: ``"rlog"`` (the released R-Log reward, default), ``"unit"`` (in [0, 1]),
            ``"grounded"`` (free-text answers scored by the key facts they state and the
            claims they invent; simulator only; parsing and anomaly detection keep ``rlog``)
            or ``"hardened"`` (``rlog``'s range and top values with its known exploits closed:
            no other spelling of a tag anywhere, no credit for an all-``<*>`` template or the
            raw message, free text scaled down for repetition, copying the logs and length;
            every source; see docs/rewards.md).
        render_mode: ``None`` or ``"ansi"``.
        difficulty: ``sim`` only: ``"easy"``, ``"medium"`` (default), ``"hard"``, or a dict of
            window, distractors, noise, cascades, max_faults, variable_density.
        granularity: ``sim`` anomaly detection only: ``"window"`` (default) or ``"line"``.
        ground_truth: ``loghub`` parsing only: ``"corrected"`` (default) or ``"original"``.

    Domains of ``sim``: ``"seen"`` (default), ``"unseen"`` (held-out families and fault
    types, to measure generalisation) or family names.

    Episode end:
        One step: ``step(answer)`` always returns ``terminated=True``. Call ``reset`` again.
        ``reset(options={{"index": i}})`` gives sample ``i`` of the split (``0 <= i <
        len(env.unwrapped)``) so a split can be evaluated completely, each sample once;
        otherwise ``reset(seed=…)`` draws one uniformly with the environment's generator.

    Version history:
        v0: first release.
"""


class LogParsingEnv(RLogEnv):
    __doc__ = """Log parsing: turn a raw log message into its template.

    Description:
        The agent sees one log message (without its header; ``sim``: a line of a simulated
        window) and answers its template: the
        message with every variable part (ids, numbers, ips, paths, ...) replaced by ``<*>``.

    Observation:
        The prompt as one ``str``: the format rules, the instruction and the message. ``info``
        of ``reset`` holds the same prompt as chat ``messages`` (system: format rules; user:
        instruction and logs) and the sample's metadata (system, line id, ...).

    Action:
        The completion as a ``str``, in the format chosen by ``reasoning``.

    Reward:
        ``rlog``: format +0.1 when the four tags occur once each in order, else -1.0; answer
        = R-Log's token-level F1 of the template against the reference (template words and
        variables), -1.0 for a wrong format or an empty answer. Total in [-2, 1.1]; the
        reference earns 1.1. ``unit``: 0.1 for the format + 0.9 x F1, in [0, 1].
        ``hardened``: as ``rlog``, but a template that is mostly ``<*>`` or still contains the
        raw message earns answer 0 (``info["metrics"]["guard"]`` names the closure).
        ``info["metrics"]`` holds ``exact_match`` and ``token_f1``.
    """ + _ARGUMENTS.format(default="sim", sources="sim, loghub, loglm")

    task_name = "log_parsing"


class AnomalyDetectionEnv(RLogEnv):
    __doc__ = """Anomaly detection: are these logs normal or abnormal?

    Description:
        The agent sees logs and answers ``normal`` or ``abnormal``: ``sim``, a simulated
        window of one system (abnormal when a fault writes into it); ``loghub``, a raw BGL line
        with its alert label removed; ``loglm``, a BGL or Spirit message; ``hdfs``, every line
        of one HDFS block's session (session-level detection).

    Observation:
        The prompt as one ``str``: the format rules, the instruction and the logs. ``info`` of
        ``reset`` holds the chat ``messages`` and the sample's metadata; never the label.

    Action:
        The completion as a ``str``, in the format chosen by ``reasoning``.

    Reward:
        ``rlog``: format +0.1 or -1.0 as R-Log; answer +1.0 when it equals the label after
        lower-casing and stripping, else -1.0. Total in [-2, 1.1]. ``unit``: 0.1 for the format
        + 0.9 when right, in [0, 1]. ``hardened``: as ``rlog``, under the strict tag rule.
        ``info["metrics"]`` holds ``predicted_label`` (``normal``, ``abnormal`` or
        ``invalid``) and ``correct``.
    """ + _ARGUMENTS.format(default="sim", sources="sim, loghub, loglm, hdfs")

    task_name = "anomaly_detection"


_TEXT_REWARD = """
    Reward:
        ``rlog``: format +0.1 or -1.0 as R-Log; answer = (BLEU-4 + ROUGE-1 + ROUGE-2 +
        ROUGE-L) / 400 on whitespace words, divided by 0.8 when above 0; -1.0 for a wrong
        format or an empty answer. Total in [-2, 1.35]; a reference of four words or more
        earns 1.35. ``unit``: 0.1 for the format + 0.9 x the answer reward relative to the
        reference's own, in [0, 1]. ``hardened``: the answer reward relative to the reference's
        own (x 1.25) times the ``repetition``, ``copying`` and ``length`` factors reported in
        ``info["metrics"]``; the reference earns 1.35 at any length.
        ``info["metrics"]`` holds ``bleu4``, ``rouge1``, ``rouge2``, ``rougeL`` (per cent).
"""


class LogInterpretationEnv(RLogEnv):
    __doc__ = """Log interpretation: explain what the logs say.

    Description:
        The agent sees logs (``sim``: a window with a fault; ``loglm``: real error logs from
        user reports) and explains them in plain operator language.

    Observation:
        The prompt as one ``str``: the format rules, the instruction and the logs. ``info`` of
        ``reset`` holds the chat ``messages`` and the sample's metadata.

    Action:
        The completion as a ``str``, in the format chosen by ``reasoning``.
    """ + _TEXT_REWARD + _ARGUMENTS.format(default="sim", sources="sim, loglm")

    task_name = "log_interpretation"


class RootCauseAnalysisEnv(RLogEnv):
    __doc__ = """Root cause analysis: name the root cause of what the logs show.

    Description:
        The agent sees logs, often with the user's description of the problem, and names the
        root cause in free text.

    Observation:
        The prompt as one ``str``: the format rules, the instruction and the logs. ``info`` of
        ``reset`` holds the chat ``messages`` and the sample's metadata.

    Action:
        The completion as a ``str``, in the format chosen by ``reasoning``.
    """ + _TEXT_REWARD + _ARGUMENTS.format(default="sim", sources="sim, loglm")

    task_name = "root_cause_analysis"


class SolutionRecommendationEnv(RLogEnv):
    __doc__ = """Solution recommendation: recommend the fix for what the logs show.

    Description:
        The agent sees logs, often with the user's description of the problem, and gives the
        concrete steps that fix it.

    Observation:
        The prompt as one ``str``: the format rules, the instruction and the logs. ``info`` of
        ``reset`` holds the chat ``messages`` and the sample's metadata.

    Action:
        The completion as a ``str``, in the format chosen by ``reasoning``.
    """ + _TEXT_REWARD + _ARGUMENTS.format(default="sim", sources="sim, loglm")

    task_name = "solution_recommendation"


ENVIRONMENTS: dict[str, type[RLogEnv]] = {
    get_task(cls.task_name).env_id: cls
    for cls in (LogParsingEnv, AnomalyDetectionEnv, LogInterpretationEnv, RootCauseAnalysisEnv,
                SolutionRecommendationEnv)
}
