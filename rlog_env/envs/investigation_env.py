"""The investigation environments: an incident, tools to query its logs, a final answer.

An episode is an investigation of one incident (:mod:`rlog_env.datasets.incidents`): ``reset``
returns the brief (the alert and what to find out); each ``step`` takes one turn of the model.
A turn with tool calls in the Hermes/Qwen2.5 convention (``<tool_call>{"name": …,
"arguments": {…}}</tool_call>``, one or more) is answered with the tools' outputs
(:mod:`rlog_env.datasets.sim.tools`); a turn without one is the final answer, scored by the
task (:mod:`rlog_env.tasks.investigation`). The world and the tools are plain Python; this
module is the thin Gymnasium wrapper DESIGN.md describes. :func:`investigation_class` makes one
environment class per registered investigation task, its docstring the manual;
:func:`register_investigation_environment` registers it with Gymnasium.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar, Iterable

import gymnasium as gym

from rlog_env.datasets.incidents import INCIDENT_SOURCES, open_incidents
from rlog_env.datasets.sim.incident_model import incident_facts
from rlog_env.datasets.sim.tools import (MAX_CALLS_PER_TURN, MAX_CHARS, TOOL_NAMES, TOOL_SCHEMAS, has_tool_call,
                                         parse_tool_calls, run_tool, tools_prompt)
from rlog_env.envs import log_env
from rlog_env.envs.log_env import _arg, _indent, episode_index
from rlog_env.envs.spaces import ACTION_SPACE, OBSERVATION_SPACE
from rlog_env.tasks import FORMATS, INVESTIGATIONS, RLOG, SCHEMES, THINK_FIRST, Case, Investigation, get_investigation
from rlog_env.tasks.investigation import HEALTHY

DEFAULT_MAX_STEPS = 12
DEFAULT_MAX_OBSERVATION_CHARS = 120_000
LAST_TURN_NOTE = "This is your last turn: give the final answer now, without a tool call."
END_OBSERVATION = "The investigation is over."  # what a final step observes (the space holds no empty text)


def _response(content: str) -> str:
    return f"<tool_response>\n{content}\n</tool_response>"


class InvestigationEnv(gym.Env[str, str]):
    """Base class of the investigation environments; each generated subclass's docstring is its
    manual. Subclasses set :attr:`task_name` (:func:`investigation_class` makes them)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}
    task_name: ClassVar[str]

    def __init__(
        self,
        source: str = "sim",
        data_dir: os.PathLike | str | None = None,
        split: str = "train",
        domains: str | Iterable[str] | None = None,
        reasoning: str = THINK_FIRST,
        reward: str = RLOG,
        max_steps: int = DEFAULT_MAX_STEPS,
        step_cost: float = Investigation.step_cost,
        max_observation_chars: int = DEFAULT_MAX_OBSERVATION_CHARS,
        onset_tolerance: float = Investigation.onset_tolerance,
        render_mode: str | None = None,
        **source_options: Any,
    ):
        self.task = get_investigation(self.task_name, reasoning=reasoning, reward=reward,
                                      step_cost=step_cost, onset_tolerance=onset_tolerance)
        for name, value, low in (("max_steps", max_steps, 1), ("max_observation_chars", max_observation_chars, MAX_CHARS)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} expects an int >= {low}, got {value!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode expects None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.max_steps, self.max_observation_chars = max_steps, max_observation_chars
        self.source_name = source
        self.incidents = open_incidents(source, split, domains, data_dir=data_dir, **source_options)
        # The domain selection asked for (never whether an incident involves a held-out one).
        self._domain = ",".join([domains] if isinstance(domains, str) else sorted(domains or ["seen"]))
        self.observation_space = OBSERVATION_SPACE
        self.action_space = ACTION_SPACE
        self.reward_range = self.task.step_range
        self._system = self.task.system_message(tools_prompt(), max_steps)
        self._incident = None
        self._messages: list[dict[str, Any]] = []
        self._done = True

    # -- the episode ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Open incident ``options["index"]`` (or one drawn with the environment's generator) and
        return the brief; ``info`` holds the chat ``messages``, the ``tools`` as OpenAI schemas
        and where the incident comes from, never its truth."""
        super().reset(seed=seed)
        index = episode_index(self.np_random, options, len(self.incidents))
        self._incident = incident = self.incidents[index]
        self._case = Case(incident.alert, incident.start, incident.end, self.incidents.categories,
                          incident_facts(incident))
        brief = self.task.brief(self._case)
        self._messages = [{"role": "system", "content": self._system}, {"role": "user", "content": brief}]
        self._turns = self._tool_turns = self._tool_calls = self._tool_errors = 0
        self._observation_chars = 0
        self._shown: set[int] = set()
        self._done = False
        info = {"messages": list(self._messages), "tools": TOOL_SCHEMAS, "task": self.task_name,
                "source": self.source_name, "split": self.incidents.split, "index": int(index),
                "domain": self._domain, "meta": {"id": incident.incident_id},
                "incident_id": incident.incident_id, "turn": 0, "max_steps": self.max_steps}
        return f"{self._system}\n\n{brief}", info

    def step(self, action: str):
        """Take one turn: run its tool calls and return their outputs, or score it as the final
        answer (``terminated``). The episode is ``truncated`` when a tool call comes at turn
        ``max_steps`` or the tools' outputs pass ``max_observation_chars`` in all."""
        if self._done:
            raise gym.error.ResetNeeded("call reset() before step(): the investigation has ended or not begun")
        if not isinstance(action, str):
            raise TypeError(f"an action must be the model's turn as text (str), got {type(action).__name__}; "
                            "decode token ids before stepping")
        self._turns += 1
        asked: dict[str, Any] = {"role": "assistant", "content": action}
        self._messages.append(asked)
        if not has_tool_call(action):
            return self._final(action)
        if self._turns >= self.max_steps:
            return self._end(self.task.truncation_reward(), truncated_by="max_steps")
        calls, errors = parse_tool_calls(action)
        # The conversation in OpenAI's chat format: the calls read from the turn, each answered
        # by a tool message with its id (a chat template or a tool-calling server reads them).
        ids = [f"call_{self._turns}_{k}" for k in range(len(calls))]
        if calls:
            asked["tool_calls"] = [{"id": i, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
                                   for i, (name, arguments) in zip(ids, calls)]
        new: list[dict[str, Any]] = []
        for call_id, (name, arguments) in zip(ids, calls):
            result = run_tool(self._incident, name, arguments)
            self._shown.update(result.lines)
            self._tool_errors += result.error
            new.append({"role": "tool", "tool_call_id": call_id, "name": name, "content": result.text})
        for error in errors:
            new.append({"role": "tool", "name": "error", "content": f"Error: {error}"})
        self._tool_errors += len(errors)
        self._tool_calls += len(calls)
        self._tool_turns += 1
        observation = "\n".join(_response(m["content"]) for m in new)
        self._observation_chars += len(observation)
        if self._turns == self.max_steps - 1:
            new.append({"role": "user", "content": LAST_TURN_NOTE})
            observation += "\n" + LAST_TURN_NOTE
        self._messages += new
        if self._observation_chars > self.max_observation_chars:
            return self._end(self.task.truncation_reward(), truncated_by="max_observation_chars",
                             observation=observation)
        info = self._info(calls, errors)
        return observation, self.task.tool_turn_reward(), False, False, info

    @property
    def incident(self):
        """The incident of the current episode (``None`` before the first ``reset``): what the
        tools run on. Adapters that call the tools themselves (TRL's environment factory) read it;
        an agent never sees it."""
        return self._incident

    def truncate(self, reason: str):
        """End the episode from outside, the way a time limit does, and return the last step's
        tuple: the truncation reward (the scheme's bottom), ``truncated`` true and
        ``info["truncated_by"] = reason``. For adapters whose rollouts stop before the agent
        answered (TRL's completion budget, :mod:`rlog_env.integrations.trl`)."""
        if self._done:
            raise gym.error.ResetNeeded("call reset() before truncate(): the investigation has ended or not begun")
        if not isinstance(reason, str) or not reason:
            raise ValueError(f"reason expects a non-empty str naming what cut the episode short, got {reason!r}")
        return self._end(self.task.truncation_reward(), truncated_by=reason)

    def _final(self, action: str):
        reward, answer = self.task.final_reward(action, self._case, self._tool_turns)
        return self._end(reward.total, terminated=True, parts=reward.as_dict(), answer=answer,
                         scored={"score": reward.score, "well_formed": reward.well_formed,
                                 "answer_valid": reward.answer_valid, "elements": dict(reward.elements)})

    def _end(self, reward: float, terminated: bool = False, truncated_by: str | None = None,
             observation: str = END_OBSERVATION, parts: dict | None = None, answer: str | None = None,
             scored: dict | None = None):
        """The last step: the reward, its parts, the metrics, the reference and the truth's
        ``unseen`` flag (a truncated episode earns the scheme's bottom: a bad format, no answer)."""
        self._done = True
        info = self._info([], [])
        scheme = self.task.scheme
        info["reward"] = parts or {"total": reward, "format": scheme.format_bad, "answer": scheme.answer_bad, "cost": 0.0}
        info["parsed_answer"] = answer
        info["metrics"] = {**self._metrics(), **(scored or {"score": None, "well_formed": False,
                                                              "answer_valid": False, "elements": {}})}
        info["truncated_by"] = truncated_by
        info["reference"] = self.task.reference_text(self._case.facts)
        info["unseen"] = bool(self._case.facts["unseen"])
        faults = self._case.facts["faults"]
        info["category"] = faults[0]["category"] if faults else HEALTHY  # for breakdowns, after the end
        return observation, float(reward), terminated, truncated_by is not None, info

    def _info(self, calls, errors) -> dict[str, Any]:
        return {"messages": list(self._messages), "tools": TOOL_SCHEMAS, "turn": self._turns,
                "tool_calls": [{"name": name, "arguments": arguments} for name, arguments in calls],
                "tool_errors": list(errors)}

    def _metrics(self) -> dict[str, Any]:
        """What the episode cost and found: reported, never rewarded."""
        symptoms = {line for fault in self._case.facts["faults"] for line in fault["lines"]}
        recall = len(symptoms & self._shown) / len(symptoms) if symptoms else None
        return {"turns": self._turns, "tool_turns": self._tool_turns, "tool_calls": self._tool_calls,
                "tool_errors": self._tool_errors, "observation_chars": self._observation_chars,
                "evidence_recall": recall}

    def render(self) -> str | None:
        """``ansi``: the conversation so far, one block per message."""
        if self.render_mode != "ansi":
            return None
        return "\n\n".join(f"--- {m['role']}{' ' + m['name'] if m.get('name') else ''} ---\n{m['content']}"
                           for m in self._messages)


# -- classes, manuals, registration ------------------------------------------------------------
def investigation_manual(task_cls) -> str:
    """The manual of ``task_cls``'s environment: the docstring of its environment class."""
    task = task_cls()
    low, high = task.final_range
    schemes = [name for name, scheme in SCHEMES.items() if scheme.scores_investigations]
    sources = "; ".join(f"``{name}`` {spec.description}" for name, spec in INCIDENT_SOURCES.items())
    parts = [
        f"{task_cls.title}: {task_cls.summary} (an investigation of several turns).", "",
        "    Description:",
        _indent(f"An incident: several components of a system with their dependencies, minutes to hours "
                f"of their interleaved logs (about 10,000 lines by default), and zero or more faults, "
                f"each starting on one component and cascading to those that depend on it. The agent "
                f"queries the logs with the tools {', '.join(TOOL_NAMES)} over several turns, then "
                f"answers. {task_cls.question}"), "",
        "    Observation:",
        _indent("A ``str``. After ``reset``: the brief (the system message with the answer's fields, "
                "the format rule and the tools; the alert; what to find out). After a tool turn: each "
                "call's output in ``<tool_response>`` … ``</tool_response>``. ``info[\"messages\"]`` is "
                "the whole conversation as chat messages (tool results as ``tool`` messages) and "
                "``info[\"tools\"]`` the tools as OpenAI function schemas. No observation or ``info`` "
                "before the final step carries the incident's truth."), "",
        "    Action:",
        _indent(f"One model turn as a ``str``: tool calls ``<tool_call>{{\"name\": …, \"arguments\": "
                f"{{…}}}}</tool_call>`` (at most {MAX_CALLS_PER_TURN} read per turn; a malformed or unknown "
                f"call is answered with an error naming the problem and still counts as a turn), or the "
                f"final answer in the ``reasoning`` format with a JSON object as its answer. "
                f"{task_cls.answer_fields}"), "",
        "    Reward:",
        _indent(f"{task_cls.manual_reward} Under ``rlog``: a tool turn pays ``-step_cost``; the final "
                f"answer earns the R-Log format term (+0.1 or -1.0) plus the answer score (or -1.0 when "
                f"no JSON object could be read), in [{low:g}, {high:g}]; truncation pays -2.0. The "
                f"return lies in [-2 - (max_steps - 1) x step_cost, 1.1]. Under ``unit``: tool turns "
                f"earn 0; the final answer earns 0.1 for the format + 0.9 x the answer score, less "
                f"``step_cost`` per tool turn (not below 0); truncation 0; the return lies in [0, 1]. "
                f"The reference answer as the first turn earns the top (1.1 / 1.0). After the final "
                f"step ``info[\"reference\"]`` is the reference answer (the text inside "
                f"``<answer>``), ``info[\"category\"]`` the first fault's category (``none``: "
                f"healthy), and ``info[\"metrics\"]`` holds the answer ``score``, its ``elements``, "
                f"``turns``, ``tool_calls``, ``tool_errors``, ``observation_chars`` and "
                f"``evidence_recall`` (the share of the faults' lines the tools showed; reported, not "
                f"rewarded)."), "",
        "    Arguments (keyword arguments of ``gymnasium.make``):",
        _arg(f"source: where incidents come from (default ``sim``): {sources}."),
        _arg("data_dir: the data directory of a real source (default ``$RLOG_DATA_DIR``), laid out like "
             "shared/data."),
        _arg('split: ``"train"`` (default, endless) or ``"test"`` (a fixed, versioned set).'),
        _arg("domains: " + "; ".join(f"``{n}``: {s.domains_doc}" for n, s in INCIDENT_SOURCES.items())),
        _arg(f"reasoning: the final answer's format, one of {', '.join(FORMATS)} (default think-first)."),
        _arg(f"reward: the scheme, one of {', '.join(schemes)} (default rlog)."),
        _arg(f"max_steps: the most turns, the final answer included (default {DEFAULT_MAX_STEPS})."),
        _arg(f"step_cost: the cost of one tool turn, in [0, 1] (default {Investigation.step_cost:g})."),
        _arg(f"max_observation_chars: the tools' output budget for an episode, in characters (default "
             f"{DEFAULT_MAX_OBSERVATION_CHARS:,})."),
        _arg(f"onset_tolerance: minutes an answered onset may be off and still score (default "
             f"{Investigation.onset_tolerance:g})."),
        _arg('render_mode: ``None`` or ``"ansi"`` (the conversation).'),
    ]
    for name, spec in INCIDENT_SOURCES.items():
        parts += [_arg(f"{option.name}: ``{name}`` only: {option.doc}") for option in spec.options]
    parts += [
        "",
        "    Episode end:",
        _indent("``terminated`` at the final answer (a turn without a tool call); ``truncated`` when a "
                "tool call comes at turn ``max_steps`` or the tools' outputs pass "
                "``max_observation_chars``; the truncating step pays the scheme's bottom. "
                '``reset(options={"index": i})`` opens incident ``i`` of the split.'),
        "",
        "    Version history:",
        "        v0: first release.",
    ]
    return "\n".join(parts) + "\n"


def investigation_class(task_cls) -> type[InvestigationEnv]:
    """The environment class of the investigation task ``task_cls``, its manual generated."""
    name = f"{task_cls.column()}Env"
    return type(name, (InvestigationEnv,), {"__doc__": investigation_manual(task_cls), "task_name": task_cls.name,
                                            "__module__": log_env.__name__, "__qualname__": name})


INVESTIGATION_ENVIRONMENTS: dict[str, type[InvestigationEnv]] = {}


def register_investigation_environment(task_name: str) -> type[InvestigationEnv]:
    """Register the environment of the investigation task ``task_name`` with Gymnasium (without
    ``max_episode_steps``: the environment truncates itself, so truncation is always scored)."""
    if task_name not in INVESTIGATIONS:
        raise INVESTIGATIONS.missing(task_name)
    task_cls = INVESTIGATIONS[task_name]
    env_id = task_cls.env_id
    if env_id in INVESTIGATION_ENVIRONMENTS or env_id in gym.registry:
        raise ValueError(f"environment id {env_id!r} is already registered; unregister_investigation_environment it first")
    cls = investigation_class(task_cls)
    setattr(log_env, cls.__name__, cls)  # an importable entry point, and the class pickles
    gym.register(id=env_id, entry_point=f"{log_env.__name__}:{cls.__name__}", disable_env_checker=False)
    INVESTIGATION_ENVIRONMENTS[env_id] = cls
    return cls


def unregister_investigation_environment(env_id: str) -> None:
    """Remove ``env_id`` from this registry and Gymnasium's."""
    cls = INVESTIGATION_ENVIRONMENTS.pop(env_id, None)
    if cls is None:
        raise ValueError(f"no investigation environment {env_id!r} is registered")
    gym.registry.pop(env_id, None)
    if getattr(log_env, cls.__name__, None) is cls:
        delattr(log_env, cls.__name__)


def register_investigation_environments() -> None:
    """Register the environment of every investigation task registered so far (idempotent)."""
    for name, task_cls in INVESTIGATIONS.items():
        if task_cls.env_id not in INVESTIGATION_ENVIRONMENTS:
            register_investigation_environment(name)


__all__ = ["INVESTIGATION_ENVIRONMENTS", "InvestigationEnv", "investigation_class", "investigation_manual",
           "register_investigation_environment", "register_investigation_environments",
           "unregister_investigation_environment"]
