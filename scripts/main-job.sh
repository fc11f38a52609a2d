#!/usr/bin/env bash
# The main job, in one command: install reprovip (exact versions from the lock file) with the MRS case
# study's extra, make the subjects from the real 7 T 31P FID that pyAMARES ships, run the study (10
# subjects x 2 solvers x 2 thread counts x 3 repetitions = 120 AMARES fits), analyse it, apply the
# criteria and write the HTML report. Ends with the report's path.
#   bash scripts/main-job.sh [--small]      (--small: the 24-fit CI variant)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh requirements/main.lock

cd examples/mrs-quantification
study=study.yaml
n=10
if [ "${1:-}" = "--small" ]; then study=study-small.yaml; n=3; fi
python make_subjects.py --n "$n" --out data --seed 0
reprovip validate "$study"
reprovip run "$study" --jobs "$(nproc)"
reprovip analyze "$study" --json analysis.json
# The verdict is the job's finding, not its failure: report it whatever it is (exit 1 = not reproducible).
code=0
reprovip check "$study" --no-reanalyze --junit junit.xml --markdown summary.md --badge badge.svg || code=$?
if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then exit "$code"; fi
reprovip report "$study" -o report.html
echo "Activate the environment to use reprovip yourself: source .venv/bin/activate"
