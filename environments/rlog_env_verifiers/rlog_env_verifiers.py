"""rlog_env's environments, published as a verifiers environment (``vf-eval rlog-env-verifiers``).

``load_environment(env_id=..., episodes=..., reasoning=..., reward=..., **env_kwargs)`` is
:func:`rlog_env.integrations.verifiers.load_environment`: its docstring says what each
environment is and how it is scored.
"""

from rlog_env.integrations.verifiers import load_environment

__all__ = ["load_environment"]
