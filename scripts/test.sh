#!/usr/bin/env bash
# Runs the whole test suite (unit, integration and slow tests) in the project's venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${MMRAG_VENV:-.venv}
exec "$VENV/bin/python" -m pytest "$@"
