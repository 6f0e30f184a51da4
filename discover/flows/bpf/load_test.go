package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

// rawEvent decodes a record; events other than payloads leave the payload
// out.
func rawEvent(t *testing.T, sample []byte) RawEvent {
	t.Helper()
	full := make([]byte, binary.Size(RawEvent{}))
	if len(sample) < len(full)-PayloadMax {
		t.Fatalf("record of %d bytes", len(sample))
	}
	copy(full, sample)
	var e RawEvent
	if err := binary.Read(bytes.NewReader(full), binary.LittleEndian, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv("CI") == "" {
		t.Skip("loading eBPF programs needs root (these tests run in CI)")
	}
}

// TestLoopbackEvents connects over loopback with IPv4 and IPv6 and checks
// the raw events: both ends open and close, with the owner recorded at
// connect() and listen() time and the bytes each side sent.
func TestLoopbackEvents(t *testing.T) {
	needRoot(t)
	o, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	checkLoopbackEvents(t, o, o.Attach)
	d, err := o.Drops()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := o.Skipped(d); err != nil || n != 0 {
		t.Errorf("%d state changes skipped (%v)", n, err)
	}
	d[DropRescued] = 0 // not a loss: the spare saw what the kernel skipped the tracker for
	if d != (Drops{}) {
		t.Errorf("drops %v", d)
	}
}

// holdTracking marks every CPU as if the tracker were running there: the
// spare copy then handles every state change (flow.c).
func holdTracking(t *testing.T, o *Objects) {
	t.Helper()
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	busy := make([]uint32, cpus)
	for i := range busy {
		busy[i] = 1
	}
	if err := o.maps.Tracking.Update(uint32(0), busy, ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
}

// TestSpareCopy holds every CPU marked, as when the kernel skipped the
// tracker for every state change: the spare alone must see every
// connection as the tracker would; and after the tracker, which it then
// follows for every change, as when the scheduler switches tasks between
// the two, it must report nothing twice.
func TestSpareCopy(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name     string
		trackers func(o *Objects) []*ebpf.Program
	}{
		{"alone", func(o *Objects) []*ebpf.Program { return []*ebpf.Program{o.spare} }},
		{"after the tracker", func(o *Objects) []*ebpf.Program { return []*ebpf.Program{o.connections, o.spare} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Load(Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			holdTracking(t, o)
			checkLoopbackEvents(t, o, func() error { return o.attachTrackers(tc.trackers(o)...) })
			d, err := o.Drops()
			if err != nil {
				t.Fatal(err)
			}
			if d[DropRescued] == 0 {
				t.Errorf("drops %v: the spare never ran", d)
			}
		})
	}
}

// checkLoopbackEvents attaches o's programs with attach, connects over
// loopback with IPv4 and IPv6 and fails a connect, then detaches them and
// checks every raw event of those connections: one listen, one connect,
// one accept and two closes each, with the owner recorded at connect()
// and listen() time and the bytes each side sent, and one failed connect.
func checkLoopbackEvents(t *testing.T, o *Objects, attach func() error) {
	t.Helper()
	rd, err := ringbuf.NewReader(o.Events())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if err := attach(); err != nil {
		t.Fatal(err)
	}

	type conn struct{ network, addr string }
	conns := []conn{
		{"tcp4", "127.0.0.1:0"},
		{"tcp6", "[::1]:0"},
		{"tcp", "[::]:0"}, // dual stack, dialled over IPv4: IPv4-mapped addresses
	}
	ports := map[uint16]conn{}
	for _, tc := range conns {
		ln, err := net.Listen(tc.network, tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ports[uint16(port)] = tc
		dial := ln.Addr().String()
		if tc.network == "tcp" {
			dial = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String()
		}
		done := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				_, err = io.Copy(io.Discard, c)
				c.Close()
			}
			done <- err
		}()
		c, err := net.Dial("tcp", dial)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		ln.Close()
		// Both ends closed, but the kernel may end the connection later.
		waitClosed(t, uint16(port))
	}

	// A refused connect ends in EVENT_CONNECT_FAILED from SYN_SENT.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	if c, err := net.Dial("tcp4", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("dialled a closed port")
	}

	// Detached, the programs have written every event they will.
	if err := o.Detach(); err != nil {
		t.Fatal(err)
	}
	seen := map[uint16]map[uint8]int{}
	for {
		rd.SetDeadline(time.Now())
		rec, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e := rawEvent(t, rec.RawSample)
		port := e.LocalPort
		if _, ok := ports[port]; !ok {
			port = e.RemotePort
		}
		if seen[port] == nil {
			seen[port] = map[uint8]int{}
		}
		if port == refused {
			seen[port][e.Type]++
			if e.Type != EventConnectFailed || e.State != 2 /* TCP_SYN_SENT */ || e.Flags&FlagClient == 0 || e.Pid != uint32(os.Getpid()) {
				t.Errorf("refused connect: type %d state %d flags %#x pid %d", e.Type, e.State, e.Flags, e.Pid)
			}
			continue
		}
		tc, ok := ports[port]
		if !ok {
			continue // another connection on this machine
		}
		seen[port][e.Type]++
		server, client := e.LocalPort == port, e.RemotePort == port
		if e.Pid != uint32(os.Getpid()) || e.Flags&FlagOwnerKnown == 0 {
			t.Errorf("%s: event %d: owner pid %d flags %#x, want this process", tc.network, e.Type, e.Pid, e.Flags)
		}
		if e.Type != EventListen && (e.CgroupId == 0 || e.Netns == 0 || e.Cookie == 0) {
			t.Errorf("%s: event %d: cgroup %d netns %d cookie %d", tc.network, e.Type, e.CgroupId, e.Netns, e.Cookie)
		}
		local := netip.AddrFrom16(e.LocalAddr).Unmap()
		if e.Type != EventListen && !local.IsLoopback() {
			t.Errorf("%s: event %d: local address %s", tc.network, e.Type, local)
		}
		switch e.Type {
		case EventConnect:
			if e.Flags&FlagClient == 0 || !client {
				t.Errorf("%s: connect event flags %#x ports %d->%d", tc.network, e.Flags, e.LocalPort, e.RemotePort)
			}
		case EventAccept:
			if e.Flags&FlagServer == 0 || !server {
				t.Errorf("%s: accept event flags %#x ports %d<-%d", tc.network, e.Flags, e.LocalPort, e.RemotePort)
			}
		case EventClose:
			if e.Flags&FlagBytes == 0 {
				t.Errorf("%s: close without bytes", tc.network)
			}
			if client && e.BytesSent != 1000 || server && e.BytesReceived != 1000 {
				t.Errorf("%s: close (server %v): sent %d received %d, want 1000 from the client", tc.network, server, e.BytesSent, e.BytesReceived)
			}
		}
	}
	for port, tc := range ports {
		want := map[uint8]int{EventListen: 1, EventConnect: 1, EventAccept: 1, EventClose: 2}
		if fmt.Sprint(seen[port]) != fmt.Sprint(want) {
			t.Errorf("%s: events by type %v, want %v", tc.network, seen[port], want)
		}
	}
	if want := map[uint8]int{EventConnectFailed: 1}; fmt.Sprint(seen[refused]) != fmt.Sprint(want) {
		t.Errorf("refused connect: events by type %v, want %v", seen[refused], want)
	}
}

// waitClosed waits until no TCP socket of this machine's network
// namespace uses port.
func waitClosed(t *testing.T, port uint16) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if !portInUse(t, port) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("connections on port %d still open after 5s", port)
}

// portInUse reports whether /proc/net/tcp or tcp6 lists a socket on port,
// other than in TIME_WAIT (whose socket is gone already).
func portInUse(t *testing.T, port uint16) bool {
	t.Helper()
	hex := fmt.Sprintf(":%04X ", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) > 3 && fields[3] != "06" /* TIME_WAIT */ && (strings.Contains(fields[1]+" ", hex) || strings.Contains(fields[2]+" ", hex)) {
				return true
			}
		}
	}
	return false
}

// cgroup2Root finds the cgroup v2 mount for the test.
func cgroup2Root(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" {
				return fields[4]
			}
		}
	}
	t.Fatal("cgroup v2 is not mounted")
	return ""
}

// TestPayloadPeek attaches the cgroup_skb programs at the cgroup v2 root:
// each end of a connection reports the first bytes it sent and received,
// once per direction however many segments follow.
func TestPayloadPeek(t *testing.T) {
	needRoot(t)
	o, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	rd, err := ringbuf.NewReader(o.Events())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if err := o.Attach(); err != nil {
		t.Fatal(err)
	}
	if err := o.AttachCgroup(cgroup2Root(t)); err != nil {
		t.Fatal(err)
	}
	request := "GET /a-rather-long-path-to-be-cut-at-32-bytes HTTP/1.1\r\n\r\n"
	response := "HTTP/1.1 200 OK\r\n\r\n"
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.ReadFull(c, make([]byte, len(request)))
		c.Write([]byte(response))
		c.Write([]byte("a second segment is not reported"))
		c.Close()
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte(request))
	io.Copy(io.Discard, c)
	c.Close()

	type peek struct {
		server, egress bool
		payload        string
	}
	want := map[peek]int{
		{false, true, request[:PayloadMax]}: 1, {true, false, request[:PayloadMax]}: 1,
		{true, true, response}: 1, {false, false, response}: 1,
	}
	got := map[peek]int{}
	var cookies = map[uint64]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(want) {
		rd.SetDeadline(deadline)
		rec, err := rd.Read()
		if err != nil {
			t.Fatalf("payload events %v, want %v: %v", got, want, err)
		}
		e := rawEvent(t, rec.RawSample)
		if e.Type == EventConnect || e.Type == EventAccept {
			if e.LocalPort == port || e.RemotePort == port {
				cookies[e.Cookie] = true
			}
			continue
		}
		if e.Type != EventPayload || !cookies[e.Cookie] {
			continue
		}
		if e.Pid != uint32(os.Getpid()) || e.Flags&(FlagClient|FlagServer) == 0 {
			t.Errorf("payload event pid %d flags %#x", e.Pid, e.Flags)
		}
		got[peek{e.Flags&FlagServer != 0, e.Direction == DirEgress, string(e.Payload[:e.PayloadLen])}]++
	}
	time.Sleep(50 * time.Millisecond)
	for {
		rd.SetDeadline(time.Now())
		rec, err := rd.Read()
		if err != nil {
			break
		}
		e := rawEvent(t, rec.RawSample)
		if e.Type == EventPayload && cookies[e.Cookie] {
			t.Errorf("one more payload event: %q", e.Payload[:e.PayloadLen])
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("payload events\n got %v\nwant %v", got, want)
	}
}
