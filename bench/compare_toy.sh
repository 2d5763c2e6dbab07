#!/usr/bin/env bash
# Toy Petridish against the random baseline at equal compute over >= 5 seeds, then `petri compare`.
# Usage: bench/compare_toy.sh [SEEDS...]   (default 0 1 2 3 4; about 13 min per seed on 2 cores:
#        ~7.5 min Petridish + ~5.5 min random, run one after the other)
# The hypervolume frame is fixed before any run: `compare.frame` in configs/petridish_toy.yaml
# and configs/random_toy.yaml (printed first), and so is the budget (equal image-epochs).
# Runs land in $OUT (default runs/compare5); finished runs are skipped, interrupted ones resume.
# Results: the text report, $OUT/compare.json and $OUT/hv_curve.png.
set -euo pipefail
seeds=("$@")
[[ $# -eq 0 ]] && seeds=(0 1 2 3 4)
out=${OUT:-runs/compare5}
mkdir -p "$out"

frames=$(sed -n 's/^  frame: *\(\[[^]]*\]\).*/\1/p' configs/petridish_toy.yaml configs/random_toy.yaml | sort -u)
if [[ $(wc -l <<<"$frames") -ne 1 ]]; then
  echo "the toy configs declare different compare.frame values: $frames" >&2
  exit 1
fi
echo "hypervolume frame declared before the runs (params): $frames"

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
runs=("$out"/petridish-seed* "$out"/random-seed*)
petri compare "${runs[@]}" --by seed
petri compare "${runs[@]}" --json > "$out/compare.json"
petri plot "${runs[@]}" --hv-curve -o "$out/hv_curve.png"
