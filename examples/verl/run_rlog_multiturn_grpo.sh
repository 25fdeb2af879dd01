#!/usr/bin/env bash
# GRPO on VeRL for the investigation environments: tool calls over an incident's logs, then the
# answer; the reward is the Gymnasium environment's return (VeRL's agent loop rlog_investigation).
#
#   MODEL=/path/to/cold-start-checkpoint examples/verl/run_rlog_multiturn_grpo.sh [VERL_OVERRIDE ...]
#
# Needs a CUDA machine with `pip install 'rlog_env[verl]' vllm`. Writes the prompt sets on first
# use into $DATA (`rlog data export --kind verl --envs ...`), then runs `python -m
# verl.trainer.main_ppo` with rlog_multiturn_grpo.yaml; extra arguments are VeRL overrides.
# The cold start: `rlog data transcripts --envs ...` then `rlog train sft --envs ...` (README.md).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
MODEL="${MODEL:?set MODEL to the cold-start checkpoint (SFT on scripted-investigator transcripts)}"
DATA="${DATA:-$HERE/data-multiturn}"
ENVS="${ENVS:-RLog/IncidentDetection-v0 RLog/FaultLocalization-v0 RLog/RootCauseInvestigation-v0}"
EPISODES="${EPISODES:-256}"  # training incidents per environment
DIFFICULTY="${DIFFICULTY:-easy}"

if [ ! -f "$DATA/train.parquet" ]; then
    # shellcheck disable=SC2086
    rlog data export --kind verl --envs $ENVS --episodes "$EPISODES" --difficulty "$DIFFICULTY" \
        --out "$DATA/train.parquet"
fi

exec python -m verl.trainer.main_ppo --config-path="$HERE" --config-name=rlog_multiturn_grpo \
    data.train_files="$DATA/train.parquet" data.val_files="$DATA/train.parquet" \
    actor_rollout_ref.model.path="$MODEL" \
    actor_rollout_ref.rollout.agent.agent_loop_config_path="$HERE/rlog_agent_loops.yaml" "$@"
