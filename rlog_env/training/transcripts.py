"""The cold start of the investigations: transcripts of an investigator, as conversational SFT data.

R-Log's first stage teaches the format before GRPO rewards the answer; an investigation also
needs the habit of calling tools, or GRPO's rollouts never hold one and nothing is learnt about
them. :func:`play_transcripts` plays an investigator through an investigation environment and
keeps each episode's conversation (``info["messages"]``) and return;
:func:`cold_start_transcripts` does it for the scripted investigator (fitted on training
incidents other than those it plays), and where a teacher agent is given, keeps the teacher's
transcript of an incident instead when its return reaches ``threshold`` (rejection sampling, as
``rlog data reasoning --teacher`` does for the one-step tasks). Only episodes that end with an
answer (not truncated) are kept: a cold start teaches finishing.

:func:`sft_rows` writes each transcript as TRL's conversational format with tools: ``messages``
(each tool turn an assistant message whose ``tool_calls`` hold the calls, arguments as JSON
objects, so Qwen2.5's chat template writes them exactly as the model will write them under
GRPO; tool results as ``tool`` messages) and ``tools`` (the tools' JSON schemas as a JSON text,
which TRL's SFTTrainer hands to the chat template). Train on them with ``assistant_only_loss``
(``rlog train sft --envs …`` does), so only the model's own turns are learnt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import gymnasium as gym

from rlog_env.agents.base import Observation, openai_messages
from rlog_env.datasets.incidents import INCIDENT_SOURCES, open_incidents
from rlog_env.datasets.sim.tools import TOOL_SCHEMAS
from rlog_env.envs.investigation_env import INVESTIGATION_ENVIRONMENTS

TRANSCRIPTS = "transcripts.jsonl"  # the file of a transcript data set
FIT_INCIDENTS = 300  # training incidents the scripted investigator fits on
# Transcripts are played on training incidents from here on, apart from those it fitted on.
FIRST_INDEX = 100_000


def play_transcripts(agent: Any, env_id: str, indices: Iterable[int], **env_kwargs: Any) -> list[dict[str, Any]]:
    """Play ``agent`` on incidents ``indices`` of ``env_id`` (made with ``env_kwargs``), all at
    once (one ``act`` per turn for every live episode). One record per episode: ``env_id``,
    ``index``, ``incident_id``, ``agent``, ``messages`` (the whole conversation), ``return``,
    ``terminated`` (ended with an answer) and ``truncated_by``."""
    if env_id not in INVESTIGATION_ENVIRONMENTS:
        raise ValueError(f"expects an investigation environment ({', '.join(INVESTIGATION_ENVIRONMENTS)}), got {env_id!r}")
    indices = list(indices)
    envs = [gym.make(env_id, **env_kwargs) for _ in indices]
    current, infos, returns = [], [], [0.0] * len(indices)
    for env, index in zip(envs, indices):
        observation, info = env.reset(options={"index": index})
        current.append(Observation.from_reset(observation, info))
        infos.append(info)
    records: list[dict[str, Any] | None] = [None] * len(indices)
    live = list(range(len(indices)))
    while live:
        answers = agent.act([current[k] for k in live])
        still = []
        for k, answer in zip(live, answers):
            observation, reward, terminated, truncated, step = envs[k].step(answer)
            returns[k] += reward
            if terminated or truncated:
                records[k] = {"env_id": env_id, "index": indices[k], "incident_id": infos[k]["incident_id"],
                              "agent": agent.name, "messages": step["messages"], "return": returns[k],
                              "terminated": bool(terminated), "truncated_by": step.get("truncated_by")}
            else:
                current[k] = Observation.from_reset(observation, {**infos[k], **step})
                still.append(k)
        live = still
    for env in envs:
        env.close()
    return records  # type: ignore[return-value]


def scripted_investigator(source: str = "sim", domains=None, data_dir=None, **incident_options: Any):
    """The scripted investigator, fitted on :data:`FIT_INCIDENTS` training incidents of ``source``
    in the domains it may learn from (never a held-out family or fault type)."""
    from rlog_env.agents.baselines.investigators import ScriptedInvestigator

    spec = INCIDENT_SOURCES[source]
    incidents = open_incidents(source, "train", spec.fit_domains(domains), data_dir=data_dir, **incident_options)
    return ScriptedInvestigator().fit(incidents[i] for i in range(min(FIT_INCIDENTS, len(incidents))))


def cold_start_transcripts(env_ids: Sequence[str], episodes: int, teacher: Any = None, threshold: float = 0.0,
                           first_index: int = FIRST_INDEX, investigator: Any = None,
                           **env_kwargs: Any) -> list[dict[str, Any]]:
    """Transcripts of ``episodes`` training incidents per environment (from ``first_index`` on):
    the scripted investigator's (``investigator``, or one fitted here by
    :func:`scripted_investigator`), or ``teacher``'s where its return is at least ``threshold``;
    only episodes that ended with an answer."""
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes expects an int >= 1, got {episodes!r}")
    options = {k: env_kwargs[k] for k in ("difficulty",) if k in env_kwargs}
    scripted = investigator or scripted_investigator(env_kwargs.get("source", "sim"), env_kwargs.get("domains"),
                                                     env_kwargs.get("data_dir"), **options)
    kept = []
    for env_id in env_ids:
        env = gym.make(env_id, **env_kwargs)
        stop = min(first_index + episodes, len(env.unwrapped.incidents))
        env.close()
        indices = range(min(first_index, max(0, stop - episodes)), stop)
        records = play_transcripts(scripted, env_id, indices, **env_kwargs)
        if teacher is not None:
            taught = play_transcripts(teacher, env_id, indices, **env_kwargs)
            records = [t if t["terminated"] and t["return"] >= threshold else r for r, t in zip(records, taught)]
        kept.extend(r for r in records if r["terminated"])
    return kept


def _chat(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """An environment's conversation for a chat template with tools: tool-call arguments as JSON
    objects (the template serialises them itself), empty content as ``""``."""
    out = []
    for message in openai_messages(messages):
        message = dict(message)
        if message.get("content") is None:
            message["content"] = ""
        if message.get("tool_calls"):
            message["tool_calls"] = [{"type": "function", "function": {
                "name": call["function"]["name"], "arguments": json.loads(call["function"]["arguments"])}}
                for call in message["tool_calls"]]
        message.pop("tool_call_id", None)
        out.append(message)
    return out


def sft_rows(transcripts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conversational SFT rows (``messages``, ``tools``) of transcripts, with where each came from."""
    tools = json.dumps(TOOL_SCHEMAS)
    return [{"messages": _chat(t["messages"]), "tools": tools, "env_id": t["env_id"], "index": t["index"],
             "agent": t["agent"], "return": t["return"]} for t in transcripts]


def sft_dataset(transcripts: Iterable[dict[str, Any]]):
    """A :class:`datasets.Dataset` of :func:`sft_rows` (``messages``, ``tools``) for TRL's
    SFTTrainer. The tool calls' ``arguments`` are typed as JSON values: Arrow would otherwise
    merge every call's arguments into one struct, and the chat template would write a ``null``
    for each argument another tool has."""
    try:
        import datasets
    except ImportError as error:  # pragma: no cover - the train extra installs it
        raise ImportError("the training exports need Hugging Face datasets: pip install 'rlog_env[train]'") from error
    rows = [{"messages": r["messages"], "tools": r["tools"]} for r in sft_rows(transcripts)]
    if not rows:
        raise ValueError("expects at least one transcript to build a data set, got none")
    call = {"type": datasets.Value("string"),
            "function": {"name": datasets.Value("string"), "arguments": datasets.Json()}}
    message = {"role": datasets.Value("string"), "content": datasets.Value("string"),
               "tool_calls": datasets.List(call)}
    features = datasets.Features({"messages": datasets.List(message), "tools": datasets.Value("string")})
    return datasets.Dataset.from_list(rows, features=features)


def write_transcripts(transcripts: Iterable[dict[str, Any]], directory: str | os.PathLike) -> Path:
    """Write transcripts into ``directory``/:data:`TRANSCRIPTS` (atomically)."""
    from rlog_env.training.export import write_jsonl

    return write_jsonl(transcripts, Path(directory) / TRANSCRIPTS)


def _transcript(record: Any) -> dict[str, Any]:
    if not isinstance(record.get("messages"), list):
        raise ValueError("no messages")
    return record


def read_transcripts(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """The transcripts of a directory written by ``rlog data transcripts``."""
    from rlog_env.training.export import read_records

    return read_records(Path(directory) / TRANSCRIPTS, _transcript, "a transcript record", "rlog data transcripts")


__all__ = ["FIRST_INDEX", "FIT_INCIDENTS", "TRANSCRIPTS", "cold_start_transcripts", "play_transcripts",
           "read_transcripts", "scripted_investigator", "sft_dataset", "sft_rows", "write_transcripts"]
