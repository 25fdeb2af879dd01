"""Shared fixtures: where the real data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _find_data_dir() -> Path | None:
    chosen = os.environ.get("RLOG_DATA_DIR")
    path = Path(chosen).expanduser() if chosen else REPO_ROOT.parent / "shared" / "data"
    return path.resolve() if path.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data directory: $RLOG_DATA_DIR, else ../shared/data next to the repository."""
    path = _find_data_dir()
    if path is None:
        pytest.fail(
            "no data directory: set RLOG_DATA_DIR to a folder laid out like shared/data "
            f"(loghub/, loglm/, ...) or put it at {REPO_ROOT.parent / 'shared' / 'data'}"
        )
    return path


# Small data directories in the repository, laid out like shared/data, for what shared/data
# lacks (LogLM's test-set files, LogHub's Mac): tests/datasets/data/README.md says what each holds.
FIXTURE_DATA_DIR = REPO_ROOT / "tests" / "datasets" / "data"


@pytest.fixture(scope="session")
def fixture_data_dir() -> Path:
    """``tests/datasets/data``: a data directory laid out like shared/data (read-only)."""
    return FIXTURE_DATA_DIR
