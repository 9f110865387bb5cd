#!/usr/bin/env bash
# Testing on a SLURM cluster, one task per GPU (see tools/srun.sh for the knobs).
#   tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
partition=$1
job=$2
shift 2
exec "$here/srun.sh" "$partition" "$job" "$here/test.py" "$@"
