#!/bin/sh
# Case study C: five steps, each its own process, so that `trace: processes` sees which step wrote what.
# Usage: pipeline.sh PYTHON INPUT TEMPLATE OUTDIR SEED N4_THREADS
#   SEED: an integer, or `random` (unseeded registration); N4_THREADS: a number of threads for N4 alone, or
#   `inherit` to leave it the study's thread count (see README.md: N4's result depends on its thread count).
set -eu
py=$1 input=$2 template=$3 out=$4 seed=$5 n4_threads=$6
step="$(dirname "$0")/step.py"
"$py" "$step" normalise "$out" --input "$input"
if [ "$n4_threads" = inherit ]; then
    "$py" "$step" n4 "$out"
else
    ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=$n4_threads "$py" "$step" n4 "$out"
fi
"$py" "$step" register "$out" --template "$template" --seed "$seed"
"$py" "$step" segment "$out" --template "$template"
"$py" "$step" stats "$out"
