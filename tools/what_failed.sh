#!/usr/bin/env bash
# Print, last, the lines of a `make test` log that say what failed: pytest's FAILED/ERROR summary
# lines, Ansible's unrescued fatal tasks, smoke checks' FAIL lines and make's own "***" lines.
# CI shows a failed run's tail; with the targets' output interleaved by --output-sync the failing
# target's lines can be far above it.
set -euo pipefail
log=${1:?usage: what_failed.sh <make test log>}
echo
echo "=== What failed (from $log) ==="
grep -n -E '^(FAILED|ERROR) |^FAIL |^make(\[[0-9]+\])?: \*\*\*|fatal: \[.*FAILED!|failed=[1-9]|^E +[A-Za-z]*(Error|assert)' "$log" \
  | grep -v -e '...ignoring' -e 'RETRYING' | cut -c1-600 | tail -n 80 || echo "(no failure line found; read $log)"
