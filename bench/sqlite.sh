#!/usr/bin/env bash
# bench/sqlite.sh — owui's online SQLite snapshots under a live writer.
#
#   bash bench/sqlite.sh                (from the repo root)
#
# (a) A DELETE-mode database (default 200 MB) under the livewriter harness
#     (a separate process, synchronous=FULL, busy timeout 5 s, committing as
#     fast as it can): the writer's p50/p99/worst commit latency over a
#     window with no snapshot, then over a window of the same length with 5
#     of owui's SnapshotSQLite runs; failed commits; SourceHoldMillis.
# (b) A WAL database (default 400 MB): owui's snapshot throughput (MB/s,
#     median of 3) against `sqlite3 SRC ".backup DST"` of the same file, idle
#     and under a writer at 2,000 commits/s (the CLI capped with a timeout).
#
# Both are Go benchmarks in executor/stage (sqlite_bench_test.go), run once
# each; they build their databases from scratch. No page cache is dropped:
# the databases were just written, so they are read from memory, as a busy
# Open WebUI's database mostly is.
#
# Environment:
#   BENCH_DIR               scratch directory (default /tmp/owui-bench-sqlite),
#                           deleted and re-created
#   OWUI_BENCH_DELETE_MB    size of database (a), default 200
#   OWUI_BENCH_WAL_MB       size of database (b), default 400
#   OWUI_BENCH_CLI_TIMEOUT_S  cap on sqlite3 .backup under load, default 60
# Writes bench/RESULTS-sqlite.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
W=$(realpath -m "${BENCH_DIR:-/tmp/owui-bench-sqlite}")
RESULTS=$HERE/RESULTS-sqlite.md

die() { echo "sqlite.sh: $*" >&2; exit 1; }
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (apt-get install sqlite3)"
case $W in / | /tmp | "$HOME" | /work | /work/*) die "refusing to use $W as BENCH_DIR" ;; esac
if [[ -e $W ]]; then
	[[ -z $(ls -A "$W") || -e $W/.owui-bench-sqlite ]] || die "$W is not empty and was not made by this script"
	rm -rf "$W"
fi
mkdir -p "$W"
touch "$W/.owui-bench-sqlite"

export OWUI_BENCH_SQLITE_DIR=$W
export OWUI_BENCH_OUT=$W/fragment.md
export OWUI_BENCH_DELETE_MB=${OWUI_BENCH_DELETE_MB:-200}
export OWUI_BENCH_WAL_MB=${OWUI_BENCH_WAL_MB:-400}
export OWUI_BENCH_CLI_TIMEOUT_S=${OWUI_BENCH_CLI_TIMEOUT_S:-60}
export GOWORK=off

CMD=(go test ./executor/stage -run '^$' -bench 'BenchmarkSQLite' -benchtime 1x -timeout 60m -v)
cd "$ROOT"
echo "+ ${CMD[*]}" >&2
"${CMD[@]}" 2>&1 | tee "$W/go-test.log" >&2
[[ ${PIPESTATUS[0]} -eq 0 ]] || die "benchmarks failed; see $W/go-test.log"
[[ -s $OWUI_BENCH_OUT ]] || die "the benchmarks wrote no figures (skipped?); see $W/go-test.log"

{
	echo "# SQLite online snapshots under a live writer"
	echo
	echo "Made by \`bash bench/sqlite.sh\` on $(date -u +%Y-%m-%dT%H:%MZ), git $(git rev-parse --short HEAD)$(git diff --quiet -- executor/stage internal/livewriter || echo ' + uncommitted changes')."
	echo
	echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/ {print $2}') GB RAM, $(uname -sr), file system $(df -T "$W" | awk 'NR==2 {print $2}') on $(df "$W" | awk 'NR==2 {print $1}'); $(go version | cut -d' ' -f3); modernc.org/sqlite $(go list -m -f '{{.Version}}' modernc.org/sqlite); sqlite3 CLI $(sqlite3 --version | cut -d' ' -f1)."
	echo
	echo "Command run by the script: \`OWUI_BENCH_SQLITE_DIR=$W OWUI_BENCH_DELETE_MB=$OWUI_BENCH_DELETE_MB OWUI_BENCH_WAL_MB=$OWUI_BENCH_WAL_MB OWUI_BENCH_CLI_TIMEOUT_S=$OWUI_BENCH_CLI_TIMEOUT_S ${CMD[*]}\`"
	echo
	echo "The writer is \`internal/livewriter\`: a separate process, each transaction"
	echo "(BEGIN IMMEDIATE; insert one 1,000-byte chat row; bump counter.n; COMMIT)"
	echo "timed from BEGIN to the return of COMMIT; a commit fails if it waits past"
	echo "the 5 s busy timeout. Every copy passed integrity_check and count(chat) = counter.n."
	echo
	cat "$OWUI_BENCH_OUT"
} >"$RESULTS"
echo "wrote $RESULTS" >&2
rm -rf "$W"
