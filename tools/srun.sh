#!/usr/bin/env bash
# Shared by slurm_train.sh and slurm_test.sh: run SCRIPT as one SLURM task per GPU.
#   tools/srun.sh PARTITION JOB_NAME SCRIPT [script arguments]
# GPUS (total, default 8), GPUS_PER_NODE (default 8), CPUS_PER_TASK (default 5) and SRUN_ARGS tune srun;
# PYTHON is the interpreter that runs SCRIPT (default: python on PATH).
set -euo pipefail
partition=$1
job=$2
script=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}" exec srun -p "$partition" --job-name="$job" \
    --gres=gpu:"${GPUS_PER_NODE:-8}" --ntasks="${GPUS:-8}" --ntasks-per-node="${GPUS_PER_NODE:-8}" \
    --cpus-per-task="${CPUS_PER_TASK:-5}" --kill-on-bad-exit=1 ${SRUN_ARGS:-} \
    "${PYTHON:-python}" -u "$script" "$@" --launcher slurm
