#!/usr/bin/env bash
# The main job on the built-in data: install what is missing, write the
# synthetic ADE20K-format scenes, train Semantic-FPN + VAN-B0 on them, test
# the last checkpoint and print its mIoU, then plot the training curve next to
# the checkpoint and draw the model's masks on a real photograph (matplotlib's
# sample picture of Grace Hopper). About 10 minutes on 2 CPU cores once the
# stack is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
CONFIG=configs/fpn_van_t_synthetic.py
WORK_DIR=${WORK_DIR:-work_dirs/fpn_van_t_synthetic}

bash scripts/install_deps.sh
[ -d data/synthetic_ade/images ] || "$PY" -m mmfreq.datasets.synthetic_scenes data/synthetic_ade
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
CHECKPOINT=$(cat "$WORK_DIR/last_checkpoint")
"$PY" tools/test.py "$CONFIG" "$CHECKPOINT" --work-dir "$WORK_DIR/test"

# The newest training run's log (WORK_DIR/TIMESTAMP/vis_data/scalars.json).
SCALARS=$(ls -t "$WORK_DIR"/*/vis_data/scalars.json | head -n 1)
"$PY" tools/analysis_tools/analyze_logs.py plot_curve "$SCALARS" --keys loss mIoU \
    --title "$(basename "$CONFIG" .py)" --out "$WORK_DIR/curve.png"
PHOTO=$("$PY" -c "from matplotlib import cbook; print(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))")
"$PY" demo/image_demo.py "$PHOTO" "$CONFIG" "$CHECKPOINT" --out-dir "$WORK_DIR/demo"
echo "checkpoint:     $CHECKPOINT"
echo "training curve: $WORK_DIR/curve.png"
echo "demo picture:   $WORK_DIR/demo/grace_hopper.png"
