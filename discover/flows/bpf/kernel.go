//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// checkKernel probes for what every part of flow.c needs before anything
// is loaded, so that a kernel without it gets one sentence naming what is
// missing instead of a verifier log.
func checkKernel(types *btf.Cache) error {
	return kernelLacks(types.Kernel, features.HaveMapType)
}

// kernelLacks is checkKernel with its probes passed in: the kernel's types,
// and whether a map type can be made.
func kernelLacks(kernelTypes func() (*btf.Spec, error), haveMapType func(ebpf.MapType) error) error {
	if err := haveMapType(ebpf.Hash); errors.Is(err, unix.EPERM) {
		return errors.New("permission denied: run as root, or with CAP_BPF and CAP_PERFMON (and CAP_NET_ADMIN to classify protocols)")
	}
	kernel, err := kernelTypes()
	if err != nil {
		return fmt.Errorf("kernel %s has no BTF (/sys/kernel/btf/vmlinux): the observer needs a kernel built with CONFIG_DEBUG_INFO_BTF=y, as every major distribution's is (%w)", Release(), err)
	}
	if _, err := kernel.AnyTypeByName("btf_trace_inet_sock_set_state"); err != nil {
		return fmt.Errorf("kernel %s has no BTF-typed tracepoint inet_sock_set_state (tp_btf, Linux 5.5 and newer)", Release())
	}
	for _, need := range []struct {
		mt   ebpf.MapType
		what string
	}{{ebpf.RingBuf, "BPF ring buffers (Linux 5.8 and newer)"}, {ebpf.SkStorage, "socket storage maps (Linux 5.2 and newer)"}} {
		if err := haveMapType(need.mt); errors.Is(err, ebpf.ErrNotSupported) {
			return fmt.Errorf("kernel %s has no %s", Release(), need.what)
		}
	}
	return nil
}

// loadFailure is a one-line message for a program that did not load,
// with the whole error (a verifier's log, say) behind it for errors.As.
type loadFailure struct {
	msg string
	err error
}

func (f *loadFailure) Error() string   { return f.msg }
func (f *loadFailure) Unwrap() []error { return []error{ErrLoad, f.err} }

// loadError explains a failure to load the required program.
func loadError(err error) error {
	var verr *ebpf.VerifierError
	isVerifier := errors.As(err, &verr)
	switch {
	case errors.Is(err, unix.EPERM) && !isVerifier:
		return &loadFailure{fmt.Sprintf("%v: permission denied: run as root, or with CAP_BPF and CAP_PERFMON", ErrLoad), err}
	case lockdown() == "confidentiality":
		return &loadFailure{fmt.Sprintf("%v: the kernel is locked down (confidentiality), which refuses eBPF programs that read kernel memory: boot with lockdown=integrity", ErrLoad), err}
	case isVerifier:
		return &loadFailure{fmt.Sprintf("%v: kernel %s %s; the README's table lists the kernels the observer is tested on", ErrLoad, Release(), Reason(err)), err}
	}
	return &loadFailure{fmt.Sprintf("%v: %v", ErrLoad, err), err}
}

// Release is the running kernel's release, as uname -r prints it.
func Release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// lockdown is the kernel's lockdown mode ("none", "integrity",
// "confidentiality"), or "" when the kernel has none.
func lockdown() string {
	b, err := os.ReadFile("/sys/kernel/security/lockdown")
	if err != nil {
		return ""
	}
	// "none [integrity] confidentiality": the mode in force is bracketed.
	_, mode, ok := strings.Cut(string(b), "[")
	if !ok {
		return ""
	}
	mode, _, _ = strings.Cut(mode, "]")
	return mode
}

// Reason says in one line why a part did not load or attach: for a
// verifier's refusal, the last thing the verifier said, which names the
// instruction it would not accept; otherwise the error itself.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var verr *ebpf.VerifierError
	if !errors.As(err, &verr) {
		return err.Error()
	}
	for i := len(verr.Log) - 1; i >= 0; i-- {
		line := strings.TrimSpace(verr.Log[i])
		if line == "" || strings.HasPrefix(line, "processed ") || strings.HasPrefix(line, "verification time") ||
			strings.HasPrefix(line, "stack depth") {
			continue
		}
		return "refused by the verifier: " + line + lockdownNote()
	}
	return "refused by the verifier: " + verr.Cause.Error() + lockdownNote()
}

// lockdownNote says why a verifier may refuse helpers that read kernel
// memory (bpf_probe_read_kernel*): a kernel locked down for
// confidentiality refuses them.
func lockdownNote() string {
	if lockdown() == "confidentiality" {
		return " (the kernel is locked down for confidentiality, which refuses reading kernel memory)"
	}
	return ""
}
