//go:build linux

package flows

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows/bpf"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv("CI") == "" {
		t.Skip("observing with eBPF needs root (these tests run in CI)")
	}
}

// TestObserverLoopback observes loopback connections through the whole
// pipeline: Open, Run until the context ends, aggregate. There are more
// than the kernel reports one by one (flow.c, PEEK_SAMPLES), so the rest
// are counted in its flows map, and both must add up.
func TestObserverLoopback(t *testing.T) {
	needRoot(t)
	o, err := Open(Config{Cgroup: CgroupRoot()})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	agg := NewAggregator(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, agg.Add) }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	start := time.Now()
	const conns, sampled = 10, 4
	for range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("*1\r\n$5\r\nhello")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 13)); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
		c.Close()
	}
	// The server closes in its goroutines, and a slow kernel may end a
	// connection after both ends closed it.
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	if !connectionsClosed(port, 5*time.Second) {
		t.Error("connections still closing after 5s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	lo := netip.MustParseAddr("127.0.0.1")
	var client, server *Flow
	for _, f := range agg.Flows() {
		if f.Port != port {
			continue
		}
		switch f.Role {
		case RoleClient:
			client = &f
		case RoleServer:
			server = &f
		}
	}
	if client == nil || server == nil {
		t.Fatalf("flows on port %d: client %+v server %+v", port, client, server)
	}
	for _, f := range []*Flow{client, server} {
		if f.Opened != conns || f.Closed != conns || f.BytesSent != 13*conns || f.BytesReceived != 13*conns ||
			f.Protocols["redis"] != sampled || f.Encryption["plaintext"] != sampled ||
			f.Local != lo || f.Remote != lo || f.PID != uint32(os.Getpid()) || f.Netns == 0 || f.CgroupID == 0 {
			t.Errorf("%s flow %+v", f.Role, *f)
		}
		if f.FirstSeen.Before(start.Add(-time.Second)) || f.LastSeen.After(time.Now().Add(time.Second)) || f.LastSeen.Before(f.FirstSeen) {
			t.Errorf("%s flow seen %v … %v, test ran from %v", f.Role, f.FirstSeen, f.LastSeen, start)
		}
	}
	if got, want := NewCgroupPaths(CgroupRoot()).Path(client.CgroupID), ownCgroup(t); got != want {
		t.Errorf("the client's cgroup %d is %q, want this process's %q", client.CgroupID, got, want)
	}
	s, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Dropped != 0 || s.Skipped != 0 || s.Unattributed != 0 || s.DecodeErrors != 0 || s.Events == 0 {
		t.Errorf("stats %+v", s)
	}
	t.Logf("stats %+v", s) // how often the kernel skipped the tracker, on the kernel matrix
}

// observing opens an observer with cfg, lets tune (when given) adjust it
// before it runs, and runs it into an aggregator until stop, which fails
// the test if Run did.
func observing(t *testing.T, cfg Config, tune func(*Observer)) (o *Observer, agg *Aggregator, stop func()) {
	t.Helper()
	o, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	if tune != nil {
		tune(o)
	}
	agg = NewAggregator(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, agg.Add) }()
	return o, agg, func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// sink is a loopback server that reads each connection to its end; closed
// receives once for each connection it closed.
func sink(t *testing.T) (ln net.Listener, closed <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{}, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close(); done <- struct{}{} }()
		}
	}()
	return ln, done
}

// ping makes n connections to ln, each sending a few bytes, one after the
// other: each ends once the sink closed it. It returns once the kernel
// closed both ends of every one: the sink's close returns before the
// client's last ACK reaches it, and on a slow machine (a kernel under
// emulation) an observer stopped then would miss the last close.
func ping(t *testing.T, ln net.Listener, closed <-chan struct{}, n int) {
	t.Helper()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("ping"))
		c.Close()
		<-closed
	}
	waitClosed(t, ln.Addr().(*net.TCPAddr).Port)
}

// waitClosed waits until no IPv4 TCP socket of this network namespace on
// port is open: /proc/net/tcp lists none on it but the listener (state
// 0A) and those in TIME_WAIT (06), which the kernel has already closed.
func waitClosed(t *testing.T, port int) {
	t.Helper()
	hexPort := fmt.Sprintf(":%04X", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		data, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			t.Fatal(err)
		}
		open := 0
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 3 && (strings.HasSuffix(f[1], hexPort) || strings.HasSuffix(f[2], hexPort)) && f[3] != "0A" && f[3] != "06" {
				open++
			}
		}
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sockets on port %d still open after 10s", open, port)
		}
	}
}

// TestObserverFullFlowTable: when the kernel's table of counted flows is
// full, new flows' connections are reported one by one: counted all the
// same, and the fallback is itself counted, never silent.
func TestObserverFullFlowTable(t *testing.T) {
	needRoot(t)
	o, agg, stop := observing(t, Config{MaxFlows: 1}, nil)
	ln, closed := sink(t)
	// The client flow fills the one-entry table (a client is established
	// before its server), so the server flow cannot be counted in place.
	const conns = 8
	ping(t, ln, closed, conns)
	stop()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	roles := 0
	for _, f := range agg.Flows() {
		if f.Port != port {
			continue
		}
		roles++
		if f.Opened != conns || f.Closed != conns || f.BytesSent+f.BytesReceived != 4*conns {
			t.Errorf("%s flow %+v: want %d connections, 4 bytes each", f.Role, f, conns)
		}
	}
	if roles != 2 {
		t.Errorf("%d flows on port %d, want a client and a server flow", roles, port)
	}
	s, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Reported < conns || s.Dropped != 0 {
		t.Errorf("stats %+v: want at least %d connections reported for a full table, none dropped", s, conns)
	}
}

// TestObserverRemovesIdleFlows: flows idle in the kernel's map are removed
// from it, so that it does not fill up over days, and nothing counted is
// lost: the connections before and after add up.
func TestObserverRemovesIdleFlows(t *testing.T) {
	needRoot(t)
	o, agg, stop := observing(t, Config{}, func(o *Observer) { o.idle = 200 * time.Millisecond })
	ln, closed := sink(t)
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	const batch = 7 // more than flow.c reports one by one
	connect := func() { ping(t, ln, closed, batch) }
	inKernel := func() (n int) {
		o.objs.ReadFlows(func(k *bpf.FlowKey, _ *bpf.FlowCounts) {
			if k.Port == port {
				n++
			}
		})
		return n
	}
	connect()
	if n := inKernel(); n != 2 {
		t.Fatalf("%d flows on port %d in the kernel's map, want the client's and the server's", n, port)
	}
	for deadline := time.Now().Add(5 * time.Second); inKernel() != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("idle flows were not removed from the kernel's map")
		}
	}
	connect()
	stop()
	roles := 0
	for _, f := range agg.Flows() {
		if f.Port == port {
			roles++
			if f.Opened != 2*batch || f.Closed != 2*batch || f.BytesSent+f.BytesReceived != 4*2*batch {
				t.Errorf("%s flow %+v: want %d connections of 4 bytes", f.Role, f, 2*batch)
			}
		}
	}
	if roles != 2 {
		t.Errorf("%d flows on port %d, want 2", roles, port)
	}
}

// TestObserverAdoptsListeners: a server listening before the observer
// started still has its accepted connections attributed to it (pid,
// cgroup), and is reported as a listener.
func TestObserverAdoptsListeners(t *testing.T) {
	needRoot(t)
	ln, _ := sink(t)
	_, agg, stop := observing(t, Config{}, nil)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("ping"))
	c.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	server := func() *Flow {
		for _, f := range agg.Flows() {
			if f.Role == RoleServer && f.Port == addr.Port() && f.Closed == 1 {
				return &f
			}
		}
		return nil
	}
	for deadline := time.Now().Add(3 * time.Second); server() == nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	f := server()
	if f == nil || f.PID != uint32(os.Getpid()) || f.CgroupID == 0 || f.Comm == "" {
		t.Errorf("the server side of a listener opened before observing: %+v, want this process as its owner", f)
	}
	var listener *Listener
	for _, l := range agg.Listeners() {
		if l.Addr == addr {
			listener = &l
		}
	}
	if listener == nil || listener.PID != uint32(os.Getpid()) || listener.CgroupID == 0 {
		t.Errorf("listener %v: %+v, want it reported with this process as owner", addr, listener)
	}
}

// TestObserverCloseStopsRun: Close interrupts a Run waiting for events.
func TestObserverCloseStopsRun(t *testing.T) {
	needRoot(t)
	o, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- o.Run(context.Background(), func(Event) {}) }()
	time.Sleep(50 * time.Millisecond)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}
