//go:build linux

package flows

import (
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stridemap/stridemap/discover/flows/bpf"
)

// TestCheck runs the kernel check with every part, then with each optional
// part left out as a kernel that refuses it would: the required part and
// the owners must still work, the part left out must say why, and the
// others must be unaffected.
func TestCheck(t *testing.T) {
	needRoot(t)
	root := CgroupRoot()
	if root == "" {
		t.Fatal("cgroup v2 is not mounted: protocol peeking cannot be checked")
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		missing string // the part that must not work
		reason  string
	}{
		{"every part", Config{Cgroup: root}, "", ""},
		{"without listener adoption", Config{Cgroup: root, Without: []bpf.Part{bpf.ListenerAdoption}}, "listener-adoption", bpf.ErrTurnedOff.Error()},
		{"without protocol peek", Config{Cgroup: root, Without: []bpf.Part{bpf.ProtocolPeek}}, "protocol-peek", bpf.ErrTurnedOff.Error()},
		{"without aggregation", Config{Cgroup: root, Without: []bpf.Part{bpf.Aggregation}}, "aggregation", bpf.ErrTurnedOff.Error()},
		{"without a cgroup", Config{}, "protocol-peek", bpf.ErrNoCgroup.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Check(t.Context(), tc.cfg)
			if c.Kernel != bpf.Release() || !c.Usable() {
				t.Errorf("kernel %q, usable %v", c.Kernel, c.Usable())
			}
			var parts []string
			for _, p := range c.Parts {
				parts = append(parts, p.Part)
				if p.Required != (p.Part == string(bpf.Connections)) {
					t.Errorf("%s: required %v", p.Part, p.Required)
				}
				if p.Part == tc.missing {
					if p.OK || p.Detail != tc.reason {
						t.Errorf("%s should not work, because %q: got ok %v, %q", p.Part, tc.reason, p.OK, p.Detail)
					}
				} else if !p.OK {
					t.Errorf("%s does not work: %s", p.Part, p.Detail)
				}
			}
			if want := "connections owners listener-adoption protocol-peek aggregation"; strings.Join(parts, " ") != want {
				t.Errorf("rows %q, want %q", parts, want)
			}
		})
	}
}

// TestCheckRequestSurvivesSignals: the check's own client and server go on
// when signals interrupt their system calls, as the Go runtime's do. The
// server answers late, and the client's thread is signalled all the while
// it waits: on a socket with a timeout, each signal fails the call with
// EINTR (signal(7)), which once cut a check short at one connection.
func TestCheckRequestSurvivesSignals(t *testing.T) {
	ln, port, err := listenCheck()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ln)
	go func() {
		c, _, err := unix.Accept(ln)
		if err != nil {
			return
		}
		defer unix.Close(c)
		unix.Read(c, make([]byte, 64))
		time.Sleep(300 * time.Millisecond)
		unix.Write(c, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	}()
	tid := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // the thread stays this goroutine's, and dies with it
		tid <- unix.Gettid()
		done <- requestCheck(port)
	}()
	thread := <-tid
	signalled := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("request interrupted by %d signals: %v", signalled, err)
			}
			if signalled < 10 {
				t.Fatalf("only %d signals sent while the request waited", signalled)
			}
			return
		case <-time.After(5 * time.Millisecond):
			if unix.Tgkill(os.Getpid(), thread, unix.SIGURG) == nil {
				signalled++
			}
		}
	}
}

// TestOpenSockets: a connection counts until both of its ends are closed;
// a listener and TIME_WAIT do not.
func TestOpenSockets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	count := func() int {
		t.Helper()
		n, err := openSockets(port)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d open sockets with only a listener", n)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Errorf("%d open sockets for one connection, want its 2 ends", n)
	}
	c.Close()
	s.Close()
	if !connectionsClosed(port, 5*time.Second) {
		t.Errorf("%d sockets still open after both ends closed", count())
	}
	if got := socketPort("0100007F:1F90"); got != 8080 {
		t.Errorf("port of 0100007F:1F90 = %d", got)
	}
	for _, bad := range []string{"", "0100007F", "0100007F:", "0100007F:XYZ", "0100007F:123456"} {
		if got := socketPort(bad); got != 0 {
			t.Errorf("port of %q = %d, want 0", bad, got)
		}
	}
}

// TestLosses: the check's connections row names every kind of loss the
// kernel reports, with its count, and says nothing when there is none.
func TestLosses(t *testing.T) {
	if got := losses(Stats{Events: 40, Reported: 3}); got != "" {
		t.Errorf("no losses: %q, want nothing", got)
	}
	got := losses(Stats{Skipped: 2, Rescued: 5, Dropped: 7, Unattributed: 11})
	for _, want := range []string{"skipped the tracker for 7 state changes, 5 of them caught by its spare copy", "7 events dropped", "11 sockets without owner storage"} {
		if !strings.Contains(got, want) {
			t.Errorf("losses %q lack %q", got, want)
		}
	}
	if got := losses(Stats{Rescued: 1}); !strings.Contains(got, "for 1 state change, 1 of them caught") {
		t.Errorf("a rescue alone: %q", got)
	}
}
