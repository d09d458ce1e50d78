# bench/lib.sh — shared by the bench scripts, which source it after
# defining die MESSAGE (prints and exits) and setting ROOT (the repository).

# need_packages CMD:PACKAGE...: installs with apt-get the package of each
# command that is not on PATH.
need_packages() {
	local need=() pair
	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
	done
	((${#need[@]})) || return 0
	echo "installing ${need[*]} (apt-get)" >&2
	apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
}

# check_bench_dir: makes $W absolute, and refuses a directory whose removal
# would lose work (the repository, /work, a home).
check_bench_dir() {
	W=$(realpath -m "$W")
	case $W in / | /tmp | "$HOME" | /work | /work/* | "$ROOT" | "$ROOT"/*) die "refusing to use $W as BENCH_DIR" ;; esac
}

# fresh_bench_dir MARK: $W checked, emptied if this script made it (the
# file MARK is in it), re-created and marked.
fresh_bench_dir() {
	check_bench_dir
	if [[ -e $W ]]; then
		[[ -e $W/$1 ]] || die "$W exists and was not made by this script"
		rm -rf "$W"
	fi
	mkdir -p "$W"
	touch "$W/$1"
}
