//go:build linux

package flows_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows"
	"github.com/stridemap/stridemap/discover/flows/flowstest"
)

// call is one edge of a scripted call graph: from dials addr (a pod's
// address or a ClusterIP) n times; to is the pod that serves it.
type call struct {
	from, to string
	dial     netip.AddrPort
	n        int
	http     bool
}

// TestObserveCallGraph builds five pods on a bridge, runs a server in each
// and makes the calls of a small shop, some to pod addresses and one to a
// ClusterIP that iptables DNATs inside the caller's namespace. The observer
// must report exactly those flows, from both ends, with their ports, counts
// and bytes, and drop nothing.
func TestObserveCallGraph(t *testing.T) {
	flowstest.NeedRoot(t)
	lab := flowstest.NewLab(t)
	pods := map[string]*flowstest.Pod{}
	for _, name := range []string{"loadgen", "frontend", "cart", "redis", "payments"} {
		pods[name] = lab.AddPod(name)
	}
	byInode := map[uint32]string{}
	byIP := map[netip.Addr]string{}
	for name, p := range pods {
		byInode[p.Inode] = name
		byIP[p.IP] = name
		byIP[p.IP6] = name
	}
	at := func(pod string, port uint16) netip.AddrPort { return netip.AddrPortFrom(pods[pod].IP, port) }

	o, err := flows.Open(flows.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	agg := flows.NewAggregator(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, agg.Add) }()

	// The servers start after the observer, so their owner is recorded
	// at listen() time. Servers: HTTP on dual-stack sockets (IPv4 peers IPv4-mapped), a
	// line echo on an IPv4 socket for redis.
	for pod, port := range map[string]uint16{"frontend": 8080, "cart": 7070, "payments": 8443} {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%s says hello to %s\n", pod, r.URL.Path)
		})}
		ln := pods[pod].Listen(port, true)
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	redis := pods["redis"].Listen(6379, false)
	go func() {
		for {
			c, err := redis.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	clusterIP := netip.MustParseAddrPort("10.97.0.10:80") // not a ClusterIP of cmd/stridemap's observe tests, which may run at once and see this traffic
	pods["frontend"].DNAT(clusterIP, at("cart", 7070))

	script := []call{
		{"loadgen", "frontend", at("frontend", 8080), 7, true}, // more than flow.c reports one by one
		{"frontend", "cart", at("cart", 7070), 3, true},
		{"frontend", "cart", clusterIP, 2, true},
		{"frontend", "payments", at("payments", 8443), 1, true},
		{"frontend", "payments", netip.AddrPortFrom(pods["payments"].IP6, 8443), 2, true}, // IPv6
		{"cart", "redis", at("redis", 6379), 2, false},
	}

	for _, c := range script {
		from := pods[c.from]
		for range c.n {
			if c.http {
				client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: from.DialContext, DisableKeepAlives: true}}
				resp, err := client.Post("http://"+c.dial.String()+"/call", "text/plain", strings.NewReader("order"))
				if err != nil {
					t.Fatalf("%s -> %s: %v", c.from, c.dial, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				continue
			}
			conn, err := from.DialContext(ctx, "tcp", c.dial.String())
			if err != nil {
				t.Fatalf("%s -> %s: %v", c.from, c.dial, err)
			}
			conn.Write([]byte("PING\r\n"))
			io.ReadFull(conn, make([]byte, 6))
			conn.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, conn)
			conn.Close()
		}
	}

	// What each end should report: the client sees the address it dialled,
	// the server its own address and the client's.
	type edge struct {
		role             flows.Role
		from, to, dialed string
		port             uint16
	}
	want := map[edge]uint64{}
	for _, c := range script {
		want[edge{flows.RoleClient, c.from, c.to, c.dial.Addr().String(), c.dial.Port()}] += uint64(c.n)
		serverPort := c.dial.Port()
		if c.dial == clusterIP {
			serverPort = 7070
		}
		serverIP := pods[c.to].IP
		if c.dial.Addr().Is6() {
			serverIP = pods[c.to].IP6
		}
		want[edge{flows.RoleServer, c.from, c.to, serverIP.String(), serverPort}] += uint64(c.n)
	}
	observed := func() (map[edge]uint64, []flows.Flow) {
		got := map[edge]uint64{}
		var lab []flows.Flow
		for _, f := range agg.Flows() {
			local, ok := byInode[f.Netns]
			if !ok {
				continue // not the lab's
			}
			lab = append(lab, f)
			if f.Role == flows.RoleClient {
				to := byIP[f.Remote]
				if f.Remote == clusterIP.Addr() {
					to = "cart"
				}
				got[edge{f.Role, local, to, f.Remote.String(), f.Port}] = f.Closed
			} else {
				got[edge{f.Role, byIP[f.Remote], local, f.Local.String(), f.Port}] = f.Closed
			}
		}
		return got, lab
	}
	// Servers close after their clients: wait until every close is seen.
	deadline := time.Now().Add(5 * time.Second)
	for got, _ := observed(); fmt.Sprint(got) != fmt.Sprint(want) && time.Now().Before(deadline); got, _ = observed() {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	got, labFlows := observed()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("closed connections per edge:\n got %v\nwant %v", got, want)
	}
	for _, f := range labFlows {
		if f.Opened != f.Closed || f.Failed != 0 || f.BytesSent == 0 || f.BytesReceived == 0 || f.PID == 0 || f.Comm == "" || f.CgroupID == 0 {
			t.Errorf("flow %+v", f)
		}
	}
	var listening []string
	for _, l := range agg.Listeners() {
		if pod, ok := byInode[l.Netns]; ok {
			listening = append(listening, fmt.Sprintf("%s:%d", pod, l.Addr.Port()))
		}
	}
	slices.Sort(listening)
	if want := []string{"cart:7070", "frontend:8080", "payments:8443", "redis:6379"}; !slices.Equal(listening, want) {
		t.Errorf("listeners %v, want %v", listening, want)
	}
	s, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Dropped != 0 || s.Skipped != 0 || s.Unattributed != 0 || s.DecodeErrors != 0 {
		t.Errorf("stats %+v: want no drops", s)
	}
	t.Logf("stats %+v", s) // how often the kernel skipped the tracker, on the kernel matrix
}
