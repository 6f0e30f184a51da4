//go:build linux

package bpf

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// TestKernelLacks: a machine that cannot run the observer at all is told,
// in one line, what it lacks and what to do. Kernels without BTF, without
// the typed tracepoint or without ring buffers are not to be had for the
// kernel matrix, so their probes are faked here; the real probes run in
// every other test that loads the programs.
func TestKernelLacks(t *testing.T) {
	// kernelWith are the kernel's types as a kernel with just these has them.
	kernelWith := func(types ...btf.Type) func() (*btf.Spec, error) {
		return func() (*btf.Spec, error) {
			b, err := btf.NewBuilder(types, nil)
			if err != nil {
				return nil, err
			}
			raw, err := b.Marshal(nil, nil)
			if err != nil {
				return nil, err
			}
			return btf.LoadSpecFromReader(bytes.NewReader(raw))
		}
	}
	integer := &btf.Int{Name: "int", Size: 4}
	withTracepoint := kernelWith(&btf.Typedef{Name: "btf_trace_inet_sock_set_state", Type: integer})
	withoutTracepoint := kernelWith(integer)
	noBTF := func() (*btf.Spec, error) {
		return nil, fmt.Errorf("open /sys/kernel/btf/vmlinux: %w", ebpf.ErrNotSupported)
	}
	every := func(ebpf.MapType) error { return nil }
	without := func(missing ebpf.MapType) func(ebpf.MapType) error {
		return func(mt ebpf.MapType) error {
			if mt == missing {
				return fmt.Errorf("%s: %w", mt, ebpf.ErrNotSupported)
			}
			return nil
		}
	}
	unprivileged := func(ebpf.MapType) error { return unix.EPERM }
	for _, tc := range []struct {
		name  string
		types func() (*btf.Spec, error)
		maps  func(ebpf.MapType) error
		want  string // "" when nothing is lacking
	}{
		{"everything", withTracepoint, every, ""},
		{"no CAP_BPF", withTracepoint, unprivileged, "run as root, or with CAP_BPF and CAP_PERFMON"},
		{"no BTF", noBTF, every, "has no BTF (/sys/kernel/btf/vmlinux): the observer needs a kernel built with CONFIG_DEBUG_INFO_BTF=y"},
		{"no tp_btf", withoutTracepoint, every, "has no BTF-typed tracepoint inet_sock_set_state (tp_btf, Linux 5.5 and newer)"},
		{"no ring buffer", withTracepoint, without(ebpf.RingBuf), "has no BPF ring buffers (Linux 5.8 and newer)"},
		{"no socket storage", withTracepoint, without(ebpf.SkStorage), "has no socket storage maps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := kernelLacks(tc.types, tc.maps)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("nothing lacks, yet: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")):
				t.Errorf("want one line with %q, got %v", tc.want, err)
			}
		})
	}
}
