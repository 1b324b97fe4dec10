#!/usr/bin/env bash
# Distributed training with torchrun: one process per GPU (or per CPU worker
# on a machine without CUDA, where the gloo backend is used).
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# Many nodes: NNODES=2 NODE_RANK=0 MASTER_ADDR=host0 PORT=29500 on each node.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCS [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
