#!/usr/bin/env bash
# R-Log's GRPO stage on VeRL: the five one-step log-analysis tasks, the environment's joint reward.
#
#   MODEL=/path/to/cold-start-checkpoint examples/verl/run_rlog_grpo.sh [VERL_OVERRIDE ...]
#
# Needs a CUDA machine with `pip install 'rlog_env[verl]' vllm` (see README.md here). Writes the
# prompt sets on first use (simulator, train and test splits, every task) into $DATA, then runs
# `python -m verl.trainer.main_ppo` with rlog_grpo.yaml; extra arguments are VeRL overrides,
# e.g. `trainer.n_gpus_per_node=8 actor_rollout_ref.rollout.tensor_model_parallel_size=2`.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
MODEL="${MODEL:?set MODEL to the cold-start checkpoint (an SFT model on reasoning trajectories)}"
DATA="${DATA:-$HERE/data}"
EPISODES="${EPISODES:-1000}"  # training samples per task
REASONING="${REASONING:-think-first}"  # answer-first for R-Log-fast
REWARD="${REWARD:-rlog}"  # the reward scheme: rlog, unit, grounded or hardened

if [ ! -f "$DATA/train.parquet" ] || [ ! -f "$DATA/val.parquet" ]; then
    rlog data reasoning --source sim --split train --episodes "$EPISODES" --out "$DATA/reasoning-train"
    rlog data export "$DATA/reasoning-train" --kind verl --reasoning "$REASONING" --reward "$REWARD" \
        --out "$DATA/train.parquet"
    rlog data reasoning --source sim --split test --episodes 50 --out "$DATA/reasoning-test"
    rlog data export "$DATA/reasoning-test" --kind verl --reasoning "$REASONING" --reward "$REWARD" \
        --out "$DATA/val.parquet"
fi

exec python -m verl.trainer.main_ppo --config-path="$HERE" --config-name=rlog_grpo \
    data.train_files="$DATA/train.parquet" data.val_files="$DATA/val.parquet" \
    actor_rollout_ref.model.path="$MODEL" "$@"
