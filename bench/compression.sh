#!/usr/bin/env bash
# bench/compression.sh — what compression = "zstd" costs and saves: the same
# generated Open WebUI data directory backed up by owui with compression off
# and on, and by restic (its repository compresses too), to local targets.
#
#   bash bench/compression.sh        (about 3 minutes at scale 1)
#
# Environment: SCALE (owui sample --scale, default 1: about 1 GB), RUNS
# (repetitions, default 1; medians), BENCH_DIR (default
# /tmp/owui-bench-compression, re-created), RESULTS (default
# bench/RESULTS-compression.md).
#
# Each repetition, per tool, from a fresh copy of the data: a first backup,
# a second with nothing changed, `owui sample --add-uploads 20 --add-chats
# 1000` (untimed), a third backup; then a restore of the third (owui only).
# Stored is du -sb of the target after minus before (restic: its
# repository); time and peak RSS are GNU time's %e and %M.
set -euo pipefail
export GOWORK=off LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SCALE=${SCALE:-1}
RUNS=${RUNS:-1}
W=${BENCH_DIR:-/tmp/owui-bench-compression}
RESULTS=${RESULTS:-$HERE/RESULTS-compression.md}
TIME=/usr/bin/time
die() { echo "bench/compression.sh: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
need_packages restic:restic jq:jq "$TIME":time
fresh_bench_dir .owui-bench-compression
export RCLONE_CONFIG=$W/rclone.conf RESTIC_PASSWORD=owui-bench
: >"$RCLONE_CONFIG"
OWUI=$W/owui
(cd "$ROOT" && go build -o "$OWUI" ./cmd/owui) || die "go build failed"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)
BASE=$W/base
"$OWUI" sample "$BASE" --scale "$SCALE" --seed 1 >"$W/sample.log" 2>&1 || die "owui sample: $(tail -n 3 "$W/sample.log")"
ROWS=$W/rows.tsv
: >"$ROWS"
du_b() { du -sb "$1" | cut -f1; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
T0=$(($(date -u +%s) / 3600 * 3600 + 3600))

# timed NAME CMD...: runs CMD under GNU time, sets WALL and RSS (KiB).
timed() {
	local log=$W/$1
	shift
	sync
	"$TIME" -o "$log.time" -f '%e %M' "$@" >"$log.out" 2>"$log.err" || {
		tail -n 20 "$log.out" "$log.err" >&2
		die "failed: $*"
	}
	read -r WALL RSS <"$log.time"
}
rec() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$WALL" "$RSS" "$4" >>"$ROWS"; }

seq_owui() { # RUN MODE
	local r=$1 mode=$2 D=$W/owui-$2 before
	rm -rf "$D"
	mkdir -p "$D/t"
	cp -a "$BASE" "$D/data"
	cat >"$D/policy.hcl" <<EOF
instance "main" {
  data_dir = "$D/data"
}
target "local" {
  remote = "$D/t"
}
backup "b" {
  instance    = instance.main
  to          = [target.local]
  every       = "1h"
  exclude     = ["cache/**"]
  compression = "$mode"
  keep {
    last = 100
  }
}
EOF
	local O=("$OWUI" -f "$D/policy.hcl" --state "$D/state" --no-color -v)
	local step i=0
	for step in first nochange change; do
		[[ $step == change ]] && { "$OWUI" sample "$D/data" --add-uploads 20 --add-chats 1000 >>"$W/mutate.log" 2>&1 || die "mutate failed"; }
		before=$(du_b "$D/t")
		timed "owui-$mode-$r-$step" "${O[@]}" --now "$(iso $((T0 + i * 3600)))" apply --auto-approve
		rec "owui $mode" "$step" "$r" $(($(du_b "$D/t") - before))
		i=$((i + 1))
	done
	grep -ho "compressed the SQLite copies [^\"]*" "$W/owui-$mode-$r-first.err" >"$W/owui-$mode-$r-compress.txt" || true
	local snap
	snap=$(date -u -d "@$((T0 + 7200))" +%Y-%m-%dT%H%M%SZ)
	jq -r '[.files[] | select(.sqlite != null) | "\(.path) \(.size) \(.stored.size // .size)"] | .[]' \
		"$D/t/b/$snap/owui-manifest.json" >"$W/owui-$mode-$r-sqlite.txt"
	timed "owui-$mode-$r-restore" "${O[@]}" restore b --snapshot "$snap" --to "$D/restored"
	rec "owui $mode" restore "$r" "$(du_b "$D/restored")"
	rm -rf "$D"
}

seq_restic() { # RUN
	local r=$1 D=$W/restic before step
	rm -rf "$D"
	mkdir -p "$D"
	cp -a "$BASE" "$D/data"
	restic -r "$D/t" init -q >/dev/null
	for step in first nochange change; do
		[[ $step == change ]] && { "$OWUI" sample "$D/data" --add-uploads 20 --add-chats 1000 >>"$W/mutate.log" 2>&1 || die "mutate failed"; }
		before=$(du_b "$D/t")
		timed "restic-$r-$step" env -C "$D/data" restic -r "$D/t" --no-cache backup -q --exclude "$D/data/cache" .
		rec restic "$step" "$r" $(($(du_b "$D/t") - before))
	done
	rm -rf "$D"
}

for r in $(seq 1 "$RUNS"); do
	seq_owui "$r" none
	seq_owui "$r" zstd
	seq_restic "$r"
done

med() { # TOOL STEP COLUMN
	awk -F'\t' -v t="$1" -v s="$2" -v c="$3" '$1 == t && $2 == s { print $c }' "$ROWS" | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
mib() { [[ $1 == - ]] && echo - || awk -v v="$1" 'BEGIN { printf "%.1f", v / 1048576 }'; }
row() { # TOOL
	local t=$1 s out="| $1 |"
	for s in first nochange change; do
		out+=" $(mib "$(med "$t" $s 6)") MiB, $(med "$t" $s 4) s, $(($(med "$t" $s 5) / 1024)) MiB |"
	done
	if [[ $t == restic ]]; then out+=" (not run) |"; else out+=" $(med "$t" restore 4) s, $(($(med "$t" restore 5) / 1024)) MiB |"; fi
	echo "$out"
}
{
	echo "# compression = \"zstd\": bytes stored and time"
	echo
	echo "Made by \`bash bench/compression.sh\` (SCALE=$SCALE, RUNS=$RUNS; medians) on $(date -u +%Y-%m-%dT%H:%MZ), git $COMMIT$( [[ -n $(git -C "$ROOT" status --porcelain -- . ':!bench') ]] && echo " + uncommitted changes")."
	echo
	echo "Machine: $(nproc) CPUs, $(free -g | awk '/Mem:/ { print $2 }') GiB RAM; $(go version | awk '{ print $3 }'); $(restic version | awk '{ print $1, $2 }') (repository v2, compression auto)."
	echo
	echo "Data: \`owui sample --scale $SCALE --seed 1\`, $(du -sb --exclude=cache "$BASE" | awk '{ printf "%.0f MiB", $1 / 1048576 }') without cache/. Change: \`owui sample --add-uploads 20 --add-chats 1000\`."
	echo
	echo "Each cell: bytes stored on the target by the step (du -sb after − before), wall time, peak RSS. The page cache is not dropped between steps (every tool runs warm); bench/run has the cold-cache comparison with the other tools."
	echo
	echo "owui compresses only the SQLite copies: uploads are stored as they are (one file each, any tool opens them), which is why its first backup stores more than restic's repository, which compresses and deduplicates everything. Every owui snapshot stays a directory that restores on its own."
	echo
	echo "| tool | first backup | no-change backup | after the change | restore of the third |"
	echo "|---|---|---|---|---|"
	row "owui none"
	row "owui zstd"
	row restic
	echo
	echo "SQLite copies in the third snapshot (logical bytes → stored bytes), run 1:"
	echo
	echo "| file | compression off | zstd |"
	echo "|---|---|---|"
	paste -d' ' "$W/owui-none-1-sqlite.txt" "$W/owui-zstd-1-sqlite.txt" | awk '{ printf "| %s | %.1f → %.1f MiB | %.1f → %.1f MiB (%.1f×) |\n", $1, $2 / 1048576, $3 / 1048576, $5 / 1048576, $6 / 1048576, $5 / $6 }'
	echo
	echo "owui's own log of the first zstd apply: $(cat "$W/owui-zstd-1-compress.txt")"
} >"$RESULTS"
cat "$RESULTS"
