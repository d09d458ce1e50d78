#!/usr/bin/env bash
# bench/check-cost.sh — what the integrity_check of every SQLite copy costs
# apply, for the product decision issue 8 asks for: three builds of owui,
# timed beside the peers of the two targets they fail.
#
#   bash bench/check-cost.sh        (about 4 minutes at scale 1)
#
# The builds, from `git archive HEAD` (uncommitted changes are left out):
#   owui          as committed: PRAGMA integrity_check of every copy
#   owui-quick    PRAGMA quick_check instead (no index-against-table check)
#   owui-nocheck  no check at all; its manifests claim "ok" unchecked, so
#                 it lives only in BENCH_DIR and is never installed
# The two what-if builds are made by editing one line of a copy of the
# tree; the script stops if that line is not found.
#
# Each repetition, per tool, from a fresh `cp -a` of the generated data: a
# first backup to an empty target (owui, rclone sync, rsync -a, cp -a);
# then, for owui and rsync, `owui sample --add-uploads 20 --add-chats 1000`
# (untimed) and a second backup (owui: its incremental apply; rsync:
# --link-dest to the first). The page cache is dropped before every timed
# step where /proc/sys/vm/drop_caches is writable. Tools take turns, the
# order rotating each repetition.
#
# Environment: SCALE (owui sample --scale, default 1), RUNS (default 3;
# medians), BENCH_DIR (default /tmp/owui-bench-check, re-created), RESULTS
# (default bench/RESULTS-check.md).
set -euo pipefail
export GOWORK=off LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SCALE=${SCALE:-1}
RUNS=${RUNS:-3}
W=${BENCH_DIR:-/tmp/owui-bench-check}
RESULTS=${RESULTS:-$HERE/RESULTS-check.md}
die() { echo "bench/check-cost.sh: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
need_packages rclone:rclone rsync:rsync bc:bc
fresh_bench_dir .owui-bench-check
export RCLONE_CONFIG=$W/rclone.conf
: >"$RCLONE_CONFIG"
START=$(date -u +%s)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)

# build NAME SED-SCRIPT: owui from a copy of HEAD, edited by SED-SCRIPT
# (none when empty), as $W/NAME.
build() {
	local name=$1 edit=$2 src=$W/src-$1 f=executor/stage/sqlite.go
	mkdir -p "$src"
	git -C "$ROOT" archive HEAD | tar -x -C "$src"
	if [[ -n $edit ]]; then
		sed -i "$edit" "$src/$f"
		! cmp -s "$src/$f" <(git -C "$ROOT" show "HEAD:$f") || die "$name: the line to edit is no longer in $f"
	fi
	(cd "$src" && go build -o "$W/$name" ./cmd/owui) || die "go build of $name failed"
}
build owui ''
build owui-quick 's/PRAGMA integrity_check(20)/PRAGMA quick_check(20)/'
build owui-nocheck 's/^func integrityCheck(ctx context.Context, conn \*sql.Conn) (string, error) {$/&\n\tif true {\n\t\treturn "ok", nil\n\t}/'

BASE=$W/base
"$W/owui" sample "$BASE" --scale "$SCALE" --seed 1 >"$W/sample.log" 2>&1 || die "owui sample: $(tail -n 3 "$W/sample.log")"
DROP=no
if [[ -w /proc/sys/vm/drop_caches ]]; then DROP=yes; fi
drop() {
	sync
	if [[ $DROP == yes ]]; then echo 3 >/proc/sys/vm/drop_caches; fi
}
ROWS=$W/rows.tsv
: >"$ROWS"
# timed LOG CMD...: runs CMD, sets WALL to its wall time in seconds.
timed() {
	local log=$W/$1 t0 t1
	shift
	drop
	t0=$(date +%s.%N)
	"$@" >"$log.out" 2>"$log.err" || {
		tail -n 20 "$log.out" "$log.err" >&2
		die "failed: $*"
	}
	t1=$(date +%s.%N)
	WALL=$(echo "$t1 - $t0" | bc)
}
rec() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$WALL" "$(cut -d' ' -f1 /proc/loadavg)" >>"$ROWS"; }
mutate() { "$W/owui" sample "$1" --add-uploads 20 --add-chats 1000 >>"$W/mutate.log" 2>&1 || die "owui sample --add-uploads failed"; }
T0=$(($(date -u +%s) / 3600 * 3600 + 3600))
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

one() { # TOOL RUN
	local tool=$1 r=$2 D=$W/run
	rm -rf "$D"
	mkdir -p "$D/t"
	cp -a "$BASE" "$D/data"
	case $tool in
	owui*)
		cat >"$D/policy.hcl" <<EOF
instance "main" {
  data_dir = "$D/data"
}
target "local" {
  remote = "$D/t"
}
backup "b" {
  instance = instance.main
  to       = [target.local]
  every    = "1h"
  exclude  = ["cache/**"]
  keep {
    last = 100
  }
}
EOF
		local O=("$W/$tool" -f "$D/policy.hcl" --state "$D/state" --no-color)
		timed "$tool-$r-first" "${O[@]}" --now "$(iso "$T0")" apply --auto-approve
		rec "$tool" first "$r"
		mutate "$D/data"
		timed "$tool-$r-change" "${O[@]}" --now "$(iso $((T0 + 3600)))" apply --auto-approve
		rec "$tool" change "$r"
		;;
	rclone)
		timed "rclone-$r-first" rclone sync "$D/data" "$D/t" --exclude '/cache/**'
		rec rclone first "$r"
		;;
	rsync)
		timed "rsync-$r-first" rsync -a --exclude=/cache/ "$D/data/" "$D/t/0/"
		rec rsync first "$r"
		mutate "$D/data"
		timed "rsync-$r-change" rsync -a --exclude=/cache/ --link-dest="$D/t/0" "$D/data/" "$D/t/1/"
		rec rsync change "$r"
		;;
	cp)
		mkdir -p "$D/t/0"
		local top=()
		for e in "$D/data"/*; do [[ ${e##*/} == cache ]] || top+=("$e"); done
		timed "cp-$r-first" cp -a "${top[@]}" "$D/t/0/"
		rec cp first "$r"
		;;
	esac
	rm -rf "$D"
}

TOOLS=(owui owui-quick owui-nocheck rclone rsync cp)
for ((r = 1; r <= RUNS; r++)); do
	n=${#TOOLS[@]}
	for ((i = 0; i < n; i++)); do
		one "${TOOLS[$(((i + r - 1) % n))]}" "$r"
	done
done

median() { # TOOL STEP
	awk -F'\t' -v t="$1" -v s="$2" '$1 == t && $2 == s { print $4 }' "$ROWS" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
every() { awk -F'\t' -v t="$1" -v s="$2" '$1 == t && $2 == s { printf "%s%.2f", sep, $4; sep = " " }' "$ROWS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
verdict() { awk -v x="$1" -v lim="$2" 'BEGIN { if (x == "-") print "-"; else if (x <= lim) print "pass"; else print "**FAIL**" }'; }
secs() { awk -v a="$1" 'BEGIN { if (a == "-") print "-"; else printf "%.2f", a }'; }
loads=$(cut -f5 "$ROWS" | sort -g | awk '{ v[NR] = $1 } END { printf "min %s, median %s, max %s", v[1], v[int((NR + 1) / 2)], v[NR] }')

{
	echo "# What the SQLite check costs apply"
	echo
	echo "Written by \`bench/check-cost.sh\` (SCALE=$SCALE RUNS=$RUNS) on $COMMIT; started $(date -u -d "@$START" +%Y-%m-%dT%H:%M:%SZ), took $(($(date -u +%s) - START))s."
	echo
	echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr); 1-minute load after each step: $loads; page cache dropped before every timed step: $DROP."
	echo "Data: \`owui sample --scale $SCALE --seed 1\`, $(du -sb --exclude=cache "$BASE" | cut -f1 | awk '{ printf "%.1f MiB", $1 / 1048576 }') without cache/; the change: \`owui sample DATA --add-uploads 20 --add-chats 1000\`."
	echo
	echo "owui-quick and owui-nocheck are what-if builds (see the script's header): not owui, and not to be installed."
	echo
	echo "| tool | first backup, s (median) | every run | after the 1% change, s (median) | every run |"
	echo "|---|---:|---|---:|---|"
	for t in "${TOOLS[@]}"; do
		echo "| $t | $(secs "$(median "$t" first)") | $(every "$t" first) | $(secs "$(median "$t" change)") | $(every "$t" change) |"
	done
	echo
	echo "| build | first / rclone sync (target ≤ 1.0) | first / cp -a (target ≤ 1.5) | change / rsync --link-dest (target ≤ 1.0) |"
	echo "|---|---|---|---|"
	for t in owui owui-quick owui-nocheck; do
		a=$(ratio "$(median "$t" first)" "$(median rclone first)")
		b=$(ratio "$(median "$t" first)" "$(median cp first)")
		c=$(ratio "$(median "$t" change)" "$(median rsync change)")
		echo "| $t | $a $(verdict "$a" 1.0) | $b $(verdict "$b" 1.5) | $c $(verdict "$c" 1.0) |"
	done
} >"$RESULTS"
cat "$RESULTS"
