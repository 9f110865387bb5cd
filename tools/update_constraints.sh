#!/usr/bin/env bash
# Refresh requirements/constraints.txt: the exact versions that a fresh install of the package
# with its tests extra resolves today, from setup.cfg's ranges. torch, Triton and the packages
# torch itself requires are left out: a GPU user's own torch build brings its own. Run the tests
# (bash tools/run_tests.sh, which installs from the new file) before committing the result.
#     bash tools/update_constraints.sh      (MSNET_PYTHON: the interpreter for the scratch venv)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"${MSNET_PYTHON:-python3}" -m venv "$scratch/venv"
py="$scratch/venv/bin/python"
"$py" -m pip install --quiet "torch==${MSNET_TORCH:-2.13.0}"
"$py" -m pip install --quiet -e "$root[tests]"
"$py" - > "$root/requirements/constraints.txt" <<'PY'
import importlib.metadata as metadata
import re


def name(requirement: str) -> str:
    return re.split(r'[ ;<>=!~\[(]', requirement, maxsplit=1)[0].lower().replace('_', '-')


def closure(package: str, seen: set) -> set:
    for requirement in metadata.requires(package) or []:
        dependency = name(requirement)
        if 'extra ==' in requirement or dependency in seen:
            continue
        try:
            metadata.distribution(dependency)
        except metadata.PackageNotFoundError:
            continue
        seen.add(dependency)
        closure(dependency, seen)
    return seen


left_out = closure('torch', {'torch', 'triton', 'msnet-mmaction', 'pip'})
print('# Exact versions this repository is tested with (CI and tools/setup_env.sh install with')
print('# them). Written by tools/update_constraints.sh; torch and its own requirements are left to')
print('# the installed torch build.')
for dist in sorted(metadata.distributions(), key=lambda d: d.metadata['Name'].lower()):
    package = name(dist.metadata['Name'])
    if package not in left_out and not package.startswith('nvidia-'):
        print(f"{dist.metadata['Name']}=={dist.version}")
PY
echo "wrote $root/requirements/constraints.txt"
