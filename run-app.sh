#!/usr/bin/env bash
# Install what the dashboard needs (first time only) and start it.
#   ./run-app.sh                                  # synthetic demo dataset, made on first use
#   ./run-app.sh --data /path/to/gtzan            # your GTZAN copy (the folder holding genres/)
#   ./run-app.sh --data DIR --server.port 8502    # any other argument goes to `streamlit run`
#   ./run-app.sh --share-jobs                     # every visitor sees and can stop every training job
set -euo pipefail
cd "$(dirname "$0")"
app=()        # the app's own arguments, after `--`
streamlit=()  # everything else, for Streamlit
while [ $# -gt 0 ]; do
  case "$1" in
    --data)
      if [ $# -lt 2 ] || [ -z "$2" ]; then
        echo "run-app.sh: --data needs a folder (the one holding genres/)" >&2
        exit 2
      fi
      app+=(--data "$2")
      shift 2
      ;;
    --data=*|--share-jobs) app+=("$1"); shift ;;
    *) streamlit+=("$1"); shift ;;
  esac
done
bash scripts/setup-env.sh requirements.txt
if [ ${#app[@]} -gt 0 ]; then
  exec .venv/bin/streamlit run app.py "${streamlit[@]+"${streamlit[@]}"}" -- "${app[@]}"
fi
exec .venv/bin/streamlit run app.py "${streamlit[@]+"${streamlit[@]}"}"
