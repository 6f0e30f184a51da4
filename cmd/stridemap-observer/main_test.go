//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/stridemap/stridemap/discover/flows"
)

// TestLinksNothingItDoesNotNeed: the privileged binary must not link
// go-graphviz (whose start-up compiles WebAssembly into a cache under
// $TMPDIR), nor the TUI, the store or the rule engine.
func TestLinksNothingItDoesNotNeed(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages", len(deps))
	}
	for _, dep := range deps {
		// Package net brings cgo, and a cgo binary cannot give up its
		// capabilities on every thread.
		if dep == "net" || dep == "runtime/cgo" {
			t.Errorf("stridemap-observer links %s", dep)
		}
		for _, banned := range []string{"github.com/goccy/go-graphviz", "github.com/tetratelabs/wazero", "charm.land/", "modernc.org/", "cel.dev/", "k8s.io/", "github.com/stridemap/stridemap/export"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("stridemap-observer links %s", dep)
			}
		}
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--bogus"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "Usage: stridemap-observer") {
		t.Errorf("bad flag: exit %d\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"extra"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `unexpected argument "extra"`) {
		t.Errorf("argument: exit %d\n%s", code, stderr.String())
	}
}

// TestObserverBinary runs the built binary as root: once attached it must
// have given up root and every capability, still see a connection and
// write it to the flow log with a summary that lost nothing.
func TestObserverBinary(t *testing.T) {
	needRoot(t, "the observer needs root")
	dir := t.TempDir()
	bin := buildObserver(t, dir)
	logPath := filepath.Join(dir, "flows.jsonl")
	cmd, stderr := startObserver(t, bin, nil, "--duration", "3s", "--progress", "100ms", "-o", logPath, "--node", "test-node")
	lines := bufio.NewScanner(stderr)
	var log []string
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "observing") {
		log = append(log, lines.Text())
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Uid:\t65534\t65534\t65534\t65534", "Gid:\t65534\t65534\t65534\t65534", "CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("once attached the observer should have dropped privileges: no %q in\n%s", want, status)
		}
	}

	port := connectOnce(t, []byte("hello"))

	for lines.Scan() {
		log = append(log, lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("observer: %v\n%s", err, strings.Join(log, "\n"))
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := flows.ReadLog(f)
	if err != nil {
		t.Fatal(err)
	}
	var client *flows.Flow
	for i, fl := range got.Flows {
		if fl.Role == flows.RoleClient && fl.Port == port {
			client = &got.Flows[i]
		}
	}
	if client == nil || client.Opened != 1 || client.Node != "test-node" || client.PID != uint32(os.Getpid()) || client.Cgroup == "" {
		t.Errorf("client flow to port %d: %+v", port, client)
	}
	if len(got.Summaries) != 1 || got.Summaries[0].Lost() != 0 || got.Summaries[0].Flows == 0 {
		t.Errorf("summaries %+v", got.Summaries)
	}
	if !strings.Contains(strings.Join(log, "\n"), "progress flows=") {
		t.Errorf("no progress line on stderr:\n%s", strings.Join(log, "\n"))
	}
}

// TestObserverWithFileCapabilities: a non-root user running the binary
// with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN as file capabilities can
// observe and classify, and the
// observer clears those capabilities once attached.
func TestObserverWithFileCapabilities(t *testing.T) {
	bin := observerForNobody(t)
	if out, err := exec.Command("setcap", "cap_bpf,cap_perfmon,cap_net_admin+ep", bin).CombinedOutput(); err != nil {
		t.Skipf("this filesystem does not take file capabilities: %v\n%s", err, out)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", bin, "--duration", "1s", "--progress", "0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("observer as nobody with file capabilities: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "now running as uid 65534, gid 65534, no capabilities") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	log, err := flows.ReadLog(&stdout)
	if err != nil || len(log.Summaries) != 1 {
		t.Errorf("flow log: %v %+v", err, log)
	}
}

// observerForNobody builds the observer where the user nobody can run it,
// for tests that give it file capabilities (setcap) and run it as nobody
// (setpriv).
func observerForNobody(t *testing.T) string {
	t.Helper()
	needRoot(t, "setting file capabilities needs root")
	for _, tool := range []string{"setcap", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "" {
				t.Skipf("%s not installed (libcap2-bin, util-linux)", tool)
			}
			t.Fatalf("%s not installed: .ci/deps.sh installs it", tool)
		}
	}
	dir, err := os.MkdirTemp("", "stridemap-observer-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // nobody must reach the binary
		t.Fatal(err)
	}
	return buildObserver(t, dir)
}

// needRoot skips a test that needs root when not run as root, except in
// CI, where it must run.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "" {
			t.Skip(why + " (runs in CI)")
		}
		t.Fatal(why + ": must run as root in CI")
	}
}

// buildObserver builds this binary into dir.
func buildObserver(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "stridemap-observer")
	// The kernel matrix (.ci/kernel-matrix.sh) runs these tests where
	// there is no Go toolchain, with the observer built already: a copy,
	// as tests give their binary file capabilities.
	if prebuilt := os.Getenv("STRIDEMAP_TEST_OBSERVER"); prebuilt != "" {
		b, err := os.ReadFile(prebuilt)
		if err == nil {
			err = os.WriteFile(bin, b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
		return bin
	}
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startObserver starts the binary as root not run by sudo (so it becomes
// nobody once attached) and returns its standard error.
func startObserver(t *testing.T, bin string, stdout io.Writer, args ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SUDO_UID=", "SUDO_GID=")
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, stderr
}

// connectOnce makes one TCP connection on loopback, sends payload and
// closes it; it returns the server's port.
func connectOnce(t *testing.T, payload []byte) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if payload != nil {
		c.Write(payload)
	}
	c.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// TestObserverFaults: what this machine cannot do is said in one line.
// Without CAP_BPF the observer cannot observe at all: exit 2. Without
// CAP_NET_ADMIN it cannot classify protocols: it says so once, records it
// in the flow log, and observes the rest. Either way no program it loaded
// stays loaded once it has exited (bpftool prog would list it: the same
// list the kernel gives here).
func TestObserverFaults(t *testing.T) {
	bin := observerForNobody(t)
	asNobody := func(t *testing.T, caps string, args ...string) (code int, stdout, stderr string) {
		t.Helper()
		_ = exec.Command("setcap", "-r", bin).Run() // fails when it has none
		if caps != "" {
			if out, err := exec.Command("setcap", caps, bin).CombinedOutput(); err != nil {
				t.Fatalf("this filesystem does not take file capabilities: %v\n%s", err, out)
			}
		}
		cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--", bin}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
	}

	t.Run("without CAP_BPF", func(t *testing.T) {
		code, _, stderr := asNobody(t, "", "--duration", "1s", "--progress", "0")
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "permission denied: run as root, or with CAP_BPF and CAP_PERFMON") {
			t.Errorf("want exit 2 and one line naming the capabilities; got exit %d:\n%s", code, stderr)
		}
		noProgramsOf(t, 65534)
	})
	t.Run("without CAP_NET_ADMIN", func(t *testing.T) {
		code, stdout, stderr := asNobody(t, "cap_bpf,cap_perfmon+ep", "--duration", "1s", "--progress", "0")
		if code != 0 {
			t.Fatalf("the observer should observe without protocol classification: exit %d\n%s", code, stderr)
		}
		if n := strings.Count(stderr, "protocol classification unavailable: "); n != 1 || !strings.Contains(stderr, "CAP_NET_ADMIN") {
			t.Errorf("want one line saying protocol classification needs CAP_NET_ADMIN, got %d:\n%s", n, stderr)
		}
		log, err := flows.ReadLog(strings.NewReader(stdout))
		if err != nil || len(log.Summaries) != 1 {
			t.Fatalf("flow log: %v %+v", err, log)
		}
		if s := log.Summaries[0]; s.Classified() || len(s.Missing) != 1 || s.Kernel == "" {
			t.Errorf("the summary should record protocol-peek missing on its kernel: %+v", s)
		}
		noProgramsOf(t, 65534)
	})
	t.Run("not a cgroup", func(t *testing.T) {
		code, _, stderr := asNobody(t, "", "--cgroup", filepath.Dir(bin))
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "is not a cgroup v2 directory") {
			t.Errorf("want exit 2 and one line; got exit %d:\n%s", code, stderr)
		}
	})
}

// noProgramsOf fails the test when an eBPF program created by uid is
// still loaded after a while: the kernel frees a program some time after
// the last file referring to it is closed.
func noProgramsOf(t *testing.T, uid uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := programsOf(uid)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("programs loaded by uid %d outlived the observer: %s", uid, strings.Join(left, ", "))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// programsOf lists the loaded eBPF programs created by uid, as bpftool prog
// would: "ID (NAME)".
func programsOf(uid uint32) []string {
	var out []string
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return out // the last one
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // unloaded meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			continue
		}
		if by, ok := info.CreatedByUID(); ok && by == uid {
			out = append(out, fmt.Sprintf("%d (%s)", id, info.Name))
		}
	}
}
