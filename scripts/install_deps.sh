#!/usr/bin/env bash
# Install whatever mmfreq needs that this Python lacks, then mmfreq itself.
# Safe to run again: each step is skipped when its packages already import.
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

# 3. The rest of the stack (and the test tools when asked), then mmfreq, editable.
step "installing the OpenMMLab stack and mmfreq"
extra=()
[ "${1:-}" = "--with-tests" ] && extra=(-r requirements/tests.txt)
"${PIP[@]}" -q -r requirements/build.txt -r requirements/mminstall.txt -r requirements/runtime.txt \
    "${extra[@]}"
# A setup.py develop install (setuptools + wheel present, no pyproject.toml): mim
# finds packages through its egg-link, and setup.py links mmfreq/.mim for it.
"${PIP[@]}" -q --no-build-isolation --no-deps -e .
"$PY" -m mmfreq.utils.collect_env --check
