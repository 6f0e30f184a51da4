package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows"
)

// TestScanFlowsThroughMeshSidecars: in a mesh with strict mTLS, frontend's
// call to the cart Service is seen four times over — frontend to its own
// envoy (captured, plaintext inside the pod), envoy to cart's envoy on the
// pod port (TLS), cart's envoy accepting on its capture port — and must
// come out as one declared, observed, encrypted edge: no plaintext
// finding, and no undeclared edge on the pod port or the capture port.
func TestScanFlowsThroughMeshSidecars(t *testing.T) {
	dir := t.TempDir()
	mesh := "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec:\n  mtls: {mode: STRICT}\n"
	writeFile(t, filepath.Join(dir, "shop.yaml"), shopManifests()+mesh)
	ips := map[string]netip.Addr{"frontend": netip.MustParseAddr("10.244.1.5"), "cart": netip.MustParseAddr("10.244.2.7")}
	writeFile(t, filepath.Join(dir, "pods.json"), string(shopInventory(t, ips)))

	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const frontendNS, cartNS = 4026532001, 4026532002
	side := func(role flows.Role, netns uint32, comm, local, remote string, port uint16, protocol, encryption string) flows.Flow {
		return flows.Flow{Key: flows.Key{Netns: netns, Role: role, Local: netip.MustParseAddr(local), Remote: netip.MustParseAddr(remote), Port: port},
			Node: "node-a", Comm: comm, PID: 7, Opened: 3, Closed: 3, BytesSent: 30, BytesReceived: 300, FirstSeen: t0, LastSeen: t0.Add(time.Minute),
			Protocols: map[string]uint64{protocol: 3}, Encryption: map[string]uint64{encryption: 3}}
	}
	cartService := "10.96.0.10" // shopServices
	log := filepath.Join(dir, "node-a.jsonl")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	err = flows.WriteLog(f, []flows.Flow{
		side(flows.RoleClient, frontendNS, "frontend", "10.244.1.5", cartService, 80, "http", "plaintext"),
		side(flows.RoleServer, frontendNS, "envoy", "127.0.0.1", "10.244.1.5", 15001, "http", "plaintext"),
		side(flows.RoleClient, frontendNS, "envoy", "10.244.1.5", "10.244.2.7", 7070, "tls", "tls"),
		side(flows.RoleServer, cartNS, "envoy", "10.244.2.7", "10.244.1.5", 15006, "tls", "tls"),
	}, nil, flows.Summary{Node: "node-a", Started: t0, Duration: time.Minute, Events: 24, Flows: 4})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	c := newCLI(t)
	r := c.mustRun("scan", "-f", filepath.Join(dir, "shop.yaml"), "--flows", log, "--inventory", filepath.Join(dir, "pods.json"))
	if want := "1 calls captured by their pod's mesh proxy"; !strings.Contains(r.stdout, want) {
		t.Errorf("the summary does not say %q:\n%s", want, r.stdout)
	}
	got, doc := observedEdges(t, c)
	if want := []string{"workload:shop/frontend->workload:shop/cart:80 (declared)"}; !slices.Equal(got, want) {
		t.Errorf("observed edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	for _, e := range doc.Edges {
		if e.ID == "workload:shop/frontend->workload:shop/cart:80" && (e.Observation == nil || e.Observation.Encryption != "tls" || e.Observation.Protocol != "http") {
			t.Errorf("the edge's observation %+v: want the proxies' TLS, the application's protocol", e.Observation)
		}
	}
	for _, id := range findingIDs(t, c) {
		if strings.HasPrefix(id, "plaintext-on-wire") || strings.HasPrefix(id, "undeclared-observed-flow") {
			t.Errorf("finding %s: the mesh carried the call encrypted, on a declared flow", id)
		}
	}
}
