#!/usr/bin/env bash
# Create or refresh the project's virtual environment (.venv, or $MSNET_VENV) from the project's
# own files: the package with the runtime dependencies, plus the extras named as arguments
# (`source tools/setup_env.sh tests`), at the exact versions of requirements/constraints.txt.
# Sourced by tools/run_tests.sh and tools/run_main_job.sh; cheap when nothing changed.
# A GPU user who wants their own torch build installs it into the venv first; an importable torch
# is never replaced. Without one, the CPU wheel torch==$MSNET_TORCH (default 2.13.0) is installed.
# MSNET_PYTHON is the interpreter that creates the venv (default python3); everything after runs
# the venv's own. (PYTHON is the launchers' interpreter, tools/torchrun.sh and tools/srun.sh.)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${MSNET_VENV:-$root/.venv}
extras=$(IFS=,; echo "$*")
if [ ! -x "$venv/bin/python" ]; then
    "${MSNET_PYTHON:-python3}" -m venv "$venv"
fi
py="$venv/bin/python"
if ! "$py" -c 'import torch' 2>/dev/null; then
    "$py" -m pip install --quiet "torch==${MSNET_TORCH:-2.13.0}"
fi
# The stamp holds a digest of the files the install depends on and the extras installed; an
# environment set up with more extras than asked for (the tests' include the main job's) is kept.
stamp="$venv/.msnet_installed"
files=$(cat "$root/setup.cfg" "$root/pyproject.toml" "$root/requirements/constraints.txt" |
        sha256sum | cut -d' ' -f1)
read -r have_files have_extras < "$stamp" 2>/dev/null || true
wanted=$extras
if [ "${have_files:-}" = "$files" ]; then
    missing=no
    for extra in "$@"; do
        case ",${have_extras:-}," in *",$extra,"*) ;; *) missing=yes ;; esac
    done
    [ "$missing" = no ] && wanted=-
    [ "$missing" = yes ] && [ -n "${have_extras:-}" ] && wanted="$have_extras${extras:+,$extras}"
fi
if [ "$wanted" != - ]; then
    "$py" -m pip install --quiet -c "$root/requirements/constraints.txt" \
        -e "$root${wanted:+[$wanted]}"
    echo "$files $wanted" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
