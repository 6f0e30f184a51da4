//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows/flowstest"
)

// TestObserveEndToEnd runs "stridemap observe" with the real observer
// while pods in network namespaces call each other as the shop's manifests
// say, one of them through a ClusterIP that iptables DNATs: the scan must
// gain exactly those flows, on the ports dialled, with their counts, and
// nothing may be lost.
func TestObserveEndToEnd(t *testing.T) {
	flowstest.NeedRoot(t)
	lab := flowstest.NewLab(t)
	pods := map[string]*flowstest.Pod{}
	ips := map[string]netip.Addr{"audit": netip.MustParseAddr("10.200.0.200")} // declared, never runs
	for _, app := range []string{"loadgen", "frontend", "cart", "redis", "payments"} {
		pods[app] = lab.AddPod(app)
		ips[app] = pods[app].IP
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "shop.yaml"), shopManifests())
	writeFile(t, filepath.Join(dir, "pods.json"), string(shopInventory(t, ips)))
	bin := filepath.Join(dir, "stridemap-observer")
	if out, err := exec.Command("go", "build", "-o", bin, "../stridemap-observer").CombinedOutput(); err != nil {
		t.Fatalf("build the observer: %v\n%s", err, out)
	}

	for app, port := range map[string]uint16{"frontend": 8080, "cart": 7070, "payments": 8443} {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%s: ok\n", app)
		})}
		go srv.Serve(pods[app].Listen(port, true))
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
	cartService := netip.MustParseAddrPort("10.96.0.10:80") // shopServices
	pods["frontend"].DNAT(cartService, netip.AddrPortFrom(ips["cart"], 7070))

	c := newCLI(t)
	c.mustRun("scan", "-f", filepath.Join(dir, "shop.yaml"))
	ready := make(chan struct{})
	onObserving = func() { close(ready) }
	t.Cleanup(func() { onObserving = nil })
	done := make(chan result, 1)
	go func() {
		done <- c.run("", "observe", "--duration", "3s", "--observer", bin, "--inventory", filepath.Join(dir, "pods.json"))
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("observe ended before observing: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("the observer did not attach within 30s")
	}

	calls := []struct {
		from string
		to   netip.AddrPort
		n    int
	}{
		{"loadgen", netip.AddrPortFrom(ips["frontend"], 8080), 2},
		{"frontend", cartService, 3},
		{"frontend", netip.AddrPortFrom(ips["payments"], 8443), 1},
	}
	for _, call := range calls {
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: pods[call.from].DialContext, DisableKeepAlives: true}}
		for range call.n {
			resp, err := client.Get("http://" + call.to.String() + "/")
			if err != nil {
				t.Fatalf("%s -> %s: %v", call.from, call.to, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	for range 2 {
		conn, err := pods["cart"].DialContext(t.Context(), "tcp", netip.AddrPortFrom(ips["redis"], 6379).String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte("PING\r\n"))
		io.ReadFull(conn, make([]byte, 6))
		conn.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, conn)
		conn.Close()
	}

	r := <-done
	if r.code != 0 {
		t.Fatalf("observe: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "nothing lost") {
		t.Errorf("the observation should have lost nothing:\n%s", r.stderr)
	}
	got, doc := observedEdges(t, c)
	want := []string{
		"workload:shop/cart->workload:shop/redis:6379 (declared)",
		"workload:shop/frontend->workload:shop/cart:80 (declared)",
		"workload:shop/frontend->workload:shop/payments:8443 (declared)",
		"workload:shop/loadgen->workload:shop/frontend:8080 (observed only)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("observed edges:\n got %s\nwant %s\n%s", strings.Join(got, "\n     "), strings.Join(want, "\n     "), r.stdout)
	}
	for id, n := range map[string]uint64{
		"workload:shop/cart->workload:shop/redis:6379":        2,
		"workload:shop/frontend->workload:shop/cart:80":       3,
		"workload:shop/frontend->workload:shop/payments:8443": 1,
		"workload:shop/loadgen->workload:shop/frontend:8080":  2,
	} {
		e := edge(doc, id)
		if e == nil || e.Observation == nil || e.Observation.Connections != n || e.Observation.BytesSent == 0 || e.Observation.BytesReceived == 0 ||
			!slices.Equal(e.Observation.Sources, []string{"ebpf"}) {
			t.Errorf("%s: want %d connections with bytes, got %+v", id, n, e)
		}
	}
	if !strings.Contains(r.stdout, "Declared, not observed: 1\n  workload:shop/frontend->workload:shop/audit:9000") {
		t.Errorf("audit is declared and never called:\n%s", r.stdout)
	}
}
