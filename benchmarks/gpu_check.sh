#!/usr/bin/env bash
# The GPU check from a clean clone, in one line: bash benchmarks/gpu_check.sh --out gpu-check.md
# Creates the README's .venv when it is missing (torch pinned first), then runs benchmarks/gpu_check.py with the
# arguments given (--out FILE, --families a,b, --cpu-dry-run, --device cuda:N). Exits non-zero on disagreement.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv && .venv/bin/pip install -q torch==2.13.0 && .venv/bin/pip install -q -e .
fi
exec .venv/bin/python -m benchmarks.gpu_check "$@"
