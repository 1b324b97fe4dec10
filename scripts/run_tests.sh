#!/usr/bin/env bash
# Install what is missing, then lint and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
bash scripts/install_deps.sh --with-tests
"$PY" -m ruff check .
"$PY" -m pytest tests --durations=30 "$@"  # the slowest tests, to keep CI within its time
