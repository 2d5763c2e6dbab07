#!/usr/bin/env bash
# Toy Petridish against the random baseline over several seeds, then `petri compare`.
# Usage: bench/compare_toy.sh [SEEDS...]   (default 0 1 2; about 12 min per seed on 2 cores)
# Runs land in runs/compare/; finished runs are skipped, interrupted ones resume.
set -euo pipefail
seeds=("$@")
[[ $# -eq 0 ]] && seeds=(0 1 2)
out=runs/compare
mkdir -p "$out"

wait_done() {  # until the run's daemon has exited
  while [[ "$(petri status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["state"])')" == running ]]; do
    sleep 5
  done
}

for seed in "${seeds[@]}"; do
  for algo in petridish random; do
    dir="$out/$algo-seed$seed"
    if [[ -f "$dir/config.yaml" ]]; then
      petri resume "$dir" >/dev/null 2>&1 || true  # already done, or continue it
    else
      petri run "$algo" --run-dir "$dir" --set seed="$seed" >/dev/null
    fi
    wait_done "$dir"
  done
done
petri compare "$out"/petridish-seed* "$out"/random-seed*
