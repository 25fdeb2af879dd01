"""rlog_env without verifiers: ``import rlog_env`` (and the adapter module) never imports it, and
``load_environment`` without it names the extra to install. Runs in every venv."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import rlog_env, rlog_env.integrations.verifiers
loaded = sorted(m for m in sys.modules if m == "verifiers" or m.startswith("verifiers."))
assert not loaded, loaded
"""

MISSING = """
import sys
sys.modules["verifiers"] = None  # as if it were not installed
from rlog_env.integrations.verifiers import load_environment
try:
    load_environment("RLog/LogParsing-v0", episodes=1)
except ImportError as error:
    assert "rlog_env[verifiers]" in str(error), error
else:
    raise AssertionError("load_environment without verifiers must raise ImportError")
"""


def run(code: str) -> None:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_import_rlog_env_imports_no_verifiers():
    run(CHECK)


def test_a_missing_verifiers_names_the_extra():
    run(MISSING)
