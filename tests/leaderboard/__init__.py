"""Tests of rlog_env.leaderboard: split-level metrics, the runner, tables."""
