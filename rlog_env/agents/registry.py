"""Agents by name, as the command line names them.

- built-in names: the baselines (``heuristic``, ``constant-normal``, ``echo``, ``empty``), the
  investigation baselines (``scripted-investigator``, ``answer-now``, ``random-tools``) and
  ``smollm2-135m`` (the prompt-only agent on SmolLM2-135M-Instruct, fetched by
  ``rlog model get smollm2-135m``);
- ``transformers:PATH_OR_ID``: a local transformers model, prompt-only;
- ``openai:MODEL@BASE_URL``: any OpenAI-compatible server (the model name may contain ``:``);
- ``python:module:callable``: a user's own agent object, agent class, or function
  ``prompt -> answer``; the module is looked for on the Python path and in the working
  directory. The spec is parsed, never evaluated: ``module`` must be a dotted
  module path and ``callable`` a plain name; that module (and its parent packages) is the only
  one imported, and the name is looked up in it with ``getattr`` alone. A missing module, a
  missing name or something that is not an agent is a ``ValueError`` naming the spec.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import re
import sys
from typing import Any, Iterable, Mapping, Sequence

from rlog_env.agents.base import Agent, as_agent

PREFIXES = ("transformers:", "openai:", "python:")
_MODULE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def builtin_names() -> tuple[str, ...]:
    """The names of the built-in agents (the investigation baselines last)."""
    from rlog_env.agents.baselines import BUILTIN_AGENTS, INVESTIGATORS

    return tuple(BUILTIN_AGENTS) + ("smollm2-135m",) + tuple(INVESTIGATORS)


def make_agent(spec: str, **options: Any) -> Agent:
    """The agent a command-line ``spec`` names; ``ValueError`` naming the accepted forms."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"an agent spec must be a non-empty string, got {spec!r}")
    if spec.startswith("transformers:"):
        from rlog_env.agents.transformers_agent import TransformersAgent

        return TransformersAgent(spec.split(":", 1)[1], **options)
    if spec.startswith("openai:"):
        from rlog_env.agents.openai_agent import OpenAIAgent

        rest = spec.split(":", 1)[1]
        model, sep, base_url = rest.rpartition("@")
        if not sep or not model or not base_url:
            raise ValueError(f"expected openai:MODEL@BASE_URL (e.g. openai:qwen3:8b@http://localhost:8000/v1), got {spec!r}")
        return OpenAIAgent(model, base_url, **options)
    if spec.startswith("python:"):
        return _python_agent(spec, options)
    if spec == "smollm2-135m":
        from rlog_env.agents.transformers_agent import TransformersAgent

        # A known model name: fetched into the model cache by get_model on first use.
        return TransformersAgent("smollm2-135m", name="smollm2-135m", **options)
    from rlog_env.agents.baselines import BUILTIN_AGENTS, INVESTIGATORS

    if spec in BUILTIN_AGENTS:
        return BUILTIN_AGENTS[spec](**options)
    if spec in INVESTIGATORS:
        return INVESTIGATORS[spec](**options)
    raise ValueError(
        f"unknown agent {spec!r}: expected one of {', '.join(builtin_names())}, or "
        "transformers:PATH_OR_ID, openai:MODEL@BASE_URL, python:module:callable"
    )


def parse_agent_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``--agent-option``) as a dict: a value that reads as JSON (a
    number, ``true``/``false``, ``null``, a quoted string) is that value, anything else the
    text itself. A pair without ``=`` or with an empty key is a ``ValueError``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = str(pair).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"an agent option is KEY=VALUE (e.g. max_concurrency=1), got {pair!r}")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        options[key.strip()] = value
    return options


def apply_agent_options(agents: Sequence[Any], options: Mapping[str, Any]) -> None:
    """Set each option on every agent that has it (a parameter of its ``get_params``); an option
    that no agent has is a ``ValueError`` naming the closest parameter any agent has."""
    taken: set[str] = set()
    known: set[str] = set()
    for agent in agents:
        params = agent.get_params() if hasattr(agent, "get_params") else {}
        known.update(params)
        mine = {key: value for key, value in options.items() if key in params}
        if mine:
            agent.set_params(**mine)
            taken.update(mine)
    for key in options:
        if key not in taken:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            names = ", ".join(getattr(a, "name", "?") for a in agents)
            raise ValueError(f"agent option {key!r} is not a parameter of any agent run ({names}){hint} "
                             f"Their parameters: {', '.join(sorted(known)) or 'none'}")


def _python_agent(spec: str, options: dict[str, Any]) -> Agent:
    """The agent ``python:module:callable`` names (see the module docstring)."""
    module_name, sep, attribute = spec[len("python:"):].rpartition(":")
    if not sep or not _MODULE_PATH.match(module_name) or not _NAME.match(attribute):
        raise ValueError(f"expected python:module:callable with a dotted module path and a name "
                         f"(e.g. python:my_agents:answer), got {spec!r}")
    # The working directory is where a user's agent module usually is (`python -m` would look
    # there; the rlog script does not): search it too, for this import only.
    here = os.getcwd()
    added = here not in sys.path and "" not in sys.path
    if added:
        sys.path.append(here)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"cannot load {spec!r}: no module named {exc.name!r} on the Python path "
                         "(run from the directory that holds it, or add it to PYTHONPATH)") from None
    except Exception as exc:  # the user's module failed on import: name it, with the reason
        raise ValueError(f"cannot load {spec!r}: importing {module_name!r} raised "
                         f"{type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(here)
    try:
        obj = getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"cannot load {spec!r}: module {module_name!r} has no attribute {attribute!r}") from None
    if isinstance(obj, type):
        obj = obj(**options)
    elif options:
        raise ValueError(f"{spec!r} names a {type(obj).__name__}, not a class: it takes no options "
                         f"(got {sorted(options)})")
    if not (hasattr(obj, "act") and hasattr(obj, "reasoning")) and not callable(obj):
        raise ValueError(f"{spec!r} names a {type(obj).__name__}, not an agent (an object with act() and "
                         "reasoning), an agent class or a function prompt -> answer")
    return as_agent(obj, name=spec)
