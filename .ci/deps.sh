#!/usr/bin/env bash
# System packages the tests need besides Go, installed when missing (Debian).
# Each line: the command (or file) a test looks for, and the package that provides it.
#   tmux        the TUI test that runs the real binary in a terminal (cmd/stridemap/tui_test.go)
#   chromium    the HTML report's screenshot test (cmd/stridemap/report_test.go)
#   clang, llvm-strip, libbpf headers
#               regenerating the eBPF program to check the committed files (discover/flows/bpf)
#   ip, iptables, setcap
#               the eBPF end-to-end tests: network namespaces, a ClusterIP DNAT rule,
#               file capabilities for the unprivileged observer
#   nft         enforcing suggested NetworkPolicies in the same lab (policy/enforce_linux_test.go)
# and, without their recommended packages, what the kernel matrix needs
# (.ci/kernel-matrix.sh, .ci/kernels.sh):
#   qemu-system-x86_64, a static busybox
#               booting Debian's kernels under QEMU with a busybox initramfs
#   modinfo, xz, zstd
#               the kernels' modules: their dependencies, decompressed for busybox's insmod
#   jq          reading what stridemap-observer --check --json says of each kernel
# Runs apt-get through sudo when not root. Idempotent.
set -euo pipefail

need=(
	"tmux tmux"
	"chromium chromium"
	"clang clang"
	"llvm-strip llvm"
	"/usr/include/bpf/bpf_helpers.h libbpf-dev"
	"ip iproute2"
	"iptables iptables"
	"nft nftables"
	"setcap libcap2-bin"
)
lean=(
	"qemu-system-x86_64 qemu-system-x86"
	"/usr/share/doc/busybox-static busybox-static"
	"modinfo kmod"
	"xz xz-utils"
	"zstd zstd"
	"jq jq"
)

# missing prints the packages of the entries whose command or file is absent.
missing() {
	local entry what pkg
	for entry in "$@"; do
		what=${entry% *} pkg=${entry#* }
		if [[ $what == /* ]]; then
			[ -e "$what" ] || echo "$pkg"
		else
			command -v "$what" >/dev/null 2>&1 || echo "$pkg"
		fi
	done
}
mapfile -t missing_need < <(missing "${need[@]}")
mapfile -t missing_lean < <(missing "${lean[@]}")
if [ ${#missing_need[@]} -eq 0 ] && [ ${#missing_lean[@]} -eq 0 ]; then
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
echo "installing ${missing_need[*]} ${missing_lean[*]}"
$sudo apt-get update -qq
apt_install() { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$@" >/dev/null; }
if [ ${#missing_need[@]} -gt 0 ]; then
	# chromium's recommended packages bring the fonts the screenshot test needs.
	apt_install "${missing_need[@]}"
fi
if [ ${#missing_lean[@]} -gt 0 ]; then
	apt_install --no-install-recommends "${missing_lean[@]}"
fi
