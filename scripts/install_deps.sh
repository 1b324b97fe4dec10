#!/usr/bin/env bash
# Install whatever mmfreq needs that this Python lacks, then mmfreq itself.
# Safe to run again: each step is skipped when what it installs is there, so
# a second run asks no package index anything.
#   PYTHON=python3.11 bash scripts/install_deps.sh [--with-tests]
# GPU users: install a CUDA torch and a matching mmcv first; steps 1-2 then skip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PIP=("$PY" -m pip install --disable-pip-version-check)

step() { echo "[install_deps] $*"; }

# 1. torch + torchvision, pinned: an unpinned torch would pull a newer multi-GB build.
if "$PY" -c "import torch, torchvision; assert torch.__version__.startswith('2.')" 2>/dev/null; then
    step "torch $("$PY" -c 'import torch; print(torch.__version__)') present"
else
    step "installing torch (requirements/torch.txt)"
    "${PIP[@]}" -r requirements/torch.txt
fi

# 2. mmcv 2.1.0 with its compiled ops, built against the torch above.
if "$PY" -c "import mmcv, mmcv._ext; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
    step "mmcv 2.1.0 with ops present"
else
    step "installing mmcv 2.1.0 with ops (scripts/build_mmcv.sh)"
    PYTHON="$PY" bash scripts/build_mmcv.sh
fi

# 3. The rest of the stack (with --with-tests also the test and ONNX tools),
# skipped when every requirement is already installed: then no package index
# is asked anything.
reqs=(requirements/build.txt requirements/tested.txt requirements/runtime.txt)
[ "${1:-}" = "--with-tests" ] && reqs+=(requirements/tests.txt requirements/deploy.txt)
if "$PY" scripts/requirements_met.py "${reqs[@]}"; then
    step "the OpenMMLab stack is present (${reqs[*]})"
else
    step "installing the OpenMMLab stack (${reqs[*]})"
    "${PIP[@]}" -q "${reqs[@]/#/--requirement=}"
fi
# openmim without its dependencies: through opendatalab -> openxlab it pins
# setuptools 60.2 and requests 2.28 (below what torch needs); the ones it runs
# with are in requirements/tests.txt.
if [ "${1:-}" = "--with-tests" ] && ! "$PY" scripts/requirements_met.py requirements/mim.txt; then
    step "installing openmim (requirements/mim.txt) without its dependencies"
    "${PIP[@]}" -q --no-deps -r requirements/mim.txt
fi

# 4. mmfreq itself, editable, unless it is installed from this checkout already.
# A setup.py develop install (setuptools + wheel present, no pyproject.toml): mim
# finds packages through its egg-link, and setup.py links mmfreq/.mim for it.
# (Checked from / so that the checkout's own folder cannot stand in for an install.)
repo=$PWD
if (cd / && "$PY" - "$repo" 2>/dev/null) <<'EOF'
import os.path as osp
import sys
from importlib import metadata

import mmfreq

package = osp.join(sys.argv[1], 'mmfreq')
assert osp.dirname(osp.abspath(mmfreq.__file__)) == package
assert metadata.version('mmfreq') == mmfreq.__version__
assert osp.isdir(osp.join(package, '.mim', 'configs'))
EOF
then
    step "mmfreq is installed from this checkout"
else
    step "installing mmfreq from this checkout (editable)"
    "${PIP[@]}" -q --no-build-isolation --no-deps -e .
fi
"$PY" -m mmfreq.utils.collect_env --check
