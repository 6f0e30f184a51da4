package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/internal/safetext"
)

// observerFailure is a run of stridemap-observer that failed, as stridemap
// saw it: how it ended and what it said on stderr (progress lines left
// out). A refused program's verifier log can run to hundreds of lines.
type observerFailure struct {
	bin    string
	exit   error
	output []string
}

// maxReason bounds the observer's own error in the one line said about
// it; the whole of it is kept with the rest of the output.
const maxReason = 300

// reason is the observer's own error line (it prefixes it with its
// name), else the last thing it said; escaped and cut short. cut reports
// whether it was.
func (f observerFailure) reason() (reason string, cut bool) {
	for i := len(f.output) - 1; i >= 0 && reason == ""; i-- {
		if r, ok := strings.CutPrefix(f.output[i], "stridemap-observer: "); ok {
			reason = r
		}
	}
	for i := len(f.output) - 1; i >= 0 && reason == ""; i-- {
		reason = strings.TrimSpace(f.output[i])
	}
	if reason == "" {
		return "it said nothing", false
	}
	if r := []rune(reason); len(r) > maxReason {
		return safetext.Text(string(r[:maxReason])) + "…", true
	}
	return safetext.Text(reason), false
}

// more reports whether the observer said more than its reason shows: a
// verifier log, warnings, a reason cut short.
func (f observerFailure) more() bool {
	_, cut := f.reason()
	return cut || len(f.output) > 1
}

// message is the one line said about the failure: what failed and why,
// the advice that fits who runs it (never sudo or setcap to root), and
// where the observer's whole output is: shown above (-v), or in the file
// saved names.
func (f observerFailure) message(p privileges, shown bool, saved string) string {
	reason, _ := f.reason()
	msg := fmt.Sprintf("%s failed (%v): %s", filepath.Base(f.bin), f.exit, reason)
	if refusedPrivileges(f.output) {
		msg += p.advice(f.bin)
	}
	switch {
	case saved != "":
		msg += fmt.Sprintf("; its whole output (%d lines) is in %s", len(f.output), safetext.Text(saved))
	case f.more() && !shown:
		msg += "; run with -v to see its whole output"
	}
	return msg
}

// refusedPrivileges tells a failure for want of privileges from a
// verifier's refusal, which the kernel also reports as "permission
// denied" (EACCES) but which no privilege cures.
func refusedPrivileges(output []string) bool {
	all := strings.ToLower(strings.Join(output, "\n"))
	verifier := strings.Contains(all, "verifier") || strings.Contains(all, "line(s) omitted")
	return !verifier && (strings.Contains(all, "permission denied") || strings.Contains(all, "operation not permitted"))
}

// observerLine is a line the observer said, for a terminal: a verifier
// log's tab indents as spaces, anything else not graphic escaped.
func observerLine(s string) string {
	return "observer: " + safetext.Text(strings.ReplaceAll(s, "\t", "    "))
}

// saveObserverOutput writes what a failed observer said to a file of its
// own and returns its path, "" when it could not.
func saveObserverOutput(output []string) string {
	f, err := os.CreateTemp("", "stridemap-observer-*.log")
	if err != nil {
		return ""
	}
	_, err = f.WriteString(strings.Join(output, "\n") + "\n")
	if cerr := f.Close(); err != nil || cerr != nil {
		os.Remove(f.Name())
		return ""
	}
	return f.Name()
}

// privileges are what decides the advice when the observer is refused
// for want of privileges: whether stridemap runs as root, and whether it
// holds the capabilities eBPF needs (root in a container may not).
type privileges struct {
	root bool
	caps bool // CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN, are effective
}

// advice is what to do about a refusal, for who runs stridemap.
func (p privileges) advice(bin string) string {
	switch {
	case !p.root:
		return fmt.Sprintf(" (run stridemap observe as root, or give the observer the capabilities once: sudo setcap cap_bpf,cap_perfmon,cap_net_admin+ep %s)", safetext.Text(bin))
	case !p.caps:
		return " (root here lacks CAP_BPF and CAP_PERFMON, as in a container that was not given them: add BPF, PERFMON and NET_ADMIN to its capabilities)"
	default:
		return " (root with CAP_BPF was refused all the same: kernel lockdown, a security module such as SELinux or AppArmor, or a seccomp filter forbids eBPF here)"
	}
}

// Capability bits, as in linux/capability.h.
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// currentPrivileges reads this process's effective user and capabilities.
// Where /proc cannot say, root is taken to hold every capability.
func currentPrivileges(euid int) privileges {
	p := privileges{root: euid == 0, caps: euid == 0}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return p
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if hex, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			if eff, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64); err == nil {
				has := func(c uint) bool { return eff&(1<<c) != 0 }
				p.caps = has(capSysAdmin) || has(capBPF) && has(capPerfmon)
			}
		}
	}
	return p
}
