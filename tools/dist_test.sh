#!/usr/bin/env bash
# Distributed testing with torchrun (DDP through MMEngine); gloo on the CPU when CUDA is absent.
#   tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py options]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 CONFIG CHECKPOINT NUM_PROCS [test.py options]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
config=$1
checkpoint=$2
procs=$3
shift 3
exec "$here/torchrun.sh" "$procs" "$here/test.py" "$config" "$checkpoint" "$@"
