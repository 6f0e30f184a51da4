#!/usr/bin/env bash
# Tools the eBPF flow observer's tests need in CI (Debian 12 "bookworm"):
#   clang, llvm (llvm-strip), libbpf-dev   regenerate discover/flows/bpf and check for drift
#                                          (the committed flow_bpfel.o was built with Debian's
#                                          clang 14.0.6: another clang may give other bytes)
#   iproute2, iptables                     the end-to-end tests build network namespaces, veth
#                                          pairs and a bridge, and DNAT a ClusterIP
#   libcap2-bin (setcap)                   a test runs the observer as nobody with file capabilities
# bpftool is only needed to regenerate vmlinux.h, which is committed, so it is not installed.
# The eBPF tests themselves need root, a kernel with BTF (/sys/kernel/btf/vmlinux) and cgroup v2.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
	echo "install-ebpf-tools: run as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends clang llvm libbpf-dev iproute2 iptables libcap2-bin >/dev/null
clang --version | head -1
