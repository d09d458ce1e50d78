#!/usr/bin/env bash
# bench/core.sh — owui against the guide's `rclone sync` and plain `cp -a`, on
# ONE generated Open WebUI data directory, to a local target.
#
#   bash bench/core.sh [SCALE]        (from the repo root; SCALE 1 ≈ 1 GB)
#
# Environment:
#   BENCH_DIR  working directory, deleted and re-created at start
#              (default /tmp/owui-bench; it is only deleted if it is empty or
#              was made by this script)
#   OWUI       the owui binary to measure (default /tmp/owui-bin/owui). The
#              script does not build it, so that edits in progress elsewhere in
#              the tree do not change what is measured:
#                go build -o /tmp/owui-bin/owui ./cmd/owui
#   REPS       repetitions of every timed step (default 3; medians reported)
#
# Steps (page cache dropped before each timed step, when allowed):
#   1  owui apply --auto-approve to an empty local target
#   2  rclone sync DATA T2 --exclude 'cache/**' to an empty directory
#   3  cp -a of every top-level entry of DATA except cache/ (the disk's limit)
#   4  owui plan with nothing to do, right after 1
#   5  after `owui sample --add-uploads 20`: owui apply --now <25h later>, then
#      rclone sync of the changed data to the step-2 directory
# Steps 1-4 use fresh targets (and a fresh owui state) in every repetition.
# Step 5 adds 20 more uploads in every repetition and backs up to the targets
# of repetition 1, each time 25h after the previous snapshot.
#
# Columns: wall time and peak RSS from GNU time (%e %M); "target" is du -sb of
# the target directory (for step 5, how much it grew; du counts hard-linked
# files once); "tool says" is owui's "N uploaded" summary figure or rclone's
# transferred bytes; "write I/O" is GNU time's %O (file system outputs) × 512,
# the bytes the process and its children wrote, staging copies included.
set -euo pipefail

SCALE=${1:-1}
REPS=${REPS:-3}
W=${BENCH_DIR:-/tmp/owui-bench}
OWUI=${OWUI:-/tmp/owui-bin/owui}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RESULTS=$HERE/RESULTS-core.md
TIME=/usr/bin/time

die() { echo "core.sh: $*" >&2; exit 1; }

[[ -x $OWUI ]] || die "no owui binary at $OWUI; build one: go build -o $OWUI ./cmd/owui (or set OWUI)"
[[ -x $TIME ]] || die "GNU time is needed at $TIME (apt-get install time)"
command -v rclone >/dev/null || die "rclone is not installed"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer, not $REPS"
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "SCALE must be a number, not $SCALE"

# --- working directory -------------------------------------------------------
W=$(realpath -m "$W")
case $W in / | /tmp | "$HOME" | /work | /work/*) die "refusing to use $W as BENCH_DIR" ;; esac
if [[ -e $W ]]; then
	[[ -d $W ]] || die "$W exists and is not a directory"
	if [[ -n $(ls -A "$W") && ! -e $W/.owui-bench ]]; then
		die "$W is not empty and was not made by this script; remove it or set BENCH_DIR"
	fi
	rm -rf "$W"
fi
mkdir -p "$W/logs"
touch "$W/.owui-bench"
DATA=$W/data
LOGS=$W/logs

# --- helpers -----------------------------------------------------------------
DROP=unknown
drop_caches() {
	sync
	if { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
		[[ $DROP == no ]] || DROP=yes
	else
		DROP=no
	fi
}

# run_timed LOG CMD...: drops the page cache, runs CMD under GNU time with
# stdout in LOG.out and stderr (each line prefixed by seconds since start) in
# LOG.err; sets T_WALL T_RSS_KB T_OBLK and T_RC (the command's exit status).
run_timed() {
	local log=$1
	shift
	drop_caches
	local t0=${EPOCHREALTIME/./}
	set +e
	"$TIME" -o "$log.time" -f '%e %M %O' "$@" 2>&1 >"$log.out" |
		while IFS= read -r line; do
			d=$((${EPOCHREALTIME/./} - t0))
			printf '%4d.%02d %s\n' $((d / 1000000)) $((d / 10000 % 100)) "$line"
		done >"$log.err"
	T_RC=${PIPESTATUS[0]}
	set -e
	read -r T_WALL T_RSS_KB T_OBLK < <(tail -n 1 "$log.time")
}

# must_succeed LOG: stops the benchmark with the logs of a failed step.
must_succeed() {
	if ((T_RC != 0)); then
		echo "core.sh: step failed (exit $T_RC), logs $1.*:" >&2
		tail -n 20 "$1.out" "$1.err" >&2 || true
		exit 1
	fi
}

du_bytes() { du -sb "$1" | cut -f1; }

# owui_uploaded LOG: the "X uploaded" figure of owui apply's summary, in bytes
# (owui prints it in binary units with one decimal).
owui_uploaded() {
	local line
	line=$(grep -E '^Apply complete: .* uploaded\.$' "$1.out" | tail -n 1) ||
		die "no apply summary line in $1.out"
	grep -q ' 0 failed' <<<"$line" || die "apply reported failures: $line"
	sed -E 's/.*; ([0-9.]+) (B|KiB|MiB|GiB|TiB) uploaded\.$/\1 \2/' <<<"$line" |
		awk '{ m["B"]=1; m["KiB"]=1024; m["MiB"]=1048576; m["GiB"]=1073741824; m["TiB"]=1099511627776
		       printf "%.0f\n", $1 * m[$2] }'
}

# rclone_bytes LOG: bytes rclone says it transferred (its final JSON stats
# line, logged at NOTICE so that no per-file lines are printed).
rclone_bytes() {
	grep '"stats"' "$1.err" | tail -n 1 | grep -oE '"bytes":[0-9]+' | cut -d: -f2 || echo 0
}

write_policy() { # FILE TARGET
	cat >"$1" <<EOF
instance "main" {
  data_dir = "$DATA"
}

target "local" {
  remote = "$2"
}

backup "daily" {
  instance = instance.main
  to       = [target.local]
  every    = "24h"
  exclude  = ["cache/**"]
  keep {
    daily = 7
  }
}
EOF
}

# cp_minus_cache SRC DST: cp -a of every top-level entry of SRC but cache/.
# shellcheck disable=SC2016 # expanded by the inner bash
CP_MINUS_CACHE='shopt -s dotglob nullglob
for e in "$1"/*; do
	[[ $(basename "$e") == cache ]] && continue
	cp -a "$e" "$2"/
done'

# Results: one row per measurement, "step|tool|wall|rss_kb|target|tool_bytes|oblk".
ROWS=()
record() { ROWS+=("$1|$2|$T_WALL|$T_RSS_KB|$3|$4|$T_OBLK"); }

median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# --- generate ------------------------------------------------------------------
echo "== generating the sample data dir at scale $SCALE in $DATA"
gen_t0=$EPOCHREALTIME
"$OWUI" sample "$DATA" --scale "$SCALE" --seed 1 >"$LOGS/sample.out" 2>&1 ||
	{ cat "$LOGS/sample.out" >&2; die "owui sample failed"; }
GEN_S=$(awk -v a="$gen_t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
GEN_SUMMARY=$(tail -n 1 "$LOGS/sample.out")
DATA_BYTES=$(du_bytes "$DATA")
CACHE_BYTES=$(du_bytes "$DATA/cache" 2>/dev/null || echo 0)
echo "   $GEN_SUMMARY; du -sb $(mib "$DATA_BYTES") MiB (cache/ $(mib "$CACHE_BYTES") MiB) in ${GEN_S}s"

# --- steps 1-4, REPS times ------------------------------------------------------
for ((r = 1; r <= REPS; r++)); do
	echo "== repetition $r/$REPS: first copies and a no-change plan"
	T1=$W/t1-owui-$r T2=$W/t2-rclone-$r T3=$W/t3-cp-$r
	POL=$W/owui-$r.hcl STATE=$W/owui-state-$r
	mkdir -p "$T1" "$T2" "$T3"
	write_policy "$POL" "$T1"

	log=$LOGS/1-owui-apply-$r
	run_timed "$log" "$OWUI" -f "$POL" --state "$STATE" --no-color apply --auto-approve
	must_succeed "$log"
	up=$(owui_uploaded "$log")
	record 1 owui "$(du_bytes "$T1")" "$up"
	echo "   1 owui apply      ${T_WALL}s  $((T_RSS_KB / 1024)) MiB RSS  uploaded $(mib "$up") MiB"
	date -u +%s >"$W/owui-$r.applied" # step 5 plans 25h after this

	log=$LOGS/4-owui-plan-$r
	run_timed "$log" "$OWUI" -f "$POL" --state "$STATE" --no-color plan --detailed-exitcode
	((T_RC == 0)) || die "the plan after apply is not empty (exit $T_RC): $(cat "$log.out")"
	record 4 owui - -
	echo "   4 owui plan       ${T_WALL}s  $((T_RSS_KB / 1024)) MiB RSS  ($(tail -n 1 "$log.out"))"

	log=$LOGS/2-rclone-sync-$r
	run_timed "$log" rclone sync "$DATA" "$T2" --exclude 'cache/**' --use-json-log --stats-log-level NOTICE
	must_succeed "$log"
	rb=$(rclone_bytes "$log")
	record 2 rclone "$(du_bytes "$T2")" "$rb"
	echo "   2 rclone sync     ${T_WALL}s  $((T_RSS_KB / 1024)) MiB RSS  transferred $(mib "$rb") MiB"

	log=$LOGS/3-cp-$r
	run_timed "$log" bash -c "$CP_MINUS_CACHE" _ "$DATA" "$T3"
	must_succeed "$log"
	record 3 cp "$(du_bytes "$T3")" -
	echo "   3 cp -a           ${T_WALL}s  $((T_RSS_KB / 1024)) MiB RSS"

	# Keep repetition 1's targets for step 5; the others only take disk space.
	if ((r > 1)); then rm -rf "$T1" "$T2" "$T3" "$STATE"; fi
done

# --- step 5: 20 new uploads, REPS times ----------------------------------------
POL=$W/owui-1.hcl STATE=$W/owui-state-1 T1=$W/t1-owui-1 T2=$W/t2-rclone-1
base=$(cat "$W/owui-1.applied")
for ((r = 1; r <= REPS; r++)); do
	echo "== repetition $r/$REPS: 20 new uploads, second backup"
	"$OWUI" sample "$DATA" --add-uploads 20 --add-chats 0 >>"$LOGS/sample.out" 2>&1 ||
		die "owui sample --add-uploads failed"
	now=$(date -u -d "@$((base + r * 25 * 3600))" +%Y-%m-%dT%H:%M:%SZ)

	log=$LOGS/5-owui-apply-$r
	before=$(du_bytes "$T1")
	run_timed "$log" "$OWUI" -f "$POL" --state "$STATE" --no-color --now "$now" apply --auto-approve
	must_succeed "$log"
	grep -q '1 snapshotted' "$log.out" || die "second apply made no snapshot: $(tail -n 3 "$log.out")"
	up=$(owui_uploaded "$log")
	record 5 owui "$(($(du_bytes "$T1") - before))" "$up"
	echo "   5 owui apply      ${T_WALL}s  $((T_RSS_KB / 1024)) MiB RSS  uploaded $(mib "$up") MiB  ($(grep -h 'complete:' "$log.err" | cut -c9-))"

	log=$LOGS/5-rclone-sync-$r
	before=$(du_bytes "$T2")
	run_timed "$log" rclone sync "$DATA" "$T2" --exclude 'cache/**' --use-json-log --stats-log-level NOTICE
	must_succeed "$log"
	rb=$(rclone_bytes "$log")
	record 5 rclone "$(($(du_bytes "$T2") - before))" "$rb"
	echo "   5 rclone sync     ${T_WALL}s  $((T_RSS_KB / 1024)) MiB RSS  transferred $(mib "$rb") MiB"
done
"$OWUI" -f "$POL" --state "$STATE" --no-color snapshots >"$LOGS/snapshots.out" 2>&1 || true

# --- report --------------------------------------------------------------------
col() { # STEP TOOL FIELD: the values of one column for one row of the table
	local row
	for row in "${ROWS[@]}"; do
		IFS='|' read -r -a f <<<"$row"
		[[ ${f[0]} == "$1" && ${f[1]} == "$2" ]] && echo "${f[$3]}"
	done
}
bytes_cell() { # median of a byte column, in MiB, or "-"
	local v
	mapfile -t v < <(col "$1" "$2" "$3")
	if [[ ${#v[@]} -eq 0 || ${v[0]} == - ]]; then echo -; else mib "$(median "${v[@]}")"; fi
}
table_row() { # STEP TOOL LABEL
	local wall rss
	mapfile -t v < <(col "$1" "$2" 2)
	wall=$(awk -v s="$(median "${v[@]}")" 'BEGIN { printf "%.2f", s }')
	mapfile -t v < <(col "$1" "$2" 3)
	rss=$(awk -v k="$(median "${v[@]}")" 'BEGIN { printf "%.0f", k / 1024 }')
	mapfile -t v < <(col "$1" "$2" 6)
	local oblk
	oblk=$(median "${v[@]}")
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$3" "$2" "$wall" "$rss" \
		"$(bytes_cell "$1" "$2" 4)" "$(bytes_cell "$1" "$2" 5)" "$(mib "$(awk -v b="$oblk" 'BEGIN { printf "%.0f", b * 512 }')")"
}

TABLE=$(
	echo "| step | tool | wall s | peak RSS MiB | target MiB (du -sb) | tool says MiB | write I/O MiB |"
	echo "|---|---|---:|---:|---:|---:|---:|"
	table_row 1 owui "1 first backup, empty target"
	table_row 2 rclone "2 first copy: \`rclone sync --exclude 'cache/**'\`"
	table_row 3 cp "3 first copy: \`cp -a\` minus cache/"
	table_row 4 owui "4 no-change \`plan\`"
	table_row 5 owui "5 +20 uploads: apply 25h later"
	table_row 5 rclone "5 +20 uploads: \`rclone sync\` again"
)
RAW=$(
	echo "| step | tool | wall s | peak RSS KiB | target bytes | tool says bytes | %O blocks |"
	echo "|---|---|---:|---:|---:|---:|---:|"
	for row in "${ROWS[@]}"; do echo "| ${row//|/ | } |"; done
)

mem=$(free -m | awk '/^Mem:/ { printf "%.1f GiB", $2 / 1024 }')
gov=$(go version 2>/dev/null || echo "go: not on PATH")
owui_go=$(go version "$OWUI" 2>/dev/null | awk '{ print $2 }' || true)
rcv=$(rclone version 2>/dev/null | head -n 1)
fs=$(findmnt -n -o FSTYPE -T "$W" 2>/dev/null || echo "?")
commit=$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo "?")
case $DROP in
yes) dropnote="yes: page cache dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every timed step" ;;
*) dropnote="NO: could not write /proc/sys/vm/drop_caches (not root?); steps ran with a warm page cache" ;;
esac

REPORT=$(
	cat <<EOF
# owui core benchmark

- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
- command: \`BENCH_DIR=$W OWUI=$OWUI REPS=$REPS bash bench/core.sh $SCALE\`
- machine: nproc $(nproc), memory $mem, $(uname -sr), work dir on $fs
- versions: $gov; owui binary $("$OWUI" --version 2>/dev/null | awk '{ print $NF }') built with ${owui_go:-?} (repo HEAD $commit when run); $rcv; $(cp --version | head -n 1)
- page cache dropped: $dropnote
- data: \`owui sample --scale $SCALE --seed 1\`: $GEN_SUMMARY; du -sb $(mib "$DATA_BYTES") MiB, of which cache/ $(mib "$CACHE_BYTES") MiB (excluded by every tool); generated in ${GEN_S}s
- medians of $REPS runs, each column on its own; MiB = 2^20 bytes

$TABLE

Columns: *target* is du -sb of the target directory (step 5: how much it grew;
du counts hard-linked files once, and a file rewritten at the same size adds
nothing). *tool says* is owui's "uploaded" summary figure or rclone's
transferred bytes. *write I/O* is GNU time's %O × 512: bytes the process wrote
to files, owui's staging copies included.

## Every run

$RAW

## Last owui snapshots

\`\`\`
$(cat "$LOGS/snapshots.out")
\`\`\`
EOF
)
echo
echo "$REPORT"
echo "$REPORT" >"$RESULTS"
echo
echo "written to $RESULTS; logs (stderr lines stamped with seconds since start) in $LOGS"
