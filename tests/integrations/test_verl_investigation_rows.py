"""VeRL's investigation rows, without VeRL: the layout its dataset and ``ToolAgentLoop`` read
(``agent_name``, ``extra_info.tools_kwargs``), the same episodes TRL's rows hold, the parquet
round trip, ``rlog data export --kind verl --envs``, and ``compute_score`` refusing them with the fix.
The rollouts themselves run in VeRL's venv (tests/integrations/verl/test_multiturn_with_verl.py)."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from rlog_env.cli import main
from rlog_env.datasets.sim.tools import TOOL_SCHEMAS
from rlog_env.envs.investigation_env import INVESTIGATION_ENVIRONMENTS
from rlog_env.integrations import trl as rlog_trl
from rlog_env.integrations.verl import AGENT_NAME, compute_score, investigation_rows, rows, write_parquet
from rlog_env.tasks import TASKS

ENV = "RLog/RootCauseInvestigation-v0"
TOOLS = [s["function"]["name"] for s in TOOL_SCHEMAS]


@pytest.mark.parametrize("env_id", list(INVESTIGATION_ENVIRONMENTS))
def test_rows_are_the_environments_episodes_in_verls_layout(env_id):
    made = investigation_rows(env_id, 2, 1, difficulty="easy")
    assert [r["extra_info"]["index"] for r in made] == [1, 2]
    env = gym.make(env_id, difficulty="easy")
    for row, trl_row in zip(made, rlog_trl.investigation_rows(env_id, 2, 1, difficulty="easy")):
        assert row["data_source"] == env_id and row["agent_name"] == AGENT_NAME
        _, info = env.reset(options={"index": row["extra_info"]["index"]})
        assert row["prompt"] == info["messages"] == trl_row["prompt"]
        assert row["extra_info"]["incident_id"] == info["incident_id"]
        tools_kwargs = row["extra_info"]["tools_kwargs"]
        assert list(tools_kwargs) == TOOLS
        for kwargs in tools_kwargs.values():
            assert kwargs == {"create_kwargs": {"env_id": env_id, "index": row["extra_info"]["index"],
                                                "env_kwargs": trl_row["env_kwargs"]}}
        assert json.loads(trl_row["env_kwargs"]) == {"difficulty": "easy"}


def test_parquet_round_trip_and_kinds_kept_apart(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    made = investigation_rows(ENV, 2, difficulty="easy", max_steps=6)
    path = write_parquet(made, tmp_path / "inv.parquet")
    assert pq.read_table(path).to_pylist() == made
    one_step = rows([_one_sample()])
    with pytest.raises(ValueError, match="two files"):
        write_parquet(made + one_step, tmp_path / "mixed.parquet")


def _one_sample():
    from integrations.verl_cases import env_for, samples_of

    return samples_of(env_for(next(iter(TASKS)), "think-first", "rlog"))[0]


def test_cli_exports_investigation_rows(tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "train.parquet"
    assert main(["data", "export", "--kind", "verl", "--envs", ENV, "RLog/IncidentDetection-v0", "--episodes", "2",
                 "--difficulty", "easy", "--out", str(out)]) == 0
    assert "run_rlog_multiturn_grpo.sh" in capsys.readouterr().out
    table = pq.read_table(out).to_pylist()
    assert [(r["data_source"], r["extra_info"]["index"]) for r in table] == [
        (ENV, 0), (ENV, 1), ("RLog/IncidentDetection-v0", 0), ("RLog/IncidentDetection-v0", 1)]
    assert {r["agent_name"] for r in table} == {AGENT_NAME}


def test_compute_score_refuses_investigation_rows_naming_the_agent_loop():
    (row,) = investigation_rows(ENV, 1, difficulty="easy")
    with pytest.raises(ValueError, match=AGENT_NAME):
        compute_score(row["data_source"], "<answer>x</answer>", "", row["extra_info"])
