"""Tests of rlog_env.tasks: golden scores, format rules, reward functions for TRL."""
