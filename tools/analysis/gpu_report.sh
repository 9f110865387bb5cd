#!/usr/bin/env bash
# One GPU report: the CUDA tests, the self-check, MSNet-R50 against TSM-R50 (fp32 and AMP; eager,
# torch.compile and CUDA graphs) and the operators against their references; writes the CUDA
# section of docs/benchmarks.md. Arguments go to tools/analysis/gpu_report.py (--parts, --device
# cpu for the dry mode, --out, --no-docs). Runs in the project's venv (tools/setup_env.sh, which
# keeps the CUDA build of torch installed there).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/tools/setup_env.sh" tests
cd "$root"
exec python tools/analysis/gpu_report.py "$@"
