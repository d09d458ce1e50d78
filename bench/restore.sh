#!/usr/bin/env bash
# bench/restore.sh — restore time of one snapshot of the default-scale
# sample instance from a local target: `owui restore` against the plain
# `rclone copy TARGET/daily/ID DIR` command line of the same snapshot.
#
#   bash bench/restore.sh [SCALE]        (from the repo root; SCALE 1 ≈ 1 GB)
#
# Environment:
#   BENCH_DIR  working directory, deleted and re-created at start
#              (default /tmp/owui-bench-restore; only deleted if empty or
#              made by this script)
#   OWUI       the owui binary; default: built once from this tree into
#              /tmp/owui-bench-restore-bin/owui before anything is timed
#   REPS       repetitions of each timed restore (default 3; medians reported)
#
# Each timed restore starts from an absent destination with the page cache
# dropped (when allowed). Wall time and peak RSS come from GNU time (%e %M).
# owui checks every file's size and sha256 against the manifest as it
# arrives (4 files at a time, like rclone's default --transfers 4); rclone
# copy between local directories checks sizes and, by default, MD5 sums.
set -euo pipefail

SCALE=${1:-1}
REPS=${REPS:-3}
W=${BENCH_DIR:-/tmp/owui-bench-restore}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RESULTS=$HERE/RESULTS-restore.md
TIME=/usr/bin/time

die() { echo "restore.sh: $*" >&2; exit 1; }

[[ -x $TIME ]] || die "GNU time is needed at $TIME (apt-get install time)"
command -v rclone >/dev/null || die "rclone is not installed"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer, not $REPS"
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "SCALE must be a number, not $SCALE"

if [[ -z ${OWUI:-} ]]; then
	OWUI=/tmp/owui-bench-restore-bin/owui
	echo "== building owui into $OWUI"
	(cd "$HERE/.." && go build -o "$OWUI" ./cmd/owui) || die "go build failed"
fi
[[ -x $OWUI ]] || die "no owui binary at $OWUI"

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
DATA=$W/data TARGET=$W/target POL=$W/owui.hcl LOGS=$W/logs

DROP=unknown
drop_caches() {
	sync
	if { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
		[[ $DROP == no ]] || DROP=yes
	else
		DROP=no
	fi
}

# run_timed LOG CMD...: drops the page cache and runs CMD under GNU time;
# sets T_WALL and T_RSS_KB, and stops the benchmark when CMD fails.
run_timed() {
	local log=$1
	shift
	drop_caches
	if ! "$TIME" -o "$log.time" -f '%e %M' "$@" >"$log.out" 2>"$log.err"; then
		tail -n 20 "$log.out" "$log.err" >&2
		die "step failed: $*"
	fi
	read -r T_WALL T_RSS_KB < <(tail -n 1 "$log.time")
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

echo "== generating the sample data dir at scale $SCALE"
"$OWUI" sample "$DATA" --scale "$SCALE" --seed 1 >"$LOGS/sample.out" 2>&1 ||
	{ cat "$LOGS/sample.out" >&2; die "owui sample failed"; }
cat >"$POL" <<EOF
instance "main" {
  data_dir = "$DATA"
}
target "local" {
  remote = "$TARGET"
}
backup "daily" {
  instance = instance.main
  to       = [target.local]
  every    = "24h"
}
EOF
echo "== snapshotting it with owui apply"
"$OWUI" -f "$POL" --no-color apply --auto-approve >"$LOGS/apply.out" 2>&1 ||
	{ tail -n 20 "$LOGS/apply.out" >&2; die "owui apply failed"; }
ID=$(ls "$TARGET/daily")
[[ $(wc -w <<<"$ID") == 1 ]] || die "expected one snapshot, found: $ID"
SNAP_BYTES=$(du -sb --exclude owui-manifest.json "$TARGET/daily/$ID" | cut -f1)
SNAP_FILES=$(find "$TARGET/daily/$ID" -type f ! -name owui-manifest.json | wc -l)
echo "   snapshot $ID: $SNAP_FILES files, $(mib "$SNAP_BYTES") MiB"

declare -a OW_WALL OW_RSS RC_WALL RC_RSS
for ((r = 1; r <= REPS; r++)); do
	echo "== repetition $r/$REPS"
	R=$W/restored-owui
	rm -rf "$R"
	run_timed "$LOGS/owui-$r" "$OWUI" -f "$POL" --no-color restore daily --snapshot "$ID" --to "$R"
	OW_WALL+=("$T_WALL") OW_RSS+=("$T_RSS_KB")
	got=$(find "$R" -type f | wc -l)
	((got == SNAP_FILES)) || die "owui restored $got files, the snapshot has $SNAP_FILES"
	echo "   owui restore  ${T_WALL}s  $((T_RSS_KB / 1024)) MiB RSS"
	rm -rf "$R"

	R=$W/restored-rclone
	rm -rf "$R"
	run_timed "$LOGS/rclone-$r" rclone copy "$TARGET/daily/$ID" "$R"
	RC_WALL+=("$T_WALL") RC_RSS+=("$T_RSS_KB")
	got=$(find "$R" -type f ! -name owui-manifest.json | wc -l)
	((got == SNAP_FILES)) || die "rclone copied $got files, the snapshot has $SNAP_FILES"
	echo "   rclone copy   ${T_WALL}s  $((T_RSS_KB / 1024)) MiB RSS"
	rm -rf "$R"
done

OW_MED=$(median "${OW_WALL[@]}") RC_MED=$(median "${RC_WALL[@]}")
OW_RSS_MED=$(median "${OW_RSS[@]}") RC_RSS_MED=$(median "${RC_RSS[@]}")
rate() { awk -v b="$SNAP_BYTES" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", b / 1048576 / s; else print "-" }'; }

cat >"$RESULTS" <<EOF
# Restore time from a local target

\`bash bench/restore.sh $SCALE\` on $(date -u +%Y-%m-%d) — $(nproc) CPUs,
$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr), rclone $(rclone version | head -n 1 | awk '{ print $2 }'),
$("$OWUI" --version). Page cache dropped before each
timed step: $DROP. Median of $REPS; wall time and peak RSS from GNU time.

One snapshot of the sample instance at scale $SCALE (\`owui sample DIR --scale
$SCALE --seed 1\`): $SNAP_FILES files, $(mib "$SNAP_BYTES") MiB, on a local target in
the same file system as the destination.

| command | wall (median) | MiB/s | peak RSS | runs |
|---|---|---|---|---|
| \`owui restore daily --snapshot ID --to DIR\` | ${OW_MED} s | $(rate "$OW_MED") | $((${OW_RSS_MED%.*} / 1024)) MiB | ${OW_WALL[*]} |
| \`rclone copy TARGET/daily/ID DIR\` | ${RC_MED} s | $(rate "$RC_MED") | $((${RC_RSS_MED%.*} / 1024)) MiB | ${RC_WALL[*]} |

Both start from an absent DIR. owui downloads 4 files at a time into a
staging directory inside DIR, checks each one's size and sha256 against the
manifest, checks webui.db's upload paths, then renames the files into place;
rclone copy (4 transfers) checks sizes and MD5 sums of local copies, and
copies owui-manifest.json too.
EOF
echo "== wrote $RESULTS"
cat "$RESULTS"
