#!/usr/bin/env bash
# Install what is missing, lint, then run the test suite in two tiers: the unit
# tests, then the end-to-end runs marked slow. Prints each tier's time and the
# line coverage of mmfreq/ over both (tools run in subprocesses count too).
#   bash scripts/run_tests.sh              # what CI runs
#   bash scripts/run_tests.sh -m "not slow" -k van   # one run of your selection of tests/
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
bash scripts/install_deps.sh --with-tests

clock() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }
start=$SECONDS
"$PY" -m ruff check .
lint=$((SECONDS - start))

# Two workers of one thread each: most slow tests wait on a subprocess's
# imports (one core), so two of them at once use both cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
pytest=("$PY" -m pytest tests -n 2 --dist loadgroup -p no:cacheprovider -p no:benchmark)
if [ $# -gt 0 ]; then
    exec "${pytest[@]}" "$@"
fi

export COVERAGE_FILE=$PWD/.coverage
rm -f .coverage .coverage.*
coverage=(--cov=mmfreq --cov-report= --cov-append)
start=$SECONDS
"${pytest[@]}" -m "not slow" -q "${coverage[@]}"
unit=$((SECONDS - start))
start=$SECONDS
"${pytest[@]}" -m slow -q "${coverage[@]}" --durations=15  # the slowest, to keep CI in time
slow=$((SECONDS - start))
echo "tier times: lint $(clock $lint), unit tests (not slow) $(clock $unit)," \
     "end-to-end (slow) $(clock $slow), total $(clock $((lint + unit + slow)))"
echo "line coverage of mmfreq/: $("$PY" -m coverage report --format=total)%"
