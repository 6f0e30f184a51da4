#!/usr/bin/env bash
# System packages the tests need besides Go, installed when missing (Debian).
# Each line: the command a test looks for, and the package that provides it.
#   tmux        the TUI test that runs the real binary in a terminal (cmd/stridemap/tui_test.go)
#   chromium    the HTML report's screenshot test (cmd/stridemap/report_test.go)
#   clang, llvm-strip, libbpf headers
#               regenerating the eBPF program to check the committed files (discover/flows/bpf)
#   ip, iptables, setcap
#               the eBPF end-to-end tests: network namespaces, a ClusterIP DNAT rule,
#               file capabilities for the unprivileged observer
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
	"setcap libcap2-bin"
)
missing=()
for entry in "${need[@]}"; do
	what=${entry% *} pkg=${entry#* }
	if [[ $what == /* ]]; then
		[ -e "$what" ] || missing+=("$pkg")
	else
		command -v "$what" >/dev/null 2>&1 || missing+=("$pkg")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
echo "installing ${missing[*]}"
$sudo apt-get update -qq
# chromium's recommended packages bring the fonts the screenshot test needs.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
