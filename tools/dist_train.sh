#!/usr/bin/env bash
# Distributed training with torchrun (DDP through MMEngine); gloo on the CPU when CUDA is absent.
#   tools/dist_train.sh CONFIG NUM_PROCS [train.py options]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 CONFIG NUM_PROCS [train.py options]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
config=$1
procs=$2
shift 2
exec "$here/torchrun.sh" "$procs" "$here/train.py" "$config" "$@"
