"""Adapters that take rlog_env's environments to other training engines.

Each module wraps the same tasks, incidents, tools and rewards the Gymnasium environments use —
nothing about a tool or a score is written twice — and imports its engine lazily (or not at
all), so ``import rlog_env`` never pulls one in:

- :mod:`rlog_env.integrations.trl`: environment factories for TRL's multi-turn GRPO
  (``GRPOTrainer(environment_factory=…)``), one per investigation environment.
- :mod:`rlog_env.integrations.verl`: VeRL's reward function (``compute_score``) and its
  parquet data layout for the one-step tasks.
- :mod:`rlog_env.integrations.verifiers`: ``load_environment`` for verifiers 0.3 (``vf-eval``,
  prime-rl): a ``SingleTurnEnv`` per one-step task, a ``StatefulToolEnv`` per investigation;
  ``environments/rlog_env_verifiers/`` publishes it.
"""
