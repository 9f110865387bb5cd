#!/usr/bin/env bash
# The main job: set up the environment, generate the synthetic motion dataset, train MSNet with
# tools/train.py, evaluate the best checkpoint with tools/test.py on the held-out clips (and on 400
# training clips, for the train/val gap) and print a summary.
# WORK (default work_dirs/main_job) holds the data, logs, checkpoints and predictions.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/setup_env.sh"
cd "$root"
work=${WORK:-work_dirs/main_job}
config=${CONFIG:-configs/msnet_r18_8f_synthetic-motion.py}
start=$(date +%s)
export MSNET_SYNTHETIC_ROOT="$work/data"
if [ ! -f "$MSNET_SYNTHETIC_ROOT/label_map.txt" ]; then
    python tools/data/make_synthetic_motion.py --out "$MSNET_SYNTHETIC_ROOT"
fi
python tools/train.py "$config" --work-dir "$work/train" --seed 0
best=$(ls -t "$work"/train/best_*.pth | head -n 1)
python tools/test.py "$config" "$best" --work-dir "$work/test" --dump "$work/test/predictions.pkl"
python tools/test.py "$config" "$best" --work-dir "$work/test_train" \
    --dump "$work/test_train/predictions.pkl" --cfg-options test_dataloader.dataset.indices=400 \
    "test_dataloader.dataset.ann_file=$MSNET_SYNTHETIC_ROOT/train_list_rawframes.txt"
python tools/summarize_predictions.py "$work/test/predictions.pkl" \
    --train-results "$work/test_train/predictions.pkl" \
    --label-map "$MSNET_SYNTHETIC_ROOT/label_map.txt" --start-time "$start"
