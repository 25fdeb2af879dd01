"""TRL's multi-turn GRPO on the investigation environments (``GRPOTrainer(environment_factory=…)``).

TRL (≥ 0.29; pinned 1.16 here) runs a tool-using rollout itself: it renders the prompt with the
chat template and the tools' JSON schemas, generates a turn, parses its Hermes ``<tool_call>``
blocks (only for chat templates it recognises, such as Qwen2.5's, which the tiny model carries),
calls the environment's methods of those names, appends their outputs and generates again, until
a turn has no tool call, ``GRPOConfig.max_tool_calling_iterations`` tool turns have run, or the
conversation reaches ``max_completion_length``. This module gives it, for every investigation
environment, a class with a no-argument constructor, ``reset(**row)`` and one method per tool —
over the same incident and the same tool functions as the Gymnasium environment — and a reward
function that scores each rollout *by playing its transcript through the Gymnasium environment*
(``step`` per turn), so the return TRL logs is the environment's return for that transcript, by
construction::

    from rlog_env.integrations.trl import (InvestigationReturn, environment_factory,
                                           investigation_rows, max_tool_calling_iterations)
    factory = environment_factory("RLog/RootCauseInvestigation-v0", difficulty="easy")
    rows = investigation_rows("RLog/RootCauseInvestigation-v0", episodes=64, difficulty="easy")
    config = trl.GRPOConfig(..., max_tool_calling_iterations=max_tool_calling_iterations())
    trainer = trl.GRPOTrainer(model=..., args=config, train_dataset=datasets.Dataset.from_list(rows),
                              reward_funcs=[InvestigationReturn()], environment_factory=factory)

How a rollout maps onto an episode:

- each assistant message is one turn; its text is the message's content followed by its tool
  calls written as the chat template writes them (``<tool_call>\\n{"name": …, "arguments": …}\\n
  </tool_call>``), which the environment parses back into the same calls;
- a turn without a tool call is the final answer, scored by the task (a malformed one scores
  as a malformed answer);
- a turn with a ``<tool_call>`` TRL could not parse ends TRL's rollout, but the environment
  reads it as a tool turn (its calls answered with errors): the rollout ended there, cut short;
- a rollout that stops on a turn with tool calls that were never answered was cut short: by the
  tool-turn cap (that turn is the environment's ``max_steps``-th, and the environment truncates
  it as it would: ``truncated_by="max_steps"``) or by ``max_completion_length`` (TRL drops tool
  outputs that would pass it);
- every rollout cut short scores the environment's truncation, the scheme's bottom
  (:meth:`~rlog_env.envs.investigation_env.InvestigationEnv.truncate`, ``truncated_by`` =
  :data:`CUT_SHORT`, where the environment did not truncate it itself).

``max_steps`` counts every turn, the answer included; TRL's ``max_tool_calling_iterations``
counts tool turns, so the cap that matches an environment is ``max_steps - 1``
(:func:`max_tool_calling_iterations`).

What differs from the Gymnasium environment, and why: TRL writes the tool messages itself, so a
call of an unknown tool is answered with TRL's own error text (the environment's names the tools;
the reward is the same), every call of a turn is run (the environment reads at most
:data:`~rlog_env.datasets.sim.tools.MAX_CALLS_PER_TURN`), and the environment's "last turn" note
is not shown (TRL has no hook for a message between turns).

Importing this module imports Gymnasium and rlog_env, never TRL.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from typing import Any, ClassVar, Iterable, Mapping, Sequence

import gymnasium as gym

from rlog_env.datasets.sim.tools import TOOL_SCHEMAS, run_tool
from rlog_env.envs.investigation_env import DEFAULT_MAX_STEPS, INVESTIGATION_ENVIRONMENTS

SHARED_INCIDENTS = 64  # incidents kept per environment class (a few batches' prompts)
CUT_SHORT = "rollout_ended"  # truncated_by of a rollout that ended before the episode did


def _check_env_id(env_id: str) -> None:
    if env_id not in INVESTIGATION_ENVIRONMENTS:
        raise ValueError(f"expects an investigation environment ({', '.join(INVESTIGATION_ENVIRONMENTS)}), "
                         f"got {env_id!r}; the one-step environments train with reward functions "
                         "(rlog_env.tasks.trl_rewards), not an environment factory")


def _kwargs_key(env_kwargs: Mapping[str, Any]) -> str:
    """The environment's arguments as one canonical JSON text (rows carry it; ``reset`` checks it)."""
    try:
        return json.dumps(dict(env_kwargs), sort_keys=True)
    except TypeError as error:
        raise ValueError(f"environment arguments must be JSON values (they travel in the data set's rows), "
                         f"got {dict(env_kwargs)!r}: {error}") from error


# -- turns -------------------------------------------------------------------------------------
def _arguments(call: Mapping[str, Any]) -> Any:
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):  # OpenAI's convention: a JSON string
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            pass
    return function.get("name"), arguments


def turn_text(message: Mapping[str, Any]) -> str:
    """One assistant message as the environment's action: its content, then each tool call written
    as Qwen2.5's chat template writes it (the Hermes convention the environment parses)."""
    text = message.get("content") or ""
    if not isinstance(text, str):  # multimodal content parts: their text
        text = "".join(part.get("text", "") for part in text if isinstance(part, Mapping))
    for call in message.get("tool_calls") or ():
        name, arguments = _arguments(call)
        text += "\n<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False) + "\n</tool_call>"
    return text


def transcript_turns(completion: Sequence[Mapping[str, Any]]) -> tuple[list[str], bool]:
    """The turns of a TRL completion (its messages after the prompt) as environment actions, and
    whether the last turn's tool calls went unanswered (the rollout was cut short there)."""
    turns, unanswered = [], False
    for message in completion:
        role = message.get("role")
        if role == "assistant":
            turns.append(turn_text(message))
            unanswered = bool(message.get("tool_calls"))
        elif role == "tool":
            unanswered = False
    return turns, unanswered


# -- the environment class TRL instantiates ------------------------------------------------------
class _SharedIncidents:
    """An incident set that keeps its last :data:`SHARED_INCIDENTS` incidents: TRL plays each
    prompt ``num_generations`` times, each in its own environment instance, and building an
    incident costs tens of milliseconds. Incidents are never changed once built."""

    def __init__(self, incidents: Any):
        self._incidents = incidents
        self._get = functools.lru_cache(maxsize=SHARED_INCIDENTS)(incidents.__getitem__)

    def __getitem__(self, index: int):
        return self._get(index)

    def __len__(self) -> int:
        return len(self._incidents)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._incidents, name)



class InvestigationTools:
    """Base of the classes :func:`environment_factory` makes: one investigation episode for TRL.

    ``reset(**row)`` opens the row's incident in a Gymnasium environment made with the factory's
    arguments; each public method is a tool (generated from
    :data:`~rlog_env.datasets.sim.tools.TOOL_SCHEMAS`, so TRL reads the same names, parameters and
    descriptions the environment advertises) that runs the tool function on that incident.
    ``_score`` (private: every public method is a tool to TRL) plays a rollout's transcript through
    the environment and returns its return.
    """

    env_id: ClassVar[str]
    env_kwargs: ClassVar[dict[str, Any]]

    _shared: ClassVar[_SharedIncidents | None] = None

    def __init__(self):
        self._env = gym.make(self.env_id, **self.env_kwargs)
        cls = type(self)
        if cls._shared is None:  # one incident cache for every rollout of this environment class
            cls._shared = _SharedIncidents(self._env.unwrapped.incidents)
        self._env.unwrapped.incidents = cls._shared
        self._incident = None
        self._row: dict[str, Any] = {}
        self._fresh = False
        self.last_info: dict[str, Any] | None = None  # the environment's info after the last scored step

    def reset(self, **row: Any) -> None:
        """Open the incident of ``row`` (a row of :func:`investigation_rows`: ``index``, and the
        ``env_id`` and ``env_kwargs`` it was made for, which must be this class's). The prompt of
        the row is already the environment's brief, so nothing is appended to it."""
        for column in ("index", "env_id", "env_kwargs"):
            if column not in row:
                raise ValueError(f"a row for {self.env_id} needs the column {column!r} "
                                 "(rows come from rlog_env.integrations.trl.investigation_rows)")
        if row["env_id"] != self.env_id or row["env_kwargs"] != _kwargs_key(self.env_kwargs):
            raise ValueError(f"this environment class plays {self.env_id} with {_kwargs_key(self.env_kwargs)}, but the "
                             f"row was made for {row['env_id']} with {row['env_kwargs']}; build the rows and the "
                             "factory with the same environment id and arguments")
        self._env.reset(options={"index": int(row["index"])})
        self._incident = self._env.unwrapped.incident
        self._row = dict(row)
        self._fresh = True  # the tools never step the environment: it stands at the incident's start
        self.last_info = None
        return None

    def _call(self, name: str, arguments: dict[str, Any]) -> str:
        if self._incident is None:
            raise RuntimeError(f"{name} called before reset(): TRL resets each environment before its rollout")
        return run_tool(self._incident, name, arguments).text  # what the environment's step would show

    def _score(self, completion: Sequence[Mapping[str, Any]]) -> float:
        """The return of the rollout ``completion`` (its messages after the prompt): every turn
        stepped through the environment from the incident's start; a rollout cut short ends in
        the environment's truncation. The environment's last ``info`` is kept in
        :attr:`last_info`."""
        env = self._env
        if not self._fresh:  # scored before: back to the incident's start
            env.reset(options={"index": int(self._row["index"])})
        self._fresh = False
        turns, unanswered = transcript_turns(completion)
        total, done, info = 0.0, False, {}
        for number, turn in enumerate(turns, 1):
            if number == len(turns) and unanswered and number < env.unwrapped.max_steps:
                break  # cut short by the completion budget: TRL never ran these calls
            _, reward, terminated, truncated, info = env.step(turn)
            total += reward
            done = terminated or truncated
            if done:
                break
        if not done:
            _, reward, _, _, info = env.unwrapped.truncate(CUT_SHORT)
            total += reward
        self.last_info = info
        return total


def _annotation(param: Mapping[str, Any], required: bool, has_default: bool):
    kind = int if param["type"] == "integer" else str
    return kind if required or has_default else (kind | None)


def _docstring(function: Mapping[str, Any]) -> str:
    properties = function["parameters"]["properties"]
    lines = [function["description"]]
    if properties:
        lines += ["", "Args:"]
        for name, param in properties.items():
            choices = f" (choices: {json.dumps(param['enum'])})" if param.get("enum") else ""
            lines.append(f"    {name}: {param['description']}{choices}")
    return "\n".join(lines)


def _tool_method(schema: Mapping[str, Any]):
    """A method of :class:`InvestigationTools` for one tool schema: its signature, type hints and
    ``Args:`` docstring say what the schema says (TRL builds the tool's JSON schema from them)."""
    function = schema["function"]
    name = function["name"]
    required = set(function["parameters"].get("required", ()))

    def tool(self, **arguments):
        return self._call(name, arguments)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    for pname, param in function["parameters"]["properties"].items():
        has_default = "default" in param
        default = inspect.Parameter.empty if pname in required else param.get("default")
        annotations[pname] = _annotation(param, pname in required, has_default)
        parameters.append(inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY, default=default,
                                            annotation=annotations[pname]))
    annotations["return"] = str
    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = _docstring(function)
    tool.__signature__ = inspect.Signature(parameters, return_annotation=str)
    tool.__annotations__ = annotations
    return tool


for _schema in TOOL_SCHEMAS:
    setattr(InvestigationTools, _schema["function"]["name"], _tool_method(_schema))
del _schema


def environment_factory(env_id: str, **env_kwargs: Any) -> type[InvestigationTools]:
    """A class TRL's ``GRPOTrainer(environment_factory=…)`` instantiates once per rollout: the
    investigation environment ``env_id`` made with ``env_kwargs`` (the ``gymnasium.make``
    keyword arguments: ``difficulty``, ``split``, ``max_steps``, ``reward``, …)."""
    _check_env_id(env_id)
    _kwargs_key(env_kwargs)
    gym.make(env_id, **env_kwargs).close()  # bad arguments fail here, not in the first rollout
    short = env_id.split("/")[-1].split("-")[0]
    return type(f"{short}Tools", (InvestigationTools,),
                {"env_id": env_id, "env_kwargs": dict(env_kwargs), "__module__": __name__,
                 "__doc__": f"TRL's environment for {env_id} (see :class:`InvestigationTools`)."})


def environment_factories(env_ids: Iterable[str], **env_kwargs: Any) -> dict[str, type[InvestigationTools]]:
    """``{env_id: factory}`` for a run that mixes investigations (TRL selects each row's by its
    ``environment`` column, which :func:`investigation_rows` writes)."""
    return {env_id: environment_factory(env_id, **env_kwargs) for env_id in env_ids}


def max_tool_calling_iterations(max_steps: int = DEFAULT_MAX_STEPS) -> int:
    """TRL's cap on tool turns that matches an environment of ``max_steps`` turns (the final
    answer is one of them)."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps expects an int >= 1, got {max_steps!r}")
    return max_steps - 1


def investigation_rows(env_id: str, episodes: int, first_index: int = 0, **env_kwargs: Any) -> list[dict[str, Any]]:
    """``episodes`` GRPO rows of ``env_id`` (incidents ``first_index`` on; a finite split: at most
    all): ``prompt`` (the environment's system message and brief, as chat messages), ``env_id``,
    ``environment`` (the same: TRL's selector when several environments share a run), ``index``,
    ``env_kwargs`` (JSON) and ``incident_id``."""
    _check_env_id(env_id)
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes expects an int >= 1, got {episodes!r}")
    key = _kwargs_key(env_kwargs)
    env = gym.make(env_id, **env_kwargs)
    stop = min(first_index + episodes, len(env.unwrapped.incidents))
    rows = []
    for index in range(first_index, stop):
        _, info = env.reset(options={"index": index})
        rows.append({"prompt": info["messages"], "env_id": env_id, "environment": env_id, "index": index,
                     "env_kwargs": key, "incident_id": info["incident_id"]})
    env.close()
    return rows


class InvestigationReturn:
    """TRL reward function: each rollout's return in its investigation environment
    (``InvestigationTools._score``). TRL passes the rollouts' ``environments``; it is an error
    to use this without ``environment_factory``. With ``log_path``, every scored rollout is
    appended there as a JSON line (``env_id``, ``index``, ``incident_id``, ``completion`` — the
    messages TRL produced —, ``return``, ``truncated_by``, ``tool_calls``), so what the model did
    during training can be read and replayed. Picklable."""

    __name__ = "investigation_return"

    def __init__(self, log_path: str | os.PathLike | None = None):
        self.log_path = None if log_path is None else str(log_path)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 environments: Sequence[InvestigationTools] | None = None, **columns: Any) -> list[float]:
        if not environments:
            raise ValueError("investigation_return scores rollouts in their environments: pass "
                             "environment_factory=rlog_env.integrations.trl.environment_factory(...) to GRPOTrainer")
        if len(environments) != len(completions):
            raise ValueError(f"expects one environment per completion, got {len(environments)} for {len(completions)}")
        out, lines = [], []
        for environment, completion in zip(environments, completions):
            if isinstance(completion, str):  # a plain-text rollout is one final turn
                completion = [{"role": "assistant", "content": completion}]
            value = environment._score(completion)
            out.append(value)
            if self.log_path is not None:
                info = environment.last_info or {}
                lines.append(json.dumps({
                    "env_id": environment.env_id, "index": environment._row.get("index"),
                    "incident_id": environment._row.get("incident_id"), "completion": list(completion),
                    "return": value, "truncated_by": info.get("truncated_by"),
                    "tool_calls": sum(len(m.get("tool_calls") or ()) for m in completion if isinstance(m, Mapping)),
                }, ensure_ascii=False, default=str))
        if lines:
            with open(self.log_path, "a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        return out


__all__ = ["CUT_SHORT", "InvestigationReturn", "InvestigationTools", "environment_factories",
           "environment_factory", "investigation_rows", "max_tool_calling_iterations", "transcript_turns",
           "turn_text"]
