#!/usr/bin/env bash
# Training on a SLURM cluster, one task per GPU (see tools/srun.sh for the knobs).
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py options]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 PARTITION JOB_NAME CONFIG [train.py options]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
partition=$1
job=$2
shift 2
exec "$here/srun.sh" "$partition" "$job" "$here/train.py" "$@"
