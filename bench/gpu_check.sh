#!/usr/bin/env bash
# Every CUDA figure petri claims, in one command of under 8 minutes on an NVIDIA GPU; writes a
# markdown table (default runs/gpu_check.md) to paste into BENCHMARKS.md.
# Usage: bench/gpu_check.sh [--dry-run] [--out FILE]   (--dry-run: tiny sizes on the CPU, to
#        check every code path before the first GPU run; see bench/gpu_check.py)
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[[ -x $py ]] || py=python3
exec "$py" bench/gpu_check.py "$@"
