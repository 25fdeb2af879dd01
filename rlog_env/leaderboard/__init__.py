"""The leaderboard: the evaluation runner, the results store, the streamed aggregate and its
tables. A task of a new kind brings its field metrics here with :func:`register_field_metrics`
(a kind with none gets :class:`MeanMetrics`, the mean of each numeric entry of the step's
metrics)."""

from rlog_env.leaderboard.aggregate import (
    FIELD_METRICS,
    Aggregate,
    FieldMetrics,
    MeanMetrics,
    field_metrics_for,
    register_field_metrics,
    registered_field_metrics,
    task_column,
    unregister_field_metrics,
)

__all__ = [
    "FIELD_METRICS", "Aggregate", "FieldMetrics", "MeanMetrics", "field_metrics_for",
    "register_field_metrics", "registered_field_metrics", "task_column", "unregister_field_metrics",
]
