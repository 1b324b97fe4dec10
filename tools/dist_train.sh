#!/usr/bin/env bash
# Distributed training with torchrun: one process per GPU (or per CPU worker
# on a machine without CUDA, where the gloo backend is used).
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# Many nodes: NNODES=2 NODE_RANK=0 MASTER_ADDR=host0 PORT=29500 on each node.
#
# Preemption: SIGTERM, SIGUSR1 or SIGINT sent to this script reaches torchrun
# as SIGTERM, which passes it to every worker; every rank finishes the same
# iteration, rank 0 saves it, and this script exits with 75 (torchrun itself
# reports the workers' status 75 as a failure). Run it again with --resume to
# continue. Other exit statuses are torchrun's.
set -uo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCS [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# train.py writes why it stopped here when it is preempted
MMFREQ_PREEMPTED_FILE="$(mktemp)"
export MMFREQ_PREEMPTED_FILE
trap 'rm -f "$MMFREQ_PREEMPTED_FILE"' EXIT
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@" &
launcher=$!
trap 'kill -TERM "$launcher" 2>/dev/null' TERM USR1 INT
# wait returns early when a trapped signal arrives: wait again until torchrun ends
while kill -0 "$launcher" 2>/dev/null; do
    wait "$launcher"
done
wait "$launcher"
status=$?
if [ "$status" -ne 0 ] && [ -s "$MMFREQ_PREEMPTED_FILE" ]; then
    echo "dist_train.sh: $(cat "$MMFREQ_PREEMPTED_FILE")" >&2
    exit 75
fi
exit "$status"
