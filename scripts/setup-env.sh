#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install the given requirements file into it. Sourced by the two entry scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ="${1:-requirements.txt}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# reinstall only when the requirements changed since the last successful install
stamp=".venv/.installed-$(basename "$REQ")"
sum=$(cat requirements*.txt pyproject.toml mgc/models/kernels/cnn_ops.cc | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$REQ"
  # the pretrained tagger's weights (the transfer model): a wheel from PyPI, its own pins ignored
  .venv/bin/python -m pip install --quiet --no-deps -r requirements-pretrained.txt
  # the library itself, editable: `mgc` on the PATH of the venv, importable from tools/ and bench/
  .venv/bin/python -m pip install --quiet --no-deps -e .
  # the CNN's C++ kernels for the fast training path, compiled once per machine (about 20 s; without a
  # compiler the CNN trains on TensorFlow's own ops, and this says why)
  .venv/bin/python -m mgc.models.kernels || true
  echo "$sum" > "$stamp"
fi
