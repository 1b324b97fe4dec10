#!/usr/bin/env bash
# The main job on the built-in data: install what is missing, write the
# synthetic ADE20K-format scenes, train Semantic-FPN + VAN-B0 on them, then
# test the last checkpoint and print its mIoU. About 10 minutes on 2 CPU cores
# once the stack is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
CONFIG=configs/fpn_van_t_synthetic.py
WORK_DIR=${WORK_DIR:-work_dirs/fpn_van_t_synthetic}

bash scripts/install_deps.sh
[ -d data/synthetic_ade/images ] || "$PY" -m mmfreq.datasets.synthetic_scenes data/synthetic_ade
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
"$PY" tools/test.py "$CONFIG" "$(cat "$WORK_DIR/last_checkpoint")" --work-dir "$WORK_DIR/test"
