"""VeRL's multi-turn rollout on the investigation environments: an agent loop and its tools.

VeRL (``verl`` 0.9) plays a multi-turn rollout in an *agent loop* (``AgentLoopBase``), one
instance per trajectory, chosen by each row's ``agent_name``. This module gives it
:class:`InvestigationAgentLoop`, registered as :data:`AGENT_NAME`: VeRL's own ``ToolAgentLoop``
(chat template, Hermes ``<tool_call>`` parsing, token bookkeeping, turn caps) over the
investigation tools, which scores the finished rollout *by playing its transcript through the
Gymnasium environment* — the replay of :mod:`rlog_env.integrations.trl`, rule for rule — and
returns that return as the trajectory's ``reward_score``, so VeRL's reward function is not
called for these rows and the return VeRL trains on is the environment's, by construction.

- The tools are :class:`InvestigationTool`, a VeRL ``BaseTool`` per entry of
  :data:`~rlog_env.datasets.sim.tools.TOOL_SCHEMAS` (name, parameters and descriptions come from
  there; no tool config YAML repeats them): ``create(create_kwargs={env_id, index,
  env_kwargs})`` opens the row's incident — ``ToolAgentLoop`` creates and releases an instance
  for every call, so incidents are cached per process —, ``execute`` runs the same tool function
  the environment runs, ``release`` drops the instance.
- The rows come from :func:`rlog_env.integrations.verl.investigation_rows`
  (``rlog data export --kind verl --envs ID ... --out FILE.parquet``): ``agent_name`` is
  :data:`AGENT_NAME` and ``extra_info.tools_kwargs`` carries each tool's ``create_kwargs``, the
  one place a row names its environment, incident and environment arguments.
- VeRL finds the loop through ``actor_rollout_ref.rollout.agent.agent_loop_config_path``
  (``examples/verl/rlog_agent_loops.yaml``: ``name`` and ``_target_``).

How a rollout maps onto an episode (as for TRL): each assistant message is a turn (its content
and its tool calls written back in the Hermes convention), the environment steps them in order;
a rollout that stops on tool calls that were never answered (``multi_turn.max_assistant_turns``
reached, or ``response_length``) or before an answer ends in the environment's truncation
(``truncated_by`` ``"max_steps"`` where that turn was the environment's last, else
:data:`~rlog_env.integrations.trl.CUT_SHORT`). Set ``max_assistant_turns`` to the environment's
``max_steps`` (the answer is a turn). One difference: VeRL's Hermes parser drops a
``<tool_call>`` block it cannot decode and keeps the rest of the turn, so the environment reads
what is left (a turn of only undecodable calls reads as an answer).

Imports verl at import time (it subclasses VeRL's classes): ``pip install 'rlog_env[verl]'``.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Mapping, Optional
from uuid import uuid4

try:
    from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, register
    from verl.experimental.agent_loop.tool_agent_loop import AgentData, ToolAgentLoop
    from verl.tools.base_tool import BaseTool
    from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse
except ImportError as error:  # pragma: no cover - exercised only without verl
    raise ImportError("rlog_env.integrations.verl_multiturn needs VeRL's agent loop (and its cachetools, "
                      "uvicorn, fastapi): pip install 'rlog_env[verl]'") from error

from rlog_env.datasets.sim.tools import TOOL_SCHEMAS, run_tool
from rlog_env.integrations.trl import InvestigationTools, environment_factory
from rlog_env.integrations.verl import AGENT_NAME

CREATE_KEYS = ("env_id", "index", "env_kwargs")  # a tool's create_kwargs: the row's episode


# -- one episode's environment, per process ------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _factory(env_id: str, env_kwargs: str) -> type[InvestigationTools]:
    """TRL's environment class for ``env_id`` made with ``env_kwargs`` (JSON): it holds the
    incident cache its instances share, and plays transcripts through the Gymnasium environment."""
    try:
        kwargs = json.loads(env_kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"create_kwargs['env_kwargs'] expects the environment's arguments as JSON text, got "
                         f"{env_kwargs!r:.80}; write rows with rlog_env.integrations.verl.investigation_rows") from error
    return environment_factory(env_id, **kwargs)


def episode_of(create_kwargs: Any) -> tuple[str, int, str]:
    """``(env_id, index, env_kwargs)`` of a tool's ``create_kwargs``; ``ValueError`` naming the fix."""
    if not isinstance(create_kwargs, Mapping) or any(k not in create_kwargs for k in CREATE_KEYS):
        raise ValueError(f"an investigation tool expects create_kwargs with {', '.join(CREATE_KEYS)}, got "
                         f"{create_kwargs!r:.120}; write the rows with rlog_env.integrations.verl.investigation_rows "
                         "(`rlog data export --kind verl --envs ID ...`), which fill extra_info.tools_kwargs")
    return str(create_kwargs["env_id"]), int(create_kwargs["index"]), str(create_kwargs["env_kwargs"])


def open_episode(create_kwargs: Any) -> InvestigationTools:
    """The Gymnasium environment of ``create_kwargs``, reset to its incident's start."""
    env_id, index, env_kwargs = episode_of(create_kwargs)
    tools = _factory(env_id, env_kwargs)()
    tools.reset(env_id=env_id, index=index, env_kwargs=env_kwargs)
    return tools


def _incident(create_kwargs: Any):
    env_id, index, env_kwargs = episode_of(create_kwargs)
    cls = _factory(env_id, env_kwargs)
    if cls._shared is None:  # the first instance makes the class's incident cache
        cls()
    return cls._shared[index]


# -- the tools -----------------------------------------------------------------------------------
_SCHEMAS = {schema["function"]["name"]: schema for schema in TOOL_SCHEMAS}


class InvestigationTool(BaseTool):
    """One investigation tool as a VeRL ``BaseTool``; ``config["name"]`` names it (its schema is
    :data:`~rlog_env.datasets.sim.tools.TOOL_SCHEMAS`'s). Its output is the text the
    environment's ``step`` shows for the same call (the tool's error message for a bad call)."""

    def __init__(self, config: dict, tool_schema: Optional[OpenAIFunctionToolSchema] = None):
        name = (config or {}).get("name")
        if name not in _SCHEMAS:
            raise ValueError(f"InvestigationTool expects config['name'] to be one of {', '.join(_SCHEMAS)}, got {name!r}")
        schema = OpenAIFunctionToolSchema.model_validate(_SCHEMAS[name])
        if tool_schema is not None and tool_schema.function.name != name:
            raise ValueError(f"InvestigationTool {name!r} got the schema of {tool_schema.function.name!r}; "
                             "leave tool_schema out: it comes from rlog_env's TOOL_SCHEMAS")
        self._instances: dict[str, Any] = {}
        super().__init__(config, schema)

    def get_openai_tool_schema(self) -> OpenAIFunctionToolSchema:
        return self.tool_schema

    async def create(self, instance_id: Optional[str] = None, create_kwargs: Any = None, **kwargs: Any):
        instance_id = instance_id or uuid4().hex
        self._instances[instance_id] = _incident(create_kwargs)
        return instance_id, ToolResponse()

    async def execute(self, instance_id: str, parameters: dict[str, Any], **kwargs: Any):
        incident = self._instances.get(instance_id)
        if incident is None:
            raise RuntimeError(f"{self.name}: no instance {instance_id!r}; create() it first (ToolAgentLoop does)")
        return ToolResponse(text=run_tool(incident, self.name, parameters).text), 0.0, {}

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        self._instances.pop(instance_id, None)


@functools.lru_cache(maxsize=1)
def investigation_tools() -> tuple[InvestigationTool, ...]:
    """One :class:`InvestigationTool` per tool of :data:`~rlog_env.datasets.sim.tools.TOOL_SCHEMAS`
    (made once per process; the instances keep no state between calls but their open ones)."""
    return tuple(InvestigationTool({"type": "native", "name": name}) for name in _SCHEMAS)


# -- the agent loop ------------------------------------------------------------------------------
@register(AGENT_NAME)
class InvestigationAgentLoop(ToolAgentLoop):
    """VeRL's ``ToolAgentLoop`` over the investigation tools whose ``reward_score`` is the
    Gymnasium environment's return for the rollout's transcript.

    Tools the worker loaded from a tool config stay available beside the investigation ones (an
    investigation tool's name is always rlog_env's). The return's parts go to
    ``extra_fields["reward_extra_info"]``: ``return``, ``truncated_by`` (``""`` when the episode
    ended with an answer) and ``tool_calls``.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for tool in investigation_tools():
            self.tools[tool.name] = tool
        self.tool_schemas = [t.tool_schema.model_dump(exclude_unset=True, exclude_none=True) for t in self.tools.values()]
        self._agent_data: AgentData | None = None

    async def _handle_pending_state(self, agent_data: AgentData, sampling_params: dict[str, Any]):
        self._agent_data = agent_data  # one loop instance per trajectory: keep its state for scoring
        return await super()._handle_pending_state(agent_data, sampling_params)

    async def _handle_generating_state(self, agent_data: AgentData, sampling_params: dict[str, Any],
                                       ignore_termination: bool = False):
        before = len(agent_data.messages)
        state = await super()._handle_generating_state(agent_data, sampling_params, ignore_termination)
        if len(agent_data.messages) == before:
            # VeRL stopped at a cap (turns, response length) before reading the turn it generated:
            # read it as it would have, so the environment steps (or cuts short) the turn the model took.
            active = getattr(agent_data, "_active_tools", self.tools)
            content, agent_data.tool_calls = await self.tool_parser.extract_tool_calls(
                agent_data.response_ids, [tool.tool_schema for tool in active.values()])
            agent_data.messages.append(self._build_assistant_message(content, agent_data))
        return state

    def _spoken(self, message: dict[str, Any]) -> dict[str, Any]:
        """An assistant message as the model wrote it: VeRL decodes a turn with its special tokens,
        so its content ends in the end-of-turn token the server returns; the environment's action
        is the text before it (as TRL decodes it)."""
        content = message.get("content")
        if message.get("role") != "assistant" or not isinstance(content, str):
            return message
        specials = [t for t in getattr(self.tokenizer, "all_special_tokens", ()) if t]
        stripped = content
        while True:
            end = stripped.rstrip()
            token = next((t for t in specials if end.endswith(t)), None)
            if token is None:
                break
            stripped = end[: -len(token)]
        return message if stripped == content else {**message, "content": stripped}

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        tools_kwargs = kwargs.get("tools_kwargs") or {}
        create_kwargs = next((v.get("create_kwargs") for v in tools_kwargs.values() if isinstance(v, Mapping)), None)
        env = open_episode(create_kwargs)  # a bad row fails before the first generation
        prompt_length = len(kwargs["raw_prompt"])
        output = await super().run(sampling_params, **kwargs)
        completion = [self._spoken(m) for m in self._agent_data.messages[prompt_length:]]
        value = env._score(completion)
        info = env.last_info or {}
        output.reward_score = value
        output.extra_fields["reward_extra_info"] = {
            "return": value, "truncated_by": info.get("truncated_by") or "",
            "tool_calls": sum(len(m.get("tool_calls") or ()) for m in completion),
        }
        return output


__all__ = ["AGENT_NAME", "CREATE_KEYS", "InvestigationAgentLoop", "InvestigationTool", "episode_of",
           "investigation_tools", "open_episode"]
