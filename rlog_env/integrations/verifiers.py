"""verifiers environments (the classic API of ``verifiers`` 0.3: ``SingleTurnEnv``,
``StatefulToolEnv``, ``Rubric``) over rlog_env's tasks, incidents, tools and rewards.

:func:`load_environment` is the entry point verifiers looks for (``vf-eval``, prime-rl and
``vf.load_environment`` call a module's ``load_environment(**env_args)``)::

    import verifiers as vf
    from rlog_env.integrations.verifiers import load_environment
    env = load_environment("RLog/LogParsing-v0", episodes=64)              # a vf.SingleTurnEnv
    env = load_environment("RLog/RootCauseInvestigation-v0", episodes=16,
                           difficulty="easy")                               # a vf.StatefulToolEnv
    results = env.evaluate_sync(client=vf.ClientConfig(api_base_url=..., api_key_var=...),
                                model="...", num_examples=8)

``environments/rlog_env_verifiers/`` packages it as verifiers environments are published (a
module with ``load_environment`` and a ``pyproject.toml`` with ``[tool.verifiers.eval]``), so
``vf-eval rlog-env-verifiers -a '{"environment": "RLog/LogParsing-v0"}' ...`` finds it.

What each environment is:

- **one-step tasks** (``RLog/LogParsing-v0`` …): a ``vf.SingleTurnEnv`` whose data set holds the
  environment's prompts (``prompt``: the chat messages ``reset`` returns; ``answer``: the
  reference; ``info``: ``index``, and under ``rlog`` what the reward needs to rebuild the
  sample — VeRL's ``extra_info`` and ``data_source``, :func:`rlog_env.integrations.verl.row`;
  nested, because verifiers reserves ``info["task"]`` and ``info["env_id"]`` for itself) and whose rubric is two reward functions,
  ``format_reward`` and ``answer_reward``, **weights 1.0 and 1.0**: verifiers' reward (their
  weighted sum) is the environment's total reward, and each part is logged apart. Both reach
  the task's own scoring through :func:`rlog_env.integrations.verl.compute_score`, once per
  rollout.
- **investigations** (``RLog/RootCauseInvestigation-v0`` …): a ``vf.StatefulToolEnv`` whose
  tools are the tool functions of :data:`~rlog_env.datasets.sim.tools.TOOL_SCHEMAS` (the methods
  :mod:`rlog_env.integrations.trl` generates from them, advertised with those very schemas),
  run on the row's incident, which ``setup_state`` opens from the row's ``info["rlog"]``
  (``env_id``, ``index``, ``env_kwargs``, ``incident_id``: a row of
  :func:`rlog_env.integrations.trl.investigation_rows`). The rubric is one reward function, ``investigation_return``
  (weight 1.0): the Gymnasium return of the rollout's transcript, every turn replayed through
  the environment (:class:`rlog_env.integrations.trl.InvestigationTools`). ``max_turns`` is the
  environment's ``max_steps``; a rollout that ends on unanswered tool calls scores the
  environment's truncation, as in TRL.

Importing this module imports neither verifiers nor ``datasets``: :func:`load_environment` does,
and raises an ``ImportError`` naming the extra when they are missing.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import gymnasium as gym

from rlog_env.datasets.sim.tools import TOOL_SCHEMAS
from rlog_env.envs.investigation_env import DEFAULT_MAX_STEPS, INVESTIGATION_ENVIRONMENTS
from rlog_env.integrations import trl as rlog_trl
from rlog_env.integrations import verl as rlog_verl
from rlog_env.tasks import RLOG, TASKS, THINK_FIRST

VERIFIERS_EXTRA_HINT = "pip install 'rlog_env[verifiers]' (verifiers>=0.3,<0.4)"
DEFAULT_EPISODES = 64


def _verifiers():
    try:
        import datasets
        import verifiers as vf
        vf.SingleTurnEnv  # the classic API (0.3); 0.4 moved to verifiers.v1 harnesses  # noqa: B018
    except (ImportError, AttributeError) as error:
        raise ImportError(f"rlog_env.integrations.verifiers needs verifiers 0.3 (its classic API): "
                          f"{VERIFIERS_EXTRA_HINT}") from error
    return vf, datasets


def environment_ids() -> tuple[str, ...]:
    """The ids :func:`load_environment` serves: the one-step tasks', then the investigations'."""
    return tuple(cls.env_id for cls in TASKS.values()) + tuple(INVESTIGATION_ENVIRONMENTS)


def _messages(messages: Sequence[Any] | str | None) -> list[dict[str, Any]]:
    """verifiers' messages (pydantic models) as the plain OpenAI-style dicts rlog_env reads."""
    if messages is None:
        return []
    if isinstance(messages, str):
        return [{"role": "assistant", "content": messages}]
    out = []
    for message in messages:
        if hasattr(message, "model_dump"):
            message = message.model_dump(exclude_none=True)
        out.append(dict(message))
    return out


def _answer_text(completion: Any) -> str:
    """The text of a one-step completion: its assistant contents, joined (as TRL's functions read it)."""
    parts = []
    for message in _messages(completion):
        if message.get("role") == "assistant":
            content = message.get("content") or ""
            if not isinstance(content, str):
                content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
            parts.append(content)
    return "".join(parts)


# -- one-step tasks ----------------------------------------------------------------------------
def _one_step_rows(env_id: str, episodes: int, reasoning: str, reward: str, env_kwargs: dict[str, Any]) -> list[dict]:
    env = gym.make(env_id, reasoning=reasoning, reward=reward, **env_kwargs)
    source = env.unwrapped.source
    rows = []
    for index in range(min(episodes, len(source))):
        row = rlog_verl.row(source[index], index, reasoning, reward)
        rows.append({"prompt": row["prompt"], "answer": row["reward_model"]["ground_truth"],
                     "info": {"index": index, "rlog": {**row["extra_info"], "data_source": row["data_source"]}}})
    env.close()
    return rows


def _scored(state: Any, completion: Any, answer: str, info: Mapping[str, Any]) -> dict[str, Any]:
    """The task's score of the rollout (``compute_score``), once per rollout: kept in its state."""
    text = _answer_text(completion)
    kept = state.get("rlog_score") if state is not None else None
    if kept is not None and kept[0] == text:
        return kept[1]
    row = info["rlog"]
    score = rlog_verl.compute_score(row["data_source"], text, answer, row)
    if state is not None:
        state["rlog_score"] = (text, score)
    return score


def format_reward(completion: Any, answer: str, info: Mapping[str, Any], state: Any = None, **kwargs: Any) -> float:
    """The format part of the task's reward (the R-Log format rule under the row's scheme)."""
    return float(_scored(state, completion, answer, info)["format"])


def answer_reward(completion: Any, answer: str, info: Mapping[str, Any], state: Any = None, **kwargs: Any) -> float:
    """The answer part of the task's reward (the task's metric under the row's scheme)."""
    return float(_scored(state, completion, answer, info)["answer"])


def _single_turn(vf, datasets, env_id: str, episodes: int, reasoning: str, reward: str,
                 env_kwargs: dict[str, Any]):
    rows = _one_step_rows(env_id, episodes, reasoning, reward, env_kwargs)
    rubric = vf.Rubric(funcs=[format_reward, answer_reward], weights=[1.0, 1.0])
    dataset = datasets.Dataset.from_list(rows)  # the split asked for: to train on and to evaluate
    return vf.SingleTurnEnv(dataset=dataset, eval_dataset=dataset, rubric=rubric, env_id=env_id,
                            env_args={"environment": env_id, "episodes": episodes, "reasoning": reasoning,
                                      "reward": reward, **env_kwargs})


# -- investigations ----------------------------------------------------------------------------
def investigation_return(completion: Any, state: Any, **kwargs: Any) -> float:
    """The Gymnasium return of the rollout: its transcript replayed through the environment."""
    return float(state["rlog_tools"]._score(_messages(completion)))


def _tool_defs(vf) -> list:
    """verifiers' tool definitions: :data:`TOOL_SCHEMAS`' functions, as they are."""
    return [vf.Tool(name=s["function"]["name"], description=s["function"]["description"],
                    parameters=s["function"]["parameters"]) for s in TOOL_SCHEMAS]


def _tool_env_class(vf):
    class InvestigationToolEnv(vf.StatefulToolEnv):
        """A verifiers ``StatefulToolEnv`` over one investigation environment (see
        :mod:`rlog_env.integrations.verifiers`): ``setup_state`` opens the row's incident in a
        :class:`~rlog_env.integrations.trl.InvestigationTools`, every tool call runs on it."""

        def __init__(self, factory: type[rlog_trl.InvestigationTools], **kwargs: Any):
            super().__init__(**kwargs)
            self.factory = factory
            for schema in TOOL_SCHEMAS:
                # The generated method (self first: the session, injected by update_tool_args).
                self.add_tool(getattr(rlog_trl.InvestigationTools, schema["function"]["name"]),
                              args_to_skip=["self"])
            self.tool_defs = _tool_defs(vf)  # advertised exactly as the Gymnasium environment does

        async def setup_state(self, state, **kwargs):
            session = self.factory()
            session.reset(**state["info"]["rlog"])
            state["rlog_tools"] = session
            return await super().setup_state(state, **kwargs)

        def update_tool_args(self, tool_name: str, tool_args: dict, messages, state, **kwargs) -> dict:
            return {**tool_args, "self": state["rlog_tools"]}

    return InvestigationToolEnv


def _tool_env(vf, datasets, env_id: str, episodes: int, reasoning: str, reward: str,
              env_kwargs: dict[str, Any]):
    kwargs = {"reasoning": reasoning, "reward": reward, **env_kwargs}
    factory = rlog_trl.environment_factory(env_id, **kwargs)
    rows = [{"prompt": row["prompt"],
             "info": {"index": row["index"], "rlog": {"env_id": row["env_id"], "index": row["index"],
                                                      "env_kwargs": row["env_kwargs"],
                                                      "incident_id": row["incident_id"]}}}
            for row in rlog_trl.investigation_rows(env_id, episodes, **kwargs)]
    rubric = vf.Rubric(funcs=[investigation_return], weights=[1.0])
    dataset = datasets.Dataset.from_list(rows)
    return _tool_env_class(vf)(factory, dataset=dataset, eval_dataset=dataset, rubric=rubric,
                               max_turns=int(env_kwargs.get("max_steps", DEFAULT_MAX_STEPS)), env_id=env_id,
                               env_args={"environment": env_id, "episodes": episodes, **kwargs})


# -- the entry point ---------------------------------------------------------------------------
def load_environment(environment: str = "RLog/LogParsing-v0", episodes: int = DEFAULT_EPISODES,
                     reasoning: str = THINK_FIRST, reward: str = RLOG, **env_kwargs: Any):
    """A verifiers environment for the rlog_env environment id ``environment`` (one of
    :func:`environment_ids`; named so, not ``env_id``, because verifiers' own
    ``load_environment(env_id, **env_args)`` passes ``env_id`` itself: the package's name).

    ``episodes``: the data set's rows, the split's first ``episodes`` samples or incidents (a
    finite split gives at most all); ``reasoning`` (the output format) and ``reward`` (the
    scheme) as in ``gymnasium.make``; ``env_kwargs``: the environment's other ``gymnasium.make``
    arguments (``source``, ``split``, ``data_dir``, ``domains``, source options; for
    investigations ``difficulty``, ``max_steps``, ``step_cost``, …), JSON values.

    One-step ids give a ``vf.SingleTurnEnv`` whose rubric is ``format_reward`` (weight 1.0) +
    ``answer_reward`` (weight 1.0) = the environment's reward; investigation ids a
    ``vf.StatefulToolEnv`` whose rubric is ``investigation_return`` (weight 1.0) = the
    environment's return. ``ImportError`` naming the extra without verifiers 0.3.
    """
    env_id = environment
    if env_id not in environment_ids():
        raise ValueError(f"environment expects one of {', '.join(environment_ids())}, got {env_id!r}")
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes expects an int >= 1, got {episodes!r}")
    try:
        json.dumps(env_kwargs)
    except TypeError as error:
        raise ValueError(f"environment arguments must be JSON values (vf-eval passes them as JSON), "
                         f"got {env_kwargs!r}: {error}") from error
    vf, datasets = _verifiers()
    build = _tool_env if env_id in INVESTIGATION_ENVIRONMENTS else _single_turn
    return build(vf, datasets, env_id, episodes, reasoning, reward, dict(env_kwargs))


__all__ = ["DEFAULT_EPISODES", "answer_reward", "environment_ids", "format_reward", "investigation_return",
           "load_environment"]
