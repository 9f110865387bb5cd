#!/usr/bin/env bash
# Shared by dist_train.sh and dist_test.sh: run SCRIPT on NUM_PROCS local processes with torchrun.
#   tools/torchrun.sh NUM_PROCS SCRIPT [script arguments]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node. PYTHON is the interpreter
# that runs training (default: python on PATH); tools/setup_env.sh's is MSNET_PYTHON.
set -euo pipefail
procs=$1
script=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}" exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$procs" "$script" "$@" --launcher pytorch
