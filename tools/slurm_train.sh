#!/usr/bin/env bash
# Training on a Slurm cluster: one task per GPU.
#   GPUS=16 GPUS_PER_NODE=8 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
# SRUN_ARGS passes extra options to srun (e.g. "--quotatype=reserved").
#
# Preemption and time limits: every task stops on SIGTERM (what Slurm sends
# before it kills a preempted or cancelled job) or SIGUSR1, after finishing
# the same iteration; rank 0 saves a checkpoint of it and the tasks exit with
# 75, which this script returns. srun is given --signal=USR1@$SIGNAL_SECONDS
# (default 180 s before the time limit; SIGNAL_SECONDS=0 leaves it out).
# Inside an sbatch job submitted with --requeue, REQUEUE=1 requeues the job
# after such a stop (scontrol requeue); the requeued job (SLURM_RESTART_COUNT
# > 0) resumes from the newest checkpoint (--resume is added unless given).
# Without REQUEUE=1, submit the same command again with --resume.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG [train.py args...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SIGNAL_SECONDS=${SIGNAL_SECONDS:-180}
PREEMPTED=75  # mmfreq.engine.preemption.PREEMPTED_EXIT_CODE
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
args=("$@")
if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] && [[ " ${args[*]} " != *" --resume"* ]]; then
    args+=(--resume)
fi
signal_args=()
[ "$SIGNAL_SECONDS" -gt 0 ] && signal_args=(--signal="USR1@$SIGNAL_SECONDS")
status=0
# shellcheck disable=SC2086  # SRUN_ARGS is a list of options
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${signal_args[@]+"${signal_args[@]}"} \
    ${SRUN_ARGS:-} \
    "${PYTHON:-python}" -u "$ROOT/tools/train.py" "$CONFIG" --launcher slurm ${args[@]+"${args[@]}"} \
    || status=$?
if [ "$status" -eq "$PREEMPTED" ] && [ "${REQUEUE:-0}" = 1 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    echo "slurm_train.sh: training stopped on a signal after saving; requeueing job $SLURM_JOB_ID" >&2
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$status"
