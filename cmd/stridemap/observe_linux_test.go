//go:build linux

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows/bpf"
	"github.com/stridemap/stridemap/discover/flows/flowstest"
	"github.com/stridemap/stridemap/model"
)

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// selfSigned makes a certificate for a test TLS server.
func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestObserveEndToEnd runs "stridemap observe" with the real observer
// while pods in network namespaces call each other as the shop's manifests
// say, one of them through a ClusterIP that iptables DNATs: the scan must
// gain exactly those flows, on the ports dialled, with their counts, and
// nothing may be lost.
func TestObserveEndToEnd(t *testing.T) {
	flowstest.NeedRoot(t)
	t.Run("every part", func(t *testing.T) { runShopCalls(t, nil) })
	// As on a kernel that refuses every optional part: the flows are
	// merged all the same, their protocol and encryption unknown, and
	// what is missing is said once and recorded with the scan.
	t.Run("without optional parts", func(t *testing.T) {
		runShopCalls(t, []string{"listener-adoption", "protocol-peek", "aggregation"})
	})
}

// runShopCalls runs the shop's calls between lab pods under "stridemap
// observe", the observer without the parts named, and checks the scan.
func runShopCalls(t *testing.T, without []string) {
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
	bin := buildObserver(t, dir)

	// frontend speaks HTTP/1.1, payments HTTPS, cart HTTP/2 without TLS
	// (as gRPC does in a cluster) and redis RESP.
	for app, port := range map[string]uint16{"frontend": 8080, "payments": 8443} {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%s: ok\n", app)
		})}
		ln := pods[app].Listen(port, true)
		if app == "payments" {
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{selfSigned(t, "payments.shop.svc")}})
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	serve := func(ln net.Listener, handle func(net.Conn)) {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { handle(c); c.Close() }()
			}
		}()
	}
	serve(pods["cart"].Listen(7070, true), func(c net.Conn) {
		io.ReadFull(c, make([]byte, len(h2Preface)))
		c.Write([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0}) // SETTINGS
		io.Copy(io.Discard, c)
	})
	serve(pods["redis"].Listen(6379, false), func(c net.Conn) { io.Copy(c, c) })
	cartService := netip.MustParseAddrPort("10.96.0.10:80") // shopServices
	pods["frontend"].DNAT(cartService, netip.AddrPortFrom(ips["cart"], 7070))

	c := newCLI(t)
	c.mustRun("scan", "-f", filepath.Join(dir, "shop.yaml"))
	args := []string{"--inventory", filepath.Join(dir, "pods.json")}
	if len(without) > 0 {
		args = append(args, "--without", strings.Join(without, ","))
	}
	wait := startObserving(t, c, bin, args...)

	get := func(from, url string, n int) {
		// The transport closes a connection it will not reuse in its own
		// goroutine: each request waits for that close, so the kernel has
		// seen the connection end (with its bytes) before the observer is
		// stopped, however slow the machine.
		closed := make(chan struct{}, 1)
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := pods[from].DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &closeSignal{Conn: conn, closed: closed}, nil
		}
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: dial, DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // a test certificate
		}}
		for range n {
			resp, err := client.Get(url)
			if err != nil {
				t.Fatalf("%s -> %s: %v", from, url, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s -> %s: the client never closed its connection", from, url)
			}
		}
	}
	raw := func(from string, to netip.AddrPort, n int, hello string, answer int) {
		for range n {
			conn, err := pods[from].DialContext(t.Context(), "tcp", to.String())
			if err != nil {
				t.Fatalf("%s -> %s: %v", from, to, err)
			}
			conn.Write([]byte(hello))
			if _, err := io.ReadFull(conn, make([]byte, answer)); err != nil {
				t.Fatalf("%s -> %s: %v", from, to, err)
			}
			conn.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, conn)
			conn.Close()
		}
	}
	get("loadgen", "http://"+netip.AddrPortFrom(ips["frontend"], 8080).String()+"/", 2)
	raw("frontend", cartService, 3, h2Preface, 9)
	get("frontend", "https://"+netip.AddrPortFrom(ips["payments"], 8443).String()+"/", 1)
	ping := "*1\r\n$4\r\nPING\r\n"
	raw("cart", netip.AddrPortFrom(ips["redis"], 6379), 2, ping, len(ping))

	r := wait()
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
	for id, w := range map[string]struct {
		n          uint64
		protocol   string
		encryption model.Encryption
	}{
		"workload:shop/cart->workload:shop/redis:6379":        {2, "redis", model.EncryptionPlaintext},
		"workload:shop/frontend->workload:shop/cart:80":       {3, "http2", model.EncryptionPlaintext},
		"workload:shop/frontend->workload:shop/payments:8443": {1, "", model.EncryptionTLS},
		"workload:shop/loadgen->workload:shop/frontend:8080":  {2, "http", model.EncryptionPlaintext},
	} {
		e := edge(doc, id)
		if e == nil || e.Observation == nil {
			t.Errorf("%s: not observed", id)
			continue
		}
		o := e.Observation
		peeked := !slices.Contains(without, "protocol-peek")
		if !peeked {
			w.protocol, w.encryption = "", "" // not looked at: unknown
		}
		if o.Connections != w.n || o.BytesSent == 0 || o.BytesReceived == 0 || !slices.Equal(o.Sources, []string{"ebpf"}) ||
			o.Protocol != w.protocol || o.Encryption != w.encryption || o.Unclassified == peeked {
			t.Errorf("%s: want %d connections with bytes, %q, %s, unclassified %v; got %+v", id, w.n, w.protocol, w.encryption, !peeked, o)
		}
		if !peeked && e.Encryption == model.EncryptionPlaintext {
			t.Errorf("%s: encryption %s, from %s, though nothing was classified", id, e.Encryption, e.EncryptionSource)
		}
	}
	// Each part left out is said once, and recorded in the scan's sources.
	sources := c.mustRun("scans", "--format", "json").stdout
	for _, part := range without {
		title := bpf.Part(part).Title() + " unavailable: " + bpf.ErrTurnedOff.Error()
		if n := strings.Count(r.stderr, title); n != 1 {
			t.Errorf("observe says %q %d times, want once:\n%s", title, n, r.stderr)
		}
		if !strings.Contains(sources, title) {
			t.Errorf("the scan's sources do not record %q:\n%s", title, sources)
		}
	}
	if !strings.Contains(r.stdout, "Declared, not observed: 1\n  workload:shop/frontend->workload:shop/audit:9000") {
		t.Errorf("audit is declared and never called:\n%s", r.stdout)
	}
}

// closeSignal is a connection that says when it is closed.
type closeSignal struct {
	net.Conn
	once   sync.Once
	closed chan<- struct{}
}

func (c *closeSignal) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.closed <- struct{}{} })
	return err
}
