#!/usr/bin/env bash
# Runs the whole test suite (unit, integration and slow tests) in the project's venv.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/test_server_chroma.py -x`).
# Exit status: pytest's, except that "no tests collected" (pytest's 5) is a failure too.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${MMRAG_VENV:-.venv}
[ -x "$VENV/bin/python" ] || { echo "no venv at $VENV: run scripts/install.sh first" >&2; exit 2; }
# Servers and packages the integration tests need must be there: fail, don't skip.
export MMRAG_REQUIRE_SERVERS=${MMRAG_REQUIRE_SERVERS:-1}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
export LANGGRAPH_CLI_NO_ANALYTICS=1 LANGGRAPH_NO_VERSION_CHECK=true
rc=0
"$VENV/bin/python" -m pytest --timeout="${MMRAG_TEST_TIMEOUT:-900}" "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$rc"
