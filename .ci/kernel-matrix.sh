#!/usr/bin/env bash
# The kernel matrix: runs the eBPF and network-namespace tests under a set
# of Debian kernels, each booted in turn with QEMU (TCG: no KVM needed), and
# writes which of the observer's eBPF parts load on which kernel.
#
#   sudo .ci/kernel-matrix.sh                   # the default kernels (.ci/kernels.sh)
#   sudo .ci/kernel-matrix.sh 6.1@bookworm 7    # some (SERIES[@SUITE], as .ci/kernels.sh takes)
#   sudo .ci/kernel-matrix.sh --update-readme   # and rewrite the table in README.md
#
# make test runs it (make test-kernels). Without root or QEMU it skips, with
# one line saying why, unless CI is set: then it must run. .ci/deps.sh
# installs what it needs (qemu-system-x86, busybox-static, iproute2,
# iptables, libcap2-bin, kmod, jq, xz-utils, zstd).
#
# 1. The kernels: .ci/kernels.sh fetches and caches them, with the modules
#    the network tests need.
# 2. The tests, built static on the host (CGO_ENABLED=0 go test -c) with
#    stridemap-observer: every test of ./discover/flows/bpf, ./discover/flows
#    and ./cmd/stridemap-observer, and the root tests of ./cmd/stridemap
#    that observe pods, and the memory limit read from a real cgroup
#    (./internal/memlimit; see plan below). They run as root with CI=true, so
#    none skips; -test.short skips the benchmarks and the eBPF drift check
#    (which needs clang: they run on the host).
# 3. An initramfs: a base part that depends only on the host's packages
#    (busybox, ip, iptables-legacy, setcap, setpriv and the libraries they
#    load; cached by content), the kernel's modules, and the project's part:
#    .ci/kernel-guest/init as /init, the tests, the observer.
# 4. Each kernel boots with -smp 2 -m 2G under timeout; its serial console
#    is its log. QEMU emulates both CPUs on one host thread (TCG
#    thread=single): with a thread per CPU (thread=multi), a CPU could run
#    code another CPU had just patched back (the kernel's int3-based live
#    patching of static keys), and 6.18 died of "Oops: int3" in
#    inet6_ehashfn at its first IPv6 connection. One thread costs about 10%
#    (the tests mostly wait); STRIDEMAP_QEMU_ACCEL overrides it. Kernels of the series in STRIDEMAP_HYBRID_CGROUP (default
#    6.1) boot with cgroup v1 controllers and cgroup v2 at
#    /sys/fs/cgroup/unified, as hosts with systemd's hybrid layout have it;
#    the others with cgroup v2 alone.
# 5. Per kernel it prints the version, how long it took, PASS/FAIL per test
#    binary with the failing tests' names, and what "stridemap-observer
#    --check --json" said; then a Markdown table of the kernels and the host
#    (kernels.md in the log directory; with --update-readme also between the
#    kernel-matrix markers of README.md). It exits 1 when a kernel failed.
#
# Environment: STRIDEMAP_KERNELS (the kernels, as .ci/kernels.sh takes them),
# STRIDEMAP_CACHE (the cache, default ~/.cache/stridemap),
# STRIDEMAP_KERNEL_LOGS (where the logs go; default a new directory under
# $TMPDIR), STRIDEMAP_KERNEL_TIMEOUT (seconds per kernel, default 900),
# STRIDEMAP_KERNEL_TESTS (some of the test binaries: "bpf flows"),
# STRIDEMAP_HYBRID_CGROUP (series booted with hybrid cgroups, default 6.1),
# STRIDEMAP_KERNELS_REFUSED (series the observer must refuse, default 5.10),
# STRIDEMAP_KERNEL_ARGS (more kernel command line, e.g. lockdown=confidentiality),
# STRIDEMAP_QEMU_ACCEL (QEMU's -accel, default tcg,thread=single; see 4.).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${STRIDEMAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stridemap}
timeout=${STRIDEMAP_KERNEL_TIMEOUT:-900}
accel=${STRIDEMAP_QEMU_ACCEL:-tcg,thread=single}
hybrid=${STRIDEMAP_HYBRID_CGROUP:-6.1}
# Series the observer refuses, as it should: its required program calls
# bpf_sk_storage_get, which tracing programs may only since 5.11. On these
# only the modules, the network smoke test and --check run, and the kernel
# passes when --check exits 2 saying the connections part does not load.
unsupported=${STRIDEMAP_KERNELS_REFUSED:-5.10}

# The tests each guest runs: name (the package's), directory, -test.run and
# -test.skip patterns ("-": none).
plan=(
	"bpf discover/flows/bpf - -"
	"flows discover/flows - -"
	# go list needs the Go toolchain: that test runs on the host
	"stridemap-observer cmd/stridemap-observer - ^TestLinksNothingItDoesNotNeed$"
	"stridemap cmd/stridemap ^(TestObserveEndToEnd|TestObserveThroughMeshSidecars|TestObserveResolvesByCgroup)$ -"
	# the memory limit read from cgroup v2, and from v1 on hybrid hosts
	"memlimit internal/memlimit ^TestApplyInARealCgroup$ -"
)

# STRIDEMAP_KERNEL_TESTS="bpf flows" runs only those of the plan.
if [ -n "${STRIDEMAP_KERNEL_TESTS:-}" ]; then
	chosen=()
	for line in "${plan[@]}"; do
		[[ " $STRIDEMAP_KERNEL_TESTS " == *" ${line%% *} "* ]] && chosen+=("$line")
	done
	plan=("${chosen[@]}")
fi

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
	exit "${1:-0}"
}

update_readme=""
specs=()
while [ $# -gt 0 ]; do
	case $1 in
	--update-readme) update_readme=1 ;;
	-h | --help) usage ;;
	-*)
		echo "kernel-matrix: unknown option $1" >&2
		usage 2 >&2
		;;
	*) specs+=("$1") ;;
	esac
	shift
done

say() { echo "kernel-matrix: $*"; }
# joined prints its arguments after the first, separated by the first.
joined() {
	local sep=$1 out=$2 x
	shift 2
	for x in "$@"; do out+="$sep$x"; done
	echo "$out"
}
die() {
	echo "kernel-matrix: $*" >&2
	exit 1
}

# --- can it run here? ---------------------------------------------------------
why=""
if [ "$(id -u)" -ne 0 ]; then
	why="needs root (sudo .ci/kernel-matrix.sh)"
elif ! command -v qemu-system-x86_64 >/dev/null; then
	why="needs qemu-system-x86_64 (.ci/deps.sh installs it)"
fi
if [ -n "$why" ]; then
	if [ -z "${CI:-}" ]; then
		say "skipped: $why; CI runs it"
		exit 0
	fi
	die "$why, and CI is set: it must run"
fi
command -v go >/dev/null || die "needs go"
for tool in jq modinfo xz zstd ip xtables-legacy-multi setcap setpriv; do
	command -v "$tool" >/dev/null || die "needs $tool: run .ci/deps.sh"
done
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
	die "needs a static /bin/busybox: install busybox-static (.ci/deps.sh)"
fi

start=$SECONDS
logs=${STRIDEMAP_KERNEL_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/stridemap-kernels.XXXXXX")}
mkdir -p "$logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/stridemap-kernel-work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- 1. kernels -----------------------------------------------------------------
mapfile -t kernels < <("$repo/.ci/kernels.sh" "${specs[@]}")
[ ${#kernels[@]} -gt 0 ] || die "no kernel to boot"
info() { sed -n "s/^$2=//p" "$1/info"; }
say "kernels: $(for k in "${kernels[@]}"; do printf '%s ' "$(info "$k" release)"; done)($((SECONDS - start))s)"

# --- 2. the tests and the observer, static --------------------------------------
t=$SECONDS
pkgs=()
for line in "${plan[@]}"; do
	read -r _ dir _ <<<"$line"
	pkgs+=("./$dir")
done
mkdir -p "$work/tests"
(
	cd "$repo"
	export CGO_ENABLED=0
	go test -c -ldflags='-s -w' -o "$work/tests/" "${pkgs[@]}"
	go build -ldflags='-s -w' -o "$work/stridemap-observer" ./cmd/stridemap-observer
)
say "built the tests ($((SECONDS - t))s)"

# --- 3. the initramfs -------------------------------------------------------------

# base_files lists the host's files the guest needs, and the libraries
# they load.
base_files() {
	local bins=(/bin/busybox "$(command -v ip)" "$(command -v xtables-legacy-multi)"
		"$(command -v setcap)" "$(command -v setpriv)")
	local ext
	ext=$(dirname "$(ldd "$(command -v xtables-legacy-multi)" | awk '/libxtables/ {print $3}')")/xtables
	printf '%s\n' "${bins[@]}" "$ext"/*.so
	ldd "${bins[@]:1}" "$ext"/*.so | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && NF == 2 {print $1}' | sort -u
}

# build_base writes the base initramfs: the files of base_files where the
# host has them (libraries at the paths the loader looks in, busybox,
# ip and iptables-legacy in /usr/sbin), and what a root file system needs.
build_base() {
	local root=$1 f
	# Debian's merged /usr, but for /bin: busybox's applets
	mkdir -p "$root"/{bin,usr/bin,usr/sbin,usr/lib/modules,usr/lib64,usr/local/bin,etc,proc,sys,dev,run,tmp,root,var,tests,src}
	ln -s usr/lib "$root/lib"
	ln -s usr/lib64 "$root/lib64"
	ln -s usr/sbin "$root/sbin"
	ln -s ../run "$root/var/run"
	while read -r f; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
	done <"$work/base-files"
	cp -L "$(command -v ip)" "$root/usr/sbin/ip"
	cp -L "$(command -v xtables-legacy-multi)" "$root/usr/sbin/xtables-legacy-multi"
	for f in iptables iptables-save iptables-restore; do
		ln -sf xtables-legacy-multi "$root/usr/sbin/$f"
	done
	cp -L "$(command -v setcap)" "$root/usr/sbin/setcap"
	cp -L "$(command -v setpriv)" "$root/usr/bin/setpriv"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
	printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

# newc writes the cpio archive of a directory, as the kernel unpacks it.
newc() { (cd "$1" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc 2>/dev/null); }

t=$SECONDS
base_files >"$work/base-files"
key=$({
	declare -f base_files build_base
	xargs sha256sum <"$work/base-files"
} | sha256sum | cut -c1-16)
base=$cache/initramfs/base-$key.cpio
if [ ! -s "$base" ]; then
	mkdir -p "$cache/initramfs"
	rm -f "$cache"/initramfs/base-*.cpio
	build_base "$work/base"
	newc "$work/base" >"$base.tmp"
	mv "$base.tmp" "$base"
	rm -rf "$work/base"
fi

# the project's part
p=$work/project
mkdir -p "$p/tests" "$p/usr/local/bin" "$p/src/deploy"
install -m 755 "$repo/.ci/kernel-guest/init" "$p/init"
mv "$work/stridemap-observer" "$p/usr/local/bin/"
mv "$work"/tests/*.test "$p/tests/"
printf '%s\n' "${plan[@]}" | grep -v '^#' >"$p/tests/plan"
for line in "${plan[@]}"; do
	read -r _ dir _ <<<"$line"
	mkdir -p "$p/src/$dir"
done
cp "$repo/deploy/observer-daemonset.yaml" "$p/src/deploy/"
newc "$p" >"$work/project.cpio"
cp "$p/usr/local/bin/stridemap-observer" "$work/"
rm -rf "$p"
say "initramfs: base $(du -h "$base" | cut -f1), project $(du -h "$work/project.cpio" | cut -f1) ($((SECONDS - t))s)"

# --- 4. boot each kernel -----------------------------------------------------------

# boot runs one kernel with the initramfs, its serial console to a log.
boot() {
	local k=$1 release=$2 cg=$3 tests=$4 log=$5 m=$work/modules
	# the kernel's modules, after the base and before the project
	rm -rf "$m"
	mkdir -p "$m/usr/lib/modules/$release" # not lib/: the base's link to usr/lib would be replaced
	cp "$k"/modules/* "$m/usr/lib/modules/$release/"
	cat "$base" <(newc "$m") "$work/project.cpio" >"$work/initrd.cpio"
	timeout -k 10 "$timeout" qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 -m 2G \
		-nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-kernel "$k/vmlinuz" -initrd "$work/initrd.cpio" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3 mitigations=off random.trust_cpu=on stridemap.cgroup=$cg stridemap.tests=$tests stridemap.timeout=$((timeout / 3))s ${STRIDEMAP_KERNEL_ARGS:-}" \
		</dev/null 2>&1 | tr -d '\r' >"$log" || true
	rm -f "$work/initrd.cpio"
}

# test_results prints "name rc seconds failing,tests" for each test binary
# of a log; rc is "none" for one that never ended.
test_results() {
	awk '
		/^== TEST .* BEGIN$/ { name = $3; fails = ""; next }
		/^== TEST .* rc=/ { split($4, rc, "="); split($5, s, "="); print $3, rc[2], s[2], fails == "" ? "-" : fails; name = ""; next }
		name != "" && /^--- FAIL: / { fails = fails (fails == "" ? "" : ",") $3 }
		name != "" && /^panic: / && fails !~ /panic/ { fails = fails (fails == "" ? "" : ",") "panic" }
		END { if (name != "") print name, "none", "-", fails == "" ? "-" : fails }' "$1"
}

# tests_cell says in the table which test binaries failed, and their
# failing tests (three at most).
tests_cell() {
	local name rc fails out="" list n
	while read -r name rc _ fails; do
		if [ -z "$name" ] || [ "$rc" = 0 ]; then
			continue
		fi
		out+=" $name"
		if [ "$fails" != - ]; then
			IFS=, read -ra list <<<"$fails"
			n=${#list[@]}
			[ "$n" -le 3 ] || list=("${list[@]:0:3}" "$((n - 3)) more")
			out+=" ($(joined ', ' "${list[@]}"))"
		fi
		[ "$rc" != none ] || out+=" (did not finish)"
	done <<<"$1"
	echo "✗${out:- no result}"
}

# rows: the support table's row of each kernel, tab-separated: kernel,
# source, tests, and what --check said (JSON, or "")
rows=()
failed=0
for k in "${kernels[@]}"; do
	release=$(info "$k" release)
	cg=unified
	[[ $release == "$hybrid".* ]] && cg=hybrid
	refused=""
	for series in $unsupported; do
		[[ $release != "$series".* ]] || refused=1
	done
	log=$logs/$release.log
	say "booting $release ($(info "$k" source) $(info "$k" version), cgroup $cg${refused:+; the observer should refuse it})"
	t=$SECONDS
	boot "$k" "$release" "$cg" "$([ -z "$refused" ] && echo all || echo none)" "$log"
	secs=$((SECONDS - t))

	results=$(test_results "$log")
	check=$(awk '/^== CHECK BEGIN/ { on = 1; next } /^== CHECK END/ { on = 0 } on && /^\{/' "$log" | head -1)
	check_rc=$(sed -n 's/^== CHECK END rc=//p' "$log")
	# what went wrong, if anything
	problems=()
	# a kernel that crashed says where, in its first Oops, BUG or panic line
	crash=$(grep -a -m1 -E '^\[ *[0-9.]+\] (Oops|BUG|Kernel panic)' "$log" | sed -E 's/^\[ *[0-9.]+\] //' || true)
	if [ -n "$crash" ]; then
		rip=$(grep -a -m1 -E '^\[ *[0-9.]+\] RIP: ' "$log" | sed -E 's/^\[ *[0-9.]+\] RIP: [0-9a-f]+://' || true)
		problems+=("the kernel crashed: $crash${rip:+ at $rip}")
	fi
	grep -aq '^== MODULES ok' "$log" || problems+=("the modules did not load")
	grep -aq '^== SMOKE ok' "$log" || problems+=("network namespaces, veth, the bridge or iptables failed")
	if [ -n "$refused" ]; then
		if [ -z "$check" ] || [ "$check_rc" != 2 ] || [ "$(jq -r '.parts[] | select(.part == "connections") | .ok' <<<"$check")" != false ]; then
			problems+=("the observer was to refuse this kernel (--check exit 2): it did not; is it supported now?")
		fi
		tests="— (refused, as expected)"
	else
		grep -aq '^== RESULT rc=0' "$log" || problems+=("tests failed")
		tests="✓"
		[ ${#problems[@]} -eq 0 ] || tests=$(tests_cell "$results")
		[ -z "$crash" ] || tests=${tests//(did not finish)/(the kernel crashed)}
	fi
	if grep -aq '^== RESULT' "$log"; then
		[ ${#problems[@]} -eq 0 ] || failed=$((failed + 1))
	else
		[ -n "$crash" ] || problems+=("no result: it did not finish in ${timeout}s, or the kernel died")
		failed=$((failed + 1))
	fi

	if [ ${#problems[@]} -eq 0 ]; then
		say "$release: PASS in ${secs}s"
	else
		say "$release: FAIL in ${secs}s: $(joined '; ' "${problems[@]}")"
	fi
	grep -a -E '^== (INIT|MODULES|SMOKE|WARN)' "$log" | sed 's/^== /    /' || true
	if [ -n "$check" ]; then
		echo "    CHECK (exit $check_rc) $(jq -r '[.parts[] | "\(.part) \(if .ok then "ok" else "FAILED (\(.detail))" end)"] | join(", ")' <<<"$check")"
	else
		echo "    CHECK unavailable (exit ${check_rc:-?}): $(sed -n 's/^check: //p' "$log" | head -1)"
	fi
	while read -r name rc s fails; do
		[ -n "$name" ] || continue
		v=PASS
		[ "$rc" = 0 ] || v=FAIL
		[ "$rc" != none ] || s="?"
		printf '    %-20s %s %ss%s\n' "$name" "$v" "$s" "$([ "$fails" = - ] || echo " $fails")"
	done <<<"$results"
	if ! grep -aq '^== RESULT' "$log"; then
		echo "    the log ends:"
		tail -15 "$log" | sed 's/^/      /'
	fi
	echo "    log: $log"
	source="$(info "$k" source), $(info "$k" version)"
	[ "$cg" = unified ] || source+=" ($cg cgroups)"
	rows+=("$(printf '%s\t%s\t%s\t%s' "$release" "$source" "$tests" "$check")")
done

# --- 5. the support table ------------------------------------------------------------

# cell renders one eBPF part of a --check JSON: ✓, or ✗ and why; "—"
# when it says nothing of the part.
cell() {
	jq -r --arg part "$2" '[.parts[] | select(.part == $part)] | if length == 0 then "—" else .[0] |
		if .ok then "✓" else "✗ " + (.detail | gsub("\\|"; "/") | gsub("\n"; " ") |
			if length > 120 then .[0:119] + "…" else . end) end end' <<<"$1"
}

host_check=$("$work/stridemap-observer" --check --json 2>/dev/null | head -1 || true)
[[ $host_check == "{"* ]] || host_check=""
rows+=("$(printf '%s\t%s\t%s\t%s' "$(uname -r)" "the host that ran this" "go test (make test)" "$host_check")")
{
	echo "| Kernel | Source | Connections | Owners | Listener adoption | Protocol peek | In-kernel aggregation | Tests |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
	for row in "${rows[@]}"; do
		IFS=$'\t' read -r release source tests check <<<"$row"
		cells=()
		for part in connections owners listener-adoption protocol-peek aggregation; do
			if [ -n "$check" ]; then cells+=("$(cell "$check" "$part")"); else cells+=("?"); fi
		done
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$release" "$source" "${cells[@]}" "$tests"
	done
	echo
	echo '✓ loads and does its work on a few loopback connections (`stridemap-observer --check`), ✗ does not (why, cut short), ? unknown: the observer had no --check.'
	echo "Ubuntu's 5.15 and 6.6 (EKS, GKE and Ubuntu LTS nodes) are in no Debian suite, so they are not tested here."
	echo "On 5.10 the observer refuses to start and says why: it needs socket storage in tracing programs (Linux 5.11 and newer)."
} >"$logs/kernels.md"

if [ -n "$update_readme" ]; then
	awk -v table="$logs/kernels.md" '
		/<!-- kernel-matrix:end -->/ { skip = 0 }
		!skip { print }
		/<!-- kernel-matrix:begin -->/ { while ((getline line < table) > 0) print line; skip = 1 }' \
		"$repo/README.md" >"$work/README.md"
	grep -q '<!-- kernel-matrix:begin -->' "$work/README.md" || die "README.md has no <!-- kernel-matrix:begin --> marker"
	cat "$work/README.md" >"$repo/README.md"
	say "README.md's kernel table updated"
fi

echo
cat "$logs/kernels.md"
echo
say "logs and kernels.md in $logs ($((SECONDS - start))s in all)"
echo "kernels: $((${#kernels[@]} - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
