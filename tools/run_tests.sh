#!/usr/bin/env bash
# Set up the environment (tools/setup_env.sh) and run the test suite; extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/setup_env.sh" tests
cd "$root"
exec python -m pytest tests "$@"
