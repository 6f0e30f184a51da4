package flows

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func ev(kind Kind, role Role, local, remote string, at time.Duration) Event {
	return Event{
		Kind: kind, Role: role, Time: t0.Add(at), Netns: 1, CgroupID: 2, OwnerKnown: true, PID: 10, Comm: "app",
		Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote),
	}
}

func TestAggregatorFoldsConnectionsIntoFlows(t *testing.T) {
	a := NewAggregator(0)
	// Two connections from one client to one server port, from different
	// ephemeral ports: one flow. The accept side is its own flow.
	a.Add(ev(Connect, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", 2*time.Second))
	a.Add(ev(Connect, RoleClient, "10.0.0.1:40002", "10.0.0.2:80", 1*time.Second))
	closed := ev(Close, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", 3*time.Second)
	closed.HasBytes, closed.BytesSent, closed.BytesReceived = true, 100, 2000
	a.Add(closed)
	a.Add(ev(ConnectFailed, RoleClient, "10.0.0.1:40003", "10.0.0.2:80", 4*time.Second))
	a.Add(ev(Accept, RoleServer, "10.0.0.2:80", "10.0.0.1:40001", 2*time.Second))
	a.Add(ev(Listen, RoleUnknown, "0.0.0.0:80", "0.0.0.0:0", 0))

	got := a.Flows()
	want := []Flow{{
		Key:  Key{Netns: 1, CgroupID: 2, Role: RoleClient, Local: netip.MustParseAddr("10.0.0.1"), Remote: netip.MustParseAddr("10.0.0.2"), Port: 80},
		Comm: "app", PID: 10, Opened: 2, Closed: 1, Failed: 1, BytesSent: 100, BytesReceived: 2000,
		FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(4 * time.Second),
	}, {
		Key:  Key{Netns: 1, CgroupID: 2, Role: RoleServer, Local: netip.MustParseAddr("10.0.0.2"), Remote: netip.MustParseAddr("10.0.0.1"), Port: 80},
		Comm: "app", PID: 10, Opened: 1,
		FirstSeen: t0.Add(2 * time.Second), LastSeen: t0.Add(2 * time.Second),
	}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("flows:\n got %+v\nwant %+v", got, want)
	}
	ls := a.Listeners()
	if len(ls) != 1 || ls[0].Addr != netip.MustParseAddrPort("0.0.0.0:80") || ls[0].Comm != "app" {
		t.Errorf("listeners: %+v", ls)
	}
	if s := a.Stats(); s != (AggregatorStats{Events: 6, Flows: 2, Listeners: 1, Open: 1}) {
		t.Errorf("stats %+v", s)
	}
}

// TestAggregatorClassifiesConnections: Payload events find their
// connection by cookie; each connection counts once, by what its first
// bytes showed, when it closes, or provisionally while still open.
func TestAggregatorClassifiesConnections(t *testing.T) {
	a := NewAggregator(0)
	with := func(e Event, cookie uint64) Event { e.Cookie = cookie; return e }
	payload := func(cookie uint64, role Role, dir Direction, b string) Event {
		e := Event{Kind: Payload, Role: role, Cookie: cookie, Direction: dir, PayloadLen: len(b)}
		copy(e.Payload[:], b)
		return e
	}
	// An HTTP connection, closed.
	a.Add(with(ev(Connect, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", 0), 1))
	a.Add(payload(1, RoleClient, Egress, "GET / HTTP/1.1\r\n"))
	a.Add(payload(1, RoleClient, Ingress, "HTTP/1.1 200 OK\r\n"))
	a.Add(payload(1, RoleClient, Egress, "a later segment is ignored"))
	a.Add(with(ev(Close, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", 0), 1))
	// A TLS connection to the same port, still open.
	a.Add(with(ev(Connect, RoleClient, "10.0.0.1:40002", "10.0.0.2:80", 0), 2))
	a.Add(payload(2, RoleClient, Egress, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"))
	// The server's side of the HTTP connection: its ingress is the request.
	a.Add(with(ev(Accept, RoleServer, "10.0.0.2:80", "10.0.0.1:40001", 0), 3))
	a.Add(payload(3, RoleServer, Ingress, "POST /x HTTP/1.1\r\n"))
	// A Payload for a connection opened before the observer: ignored.
	a.Add(payload(99, RoleClient, Egress, "GET / HTTP/1.1\r\n"))

	fl := a.Flows()
	if len(fl) != 2 {
		t.Fatalf("flows %+v", fl)
	}
	client, server := fl[0], fl[1]
	if fmt.Sprint(client.Protocols, client.Encryption) != "map[http:1 tls:1] map[plaintext:1 tls:1]" {
		t.Errorf("client flow: protocols %v encryption %v", client.Protocols, client.Encryption)
	}
	if fmt.Sprint(server.Protocols, server.Encryption) != "map[http:1] map[plaintext:1]" {
		t.Errorf("server flow: protocols %v encryption %v", server.Protocols, server.Encryption)
	}
	// Flows returns copies: the provisional count of the open connection
	// is not kept, and callers cannot change the aggregator's maps.
	fl[0].Protocols["http"] = 100
	if again := a.Flows()[0]; again.Protocols["http"] != 1 || again.Protocols["tls"] != 1 {
		t.Errorf("second Flows: %v", again.Protocols)
	}
	if s := a.Stats(); s.Open != 2 {
		t.Errorf("open connections %d, want 2", s.Open)
	}
}

func TestAggregatorOwnerUnknownKeepsLastKnownOwner(t *testing.T) {
	a := NewAggregator(0)
	a.Add(ev(Connect, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", 0))
	e := ev(Close, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", time.Second)
	e.OwnerKnown, e.Comm, e.PID = false, "", 0
	a.Add(e)
	if f := a.Flows()[0]; f.Comm != "app" || f.PID != 10 {
		t.Errorf("owner %q %d", f.Comm, f.PID)
	}
}

// TestAggregatorIsBounded: a million distinct flows keep memory at the
// bound, and every event that found no room is counted.
func TestAggregatorIsBounded(t *testing.T) {
	const bound, distinct = 1000, 1_000_000
	a := NewAggregator(bound)
	base := netip.MustParseAddr("10.0.0.0").As4()
	for i := range distinct {
		b := base
		b[1], b[2], b[3] = byte(i>>16), byte(i>>8), byte(i)
		a.Add(Event{Kind: Connect, Role: RoleClient, Local: netip.AddrPortFrom(netip.AddrFrom4(b), 40000), Remote: netip.MustParseAddrPort("10.255.0.1:80")})
	}
	s := a.Stats()
	if s.Flows != bound || s.Overflow != distinct-bound || s.Events != distinct {
		t.Errorf("stats %+v, want %d flows and %d overflow", s, bound, distinct-bound)
	}
	// Flows already kept still count.
	a.Add(Event{Kind: Connect, Role: RoleClient, Local: netip.AddrPortFrom(netip.AddrFrom4(base), 40001), Remote: netip.MustParseAddrPort("10.255.0.1:80")})
	if f := a.Flows()[0]; f.Opened != 2 {
		t.Errorf("first flow opened %d, want 2", f.Opened)
	}
}

func TestAggregatorConcurrent(t *testing.T) {
	a := NewAggregator(0)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				a.Add(ev(Connect, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", 0))
				_ = a.Stats()
			}
		})
	}
	wg.Wait()
	if f := a.Flows(); len(f) != 1 || f[0].Opened != 4000 {
		t.Errorf("flows %+v", f)
	}
}

func BenchmarkDecodeAndAggregate(b *testing.B) {
	var t testing.T
	rec := record(&t, rawConnect())
	a := NewAggregator(0)
	b.ReportAllocs()
	for b.Loop() {
		e, err := Decode(rec)
		if err != nil {
			b.Fatal(err)
		}
		a.Add(e)
	}
}

// TestAggregatorAddsKernelCounts: a flow's connections beyond the first
// few are counted by the kernel; each Counted event carries what was
// counted since the one before, and adds to what the reported connections
// counted.
func TestAggregatorAddsKernelCounts(t *testing.T) {
	a := NewAggregator(0)
	a.Add(ev(Connect, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", 2*time.Second))
	closed := ev(Close, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", 3*time.Second)
	closed.HasBytes, closed.BytesSent, closed.BytesReceived = true, 10, 20
	a.Add(closed)
	counted := func(opened, closed, failed uint64, last time.Duration) Event {
		e := ev(Counted, RoleClient, "10.0.0.1:0", "10.0.0.2:0", last)
		e.Comm = "first"
		e.Counts = Counts{Opened: opened, Closed: closed, Failed: failed, BytesSent: 10 * closed, BytesReceived: 20 * closed, First: t0.Add(time.Second), Port: 80}
		return e
	}
	a.Add(counted(5, 4, 0, 4*time.Second))
	a.Add(counted(2, 3, 1, 5*time.Second))
	// A flow only the kernel counted (its reported connections were lost
	// to the user-space bound, say) is a flow too.
	a.Add(ev(Counted, RoleServer, "10.0.0.2:0", "10.0.0.1:0", 6*time.Second))

	got := a.Flows()
	if len(got) != 2 {
		t.Fatalf("flows: %+v", got)
	}
	want := Flow{
		Key:  Key{Netns: 1, CgroupID: 2, Role: RoleClient, Local: netip.MustParseAddr("10.0.0.1"), Remote: netip.MustParseAddr("10.0.0.2"), Port: 80},
		Comm: "app", PID: 10, Opened: 8, Closed: 8, Failed: 1, BytesSent: 80, BytesReceived: 160,
		FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(5 * time.Second),
	}
	if fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Errorf("client flow:\n got %+v\nwant %+v", got[0], want)
	}
	// Asking twice counts nothing twice.
	if again := a.Flows(); fmt.Sprint(again) != fmt.Sprint(got) {
		t.Errorf("second read differs:\n%+v\n%+v", again, got)
	}
}

// TestAggregatorTake: each Take holds what came since the one before, so
// intervals add up to the whole; a connection open across a Take closes in
// the next interval, and its protocol counts once, in the interval where
// its first bytes were taken.
func TestAggregatorTake(t *testing.T) {
	a := NewAggregator(0)
	with := func(e Event, cookie uint64) Event { e.Cookie = cookie; return e }
	payload := func(cookie uint64, b string) Event {
		e := Event{Kind: Payload, Cookie: cookie, Direction: Egress, PayloadLen: len(b)}
		copy(e.Payload[:], b)
		return e
	}
	a.Add(ev(Listen, RoleUnknown, "0.0.0.0:80", "0.0.0.0:0", 0))
	a.Add(with(ev(Connect, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", time.Second), 1))
	a.Add(payload(1, "GET / HTTP/1.1\r\n"))
	a.Add(with(ev(Connect, RoleClient, "10.0.0.1:40002", "10.0.0.2:80", 2*time.Second), 2))
	a.Add(with(ev(Close, RoleClient, "10.0.0.1:40002", "10.0.0.2:80", 3*time.Second), 2))

	first, listeners := a.Take()
	if len(first) != 1 || first[0].Opened != 2 || first[0].Closed != 1 || first[0].Protocols["http"] != 1 || len(listeners) != 1 {
		t.Fatalf("first interval: %+v %+v", first, listeners)
	}
	if s := a.Stats(); s.Flows != 0 || s.Listeners != 0 || s.Open != 1 {
		t.Errorf("after Take: %+v, want nothing kept but the open connection", s)
	}

	a.Add(with(ev(Close, RoleClient, "10.0.0.1:40001", "10.0.0.2:80", 4*time.Second), 1))
	second, listeners := a.Take()
	want := Flow{
		Key:  Key{Netns: 1, CgroupID: 2, Role: RoleClient, Local: netip.MustParseAddr("10.0.0.1"), Remote: netip.MustParseAddr("10.0.0.2"), Port: 80},
		Comm: "app", PID: 10, Closed: 1,
		FirstSeen: t0.Add(4 * time.Second), LastSeen: t0.Add(4 * time.Second),
	}
	if len(second) != 1 || fmt.Sprint(second[0]) != fmt.Sprint(want) || len(listeners) != 0 {
		t.Errorf("second interval:\n got %+v %+v\nwant %+v", second, listeners, want)
	}
	if third, _ := a.Take(); len(third) != 0 {
		t.Errorf("third interval: %+v, want nothing", third)
	}
}
