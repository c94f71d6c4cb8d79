#!/usr/bin/env bash
# GPU check on a lent device machine (torch + transformers there; no vLLM, no network).
#
# Here, once, fetch the wheels it lacks into .whl/ (git-ignored through .git/info/exclude):
#   bash benchmarks/gpu_check.sh --fetch-wheels
# Then the device call (carry .whl), about 6 minutes on one H200:
#   run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=540)
# Results land in benchmarks/results/ there and in $OUT (they come back); commit them here.
set -euo pipefail
cd "$(dirname "$0")/.."
# what the device image lacks of this project's dependencies and the TRL baseline's
WHEELS=(trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 math-verify==0.9.0
        latex2sympy2_extended==1.11.0 antlr4-python3-runtime==4.13.2)
if [ "${1:-}" = "--fetch-wheels" ]; then
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> "$(git rev-parse --git-path info/exclude)"
  for wheel in "${WHEELS[@]}"; do
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform any -d .whl "$wheel"
  done
  exit 0
fi
SITE=/tmp/ovr-site
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target "$SITE" .whl/*.whl
# this project, without touching the image's packages: its modules by their import names
mkdir -p "$SITE/links"
for pair in ovr_eval:ovr_eval ovr_tasks:tasks ovr_prompts:prompts ovr_reports:reports \
            ovr_trainer:trainer; do
  ln -sfn "$PWD/${pair#*:}" "$SITE/links/${pair%%:*}"
done
export PYTHONPATH="$SITE:$SITE/links${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 benchmarks/gpu_check.py "$@" 2>&1 | tee "${OUT:-/tmp}/gpu_check.log"
