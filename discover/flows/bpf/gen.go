// Package bpf holds the eBPF program that observes TCP connections
// (flow.c), the vmlinux.h it is compiled against, and the Go bindings and
// object that bpf2go generates from it. The generated files are committed,
// so building needs no clang; TestGeneratedFilesUpToDate regenerates them
// and fails when they drift from the C source.
//
// Regenerate after editing flow.c (needs clang, llvm-strip and libbpf-dev's
// headers; see .ci/deps.sh):
//
//	go generate ./discover/flows/bpf
//
// vmlinux.h comes from the kernel's BTF and only needs regenerating for a
// kernel type the program does not use yet (CO-RE relocates the rest):
//
//	bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
package bpf

//go:generate go tool bpf2go -target bpfel -type event -type event_type -type event_flags -type drop_reason -type direction -type owner -type flow_key -type flow_counts flow flow.c -- -I. -mcpu=v3
