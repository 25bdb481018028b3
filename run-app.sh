#!/usr/bin/env bash
# Install what the dashboard needs (first time only) and start it.
#   ./run-app.sh                      # synthetic demo dataset, made on first use
#   ./run-app.sh --data /path/to/gtzan   # your GTZAN copy (the folder holding genres/)
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup-env.sh requirements.txt
args=()
if [ "${1:-}" = "--data" ] && [ -n "${2:-}" ]; then args=(-- --data "$2"); fi
exec .venv/bin/streamlit run app.py "${args[@]}"
