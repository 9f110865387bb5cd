#!/usr/bin/env bash
# The main job: set up the environment (runtime dependencies only), generate the synthetic motion
# dataset in the regime where the motion study found explicit correspondence to pay (objects
# moving one feature-grid step per frame at the module's stage), train MSNet and TSM with the same
# backbone, data, schedule and three seeds, and TSN (blind to the order of frames) with one seed
# as the control; test each on the held-out clips, and print them side by side with a
# learning-curve plot. docs/main_job.md explains the choice and the results.
#     bash tools/run_main_job.sh
# DATA (default data/synthetic_motion, where the synthetic configs read) holds the dataset; WORK
# (default work_dirs/main_job) the runs, table.md, results.json and curves.png.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
set --  # the runtime dependencies only: no extras for tools/setup_env.sh
source "$root/tools/setup_env.sh"
cd "$root"
start=$(date +%s)
data=${DATA:-data/synthetic_motion}
work=${WORK:-work_dirs/main_job}
iters=${ITERS:-150}
speed=4  # pixels per frame: one grid step of the module's 16x16 map
generator=(--speed $speed $speed --density 5 7 --train-clips $((iters * 8)) --val-clips 200
           --formats rawframes)
if [ "$(cat "$data/generator_args" 2>/dev/null)" != "${generator[*]}" ]; then
    # Runs trained on other data would otherwise be reused: a run's identity does not cover the
    # data files, only where they live.
    rm -rf "$data" "$work"
    python tools/data/make_synthetic_motion.py --out "$data" "${generator[@]}"
    echo "${generator[*]}" > "$data/generator_args"
fi
python tools/compare_models.py configs/msnet_r18_8f_synthetic-motion.py \
    configs/tsm_r18_8f_synthetic-motion.py --control configs/tsn_r18_8f_synthetic-motion.py \
    --seeds 0 1 2 --jobs 2 --work-dir "$work" --data-root "$data" \
    --title "synthetic motion at $speed px per frame, $iters iterations of 8 clips; mean of 10" \
    --cfg-options default_hooks.checkpoint.save_best=None default_hooks.logger.interval=1
checkpoint=$(cat "$work/msnet_r18_8f_synthetic-motion/seed0/last_checkpoint")
echo "wall time $(( $(date +%s) - start )) s, data generation and the environment check included"
prefix=$([ "$data" = data/synthetic_motion ] || echo "MSNET_SYNTHETIC_ROOT=$data ")
echo "test a checkpoint again: ${prefix}python tools/test.py" \
    "configs/msnet_r18_8f_synthetic-motion.py $checkpoint"
