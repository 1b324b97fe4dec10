#!/usr/bin/env bash
# Build and install mmcv 2.1.0 with its compiled ops (RoIAlign, NMS, ...) for
# the torch installed in this Python. PyPI has only mmcv's source for this
# release, and that source asks for C++17, while torch >= 2.10 headers need
# C++20: the build takes the sdist, raises the standard, and builds a wheel.
# The wheel is cached per torch version, so a second run only installs it.
set -euo pipefail
PY=${PYTHON:-python}
MMCV_VERSION=2.1.0
torch_version=$("$PY" -c 'import torch; print(torch.__version__)')
py_tag=$("$PY" -c 'import sys; print(f"cp{sys.version_info.major}{sys.version_info.minor}")')
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mmfreq/mmcv-$MMCV_VERSION-torch$torch_version-$py_tag"

if ! ls "$cache"/mmcv-*.whl >/dev/null 2>&1; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$PY" -m pip install --disable-pip-version-check -r "$(dirname "$0")/../requirements/build.txt"
    "$PY" -m pip download --disable-pip-version-check --no-deps --no-binary :all: \
        --no-build-isolation -d "$work" "mmcv==$MMCV_VERSION"
    tar -xzf "$work/mmcv-$MMCV_VERSION.tar.gz" -C "$work"
    src="$work/mmcv-$MMCV_VERSION"
    grep -q "'-std=c++17'" "$src/setup.py" || { echo "mmcv setup.py changed: no -std=c++17 to raise" >&2; exit 1; }
    sed -i "s/'-std=c++17'/'-std=c++20'/g" "$src/setup.py"
    echo "[build_mmcv] compiling mmcv $MMCV_VERSION ops for torch $torch_version (about 10 min on 2 cores)"
    (cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        "$PY" -m pip wheel --disable-pip-version-check --no-deps --no-build-isolation -w "$work/dist" .)
    mkdir -p "$cache"
    cp "$work"/dist/mmcv-*.whl "$cache/"
fi
"$PY" -m pip install --disable-pip-version-check --no-deps --force-reinstall "$cache"/mmcv-*.whl
