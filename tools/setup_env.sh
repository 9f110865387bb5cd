#!/usr/bin/env bash
# Create or refresh the project's virtual environment (.venv, or $MSNET_VENV) from the project's
# own files. Sourced by tools/run_tests.sh and tools/run_main_job.sh; cheap when nothing changed.
# A GPU user who wants their own torch build installs it into the venv first; an importable torch
# is never replaced. Without one, the CPU wheel torch==$MSNET_TORCH (default 2.13.0) is installed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${MSNET_VENV:-$root/.venv}
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
py="$venv/bin/python"
if ! "$py" -c 'import torch' 2>/dev/null; then
    "$py" -m pip install --quiet "torch==${MSNET_TORCH:-2.13.0}"
fi
stamp="$venv/.msnet_installed"
want=$(cat "$root/setup.cfg" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$py" -m pip install --quiet -e "$root[tests]"
    echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
