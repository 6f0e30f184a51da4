package resolve

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows"
	"github.com/stridemap/stridemap/discover/manifests"
)

// inventory reads testdata/inventory.json, a "kubectl get pods,services -o
// json" dump, the way "stridemap observe --inventory" does.
func inventory(t *testing.T) *Resolver {
	t.Helper()
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{"testdata/inventory.json"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Problems) > 0 {
		t.Fatalf("inventory problems: %v", inv.Problems)
	}
	return New(inv.Objects)
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	frontendCgroup = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod11111111_2222_3333_4444_555555555555.slice/cri-containerd-abc.scope"
	reportCgroup   = "/kubepods/besteffort/pod33333333-2222-3333-4444-555555555555/0123456789ab"
)

func flow(role flows.Role, netns uint32, cgroup, local, remote string, port uint16, opened uint64) flows.Flow {
	return flows.Flow{
		Key:  flows.Key{Netns: netns, Role: role, Local: netip.MustParseAddr(local), Remote: netip.MustParseAddr(remote), Port: port},
		Node: "node-a", Cgroup: cgroup, Opened: opened, Closed: opened, BytesSent: 10 * opened, BytesReceived: 100 * opened,
		FirstSeen: t0, LastSeen: t0.Add(time.Minute),
	}
}

// line renders a resolved flow for comparison.
func line(f Flow) string {
	s := fmt.Sprintf("%s -> %s:%d n=%d sent=%d", f.From.Workload(), f.To.Workload(), f.Port, f.Connections, f.BytesSent)
	if f.Via != "" {
		s += " via " + f.Via
		if f.Confirmed {
			s += " (confirmed)"
		}
	}
	return s
}

func TestResolve(t *testing.T) {
	r := inventory(t)
	const frontendNS, cartNS, redisNS, reportNS, promNS, hostNS = 101, 102, 103, 104, 105, 1
	in := []flows.Flow{
		// frontend dials the cart Service's ClusterIP; the cart pod's
		// accept confirms which backend served it, on the named targetPort.
		flow(flows.RoleClient, frontendNS, frontendCgroup, "10.200.0.3", "10.96.0.10", 80, 3),
		flow(flows.RoleServer, cartNS, "", "10.200.0.4", "10.200.0.3", 7070, 3),
		// cart (no cgroup: its namespace is learnt from the accept above)
		// calls redis directly; redis saw it too: counted once.
		flow(flows.RoleClient, cartNS, "", "10.200.0.4", "10.200.0.5", 6379, 2),
		flow(flows.RoleServer, redisNS, "", "10.200.0.5", "10.200.0.4", 6379, 2),
		// A CronJob's pod calls out of the cluster.
		flow(flows.RoleClient, reportNS, reportCgroup, "10.200.0.6", "203.0.113.9", 443, 1),
		// Someone outside calls frontend.
		flow(flows.RoleServer, frontendNS, "", "10.200.0.3", "198.51.100.7", 8080, 4),
		// Inside the frontend pod: not a flow between elements.
		flow(flows.RoleClient, frontendNS, frontendCgroup, "127.0.0.1", "127.0.0.1", 15000, 9),
		// A Service with no backends in the inventory.
		flow(flows.RoleClient, frontendNS, frontendCgroup, "10.200.0.3", "10.96.0.12", 80, 1),
		// A pod the inventory does not know scrapes a host-network pod,
		// chosen among the node's pods by the port it declares.
		flow(flows.RoleClient, promNS, "", "10.200.0.8", "192.168.1.10", 9100, 5),
		// redis dials cart's Service and nobody confirms: the Service's
		// workload (both cart replicas are one Deployment).
		flow(flows.RoleClient, redisNS, "", "10.200.0.5", "10.96.0.10", 80, 1),
		// A host process (kubelet) probes frontend: the host's namespace
		// holds several pods' sockets, so it is resolved by address only.
		flow(flows.RoleClient, hostNS, "", "192.168.1.10", "10.200.0.3", 8080, 6),
	}
	got, rep := r.Resolve(in)
	var lines []string
	for _, f := range got {
		lines = append(lines, line(f))
	}
	want := []string{
		"CronJob shop/report -> external 203.0.113.9:443 n=1 sent=10",
		"Deployment shop/cart -> StatefulSet shop/redis:6379 n=2 sent=20",
		"Deployment shop/frontend -> Deployment shop/cart:80 n=3 sent=30 via Service shop/cart (confirmed)",
		"Deployment shop/frontend -> external 10.96.0.12:80 n=1 sent=10 via Service shop/empty",
		"StatefulSet shop/redis -> Deployment shop/cart:80 n=1 sent=10 via Service shop/cart",
		"external 10.200.0.8 -> DaemonSet shop/node-exporter:9100 n=5 sent=50",
		"external 192.168.1.10 -> Deployment shop/frontend:8080 n=6 sent=60",
		"external 198.51.100.7 -> Deployment shop/frontend:8080 n=4 sent=400",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("resolved:\n got %s\nwant %s", strings.Join(lines, "\n     "), strings.Join(want, "\n     "))
	}
	if rep.Flows != len(in) || rep.Resolved != len(want) || rep.Loopback != 1 || rep.Confirmed != 2 || rep.External != 5 || rep.Unknown != 0 {
		t.Errorf("report %+v", rep)
	}
	// Ownership chains run from the top controller to the pod.
	for _, f := range got {
		if f.From.Workload() == "Deployment shop/frontend" && f.Port == 80 && f.Confirmed {
			if want := []Owner{{"Deployment", "frontend"}, {"ReplicaSet", "frontend-5d8f9"}, {"Pod", "frontend-5d8f9-abcde"}}; !slices.Equal(f.From.Owners, want) {
				t.Errorf("frontend owners %v, want %v", f.From.Owners, want)
			}
			if len(f.Evidence) != 2 || !strings.Contains(f.Evidence[1], "accepted 3 connection(s) on 10.200.0.4:7070 from 10.200.0.3") {
				t.Errorf("evidence %q", f.Evidence)
			}
		}
	}
}

// TestResolveSeveralWorkloadsBehindOneService: each confirmed workload
// gets the connections its own side accepted.
func TestResolveSeveralWorkloadsBehindOneService(t *testing.T) {
	r := inventory(t)
	// Make redis-0 a second backend of the cart Service: same labels.
	for _, p := range r.byIP[netip.MustParseAddr("10.200.0.5")] {
		p.ports = append(p.ports, p.ports[0])
		p.ports[len(p.ports)-1].Name, p.ports[len(p.ports)-1].ContainerPort = "grpc", 7070
	}
	svc := r.clusterIPs[netip.MustParseAddr("10.96.0.10")]
	svc.backends = append(svc.backends, r.byIP[netip.MustParseAddr("10.200.0.5")][0])
	got, _ := r.Resolve([]flows.Flow{
		flow(flows.RoleClient, 101, frontendCgroup, "10.200.0.3", "10.96.0.10", 80, 5),
		flow(flows.RoleServer, 102, "", "10.200.0.4", "10.200.0.3", 7070, 3),
		flow(flows.RoleServer, 103, "", "10.200.0.5", "10.200.0.3", 7070, 2),
	})
	var lines []string
	for _, f := range got {
		lines = append(lines, line(f))
	}
	want := []string{
		"Deployment shop/frontend -> Deployment shop/cart:80 n=3 sent=300 via Service shop/cart (confirmed)",
		"Deployment shop/frontend -> StatefulSet shop/redis:80 n=2 sent=200 via Service shop/cart (confirmed)",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("resolved:\n got %s\nwant %s", strings.Join(lines, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestByAddrPrefersRunningPods(t *testing.T) {
	r := inventory(t)
	// 10.200.0.4 belonged to a pod that has ended, and now to cart.
	if p := r.byAddr(netip.MustParseAddr("10.200.0.4"), 0); p == nil || p.name != "cart-7c9d-xyz" {
		t.Errorf("byAddr = %v", p)
	}
	// Two host-network pods share the node's address: only a declared
	// port tells them apart.
	if p := r.byAddr(netip.MustParseAddr("192.168.1.10"), 0); p != nil {
		t.Errorf("host address without a port resolved to %v", p)
	}
}

// TestSharedNamespaceIsNotGuessed: when sockets of two pods share a network
// namespace (the host's, for host-network pods or a node process), a socket
// without a cgroup there is not given to either.
func TestSharedNamespaceIsNotGuessed(t *testing.T) {
	r := inventory(t)
	got, rep := r.Resolve([]flows.Flow{
		flow(flows.RoleClient, 1, frontendCgroup, "10.200.0.3", "203.0.113.1", 443, 1),
		flow(flows.RoleClient, 1, reportCgroup, "10.200.0.6", "203.0.113.1", 443, 1),
		flow(flows.RoleClient, 1, "", "192.168.1.99", "203.0.113.1", 443, 1),
	})
	var from []string
	for _, f := range got {
		from = append(from, f.From.Workload())
	}
	want := []string{"CronJob shop/report", "Deployment shop/frontend"} // the third is external to external: left out
	if !slices.Equal(from, want) || rep.Unknown != 1 {
		t.Errorf("from %v, want %v; report %+v", from, want, rep)
	}
}

// TestResolveCarriesClassification: a flow takes the protocol and
// encryption its client saw, or else what its server saw.
func TestResolveCarriesClassification(t *testing.T) {
	r := inventory(t)
	client := flow(flows.RoleClient, 101, frontendCgroup, "10.200.0.3", "10.96.0.10", 80, 3)
	server := flow(flows.RoleServer, 102, "", "10.200.0.4", "10.200.0.3", 7070, 3)
	server.Protocols, server.Encryption = map[string]uint64{"http2": 3}, map[string]uint64{"plaintext": 3}
	redis := flow(flows.RoleClient, 102, "", "10.200.0.4", "10.200.0.5", 6379, 2)
	redis.Protocols, redis.Encryption = map[string]uint64{"tls": 2}, map[string]uint64{"tls": 2}
	got, _ := r.Resolve([]flows.Flow{client, server, redis})
	var lines []string
	for _, f := range got {
		lines = append(lines, fmt.Sprintf("%s -> %s: %s %s", f.From.Workload(), f.To.Workload(), f.Protocol(), f.Encrypted()))
	}
	want := []string{
		"Deployment shop/cart -> StatefulSet shop/redis: tls tls",
		"Deployment shop/frontend -> Deployment shop/cart: http2 plaintext",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("got %q\nwant %q", lines, want)
	}
	mixed := Flow{Protocols: map[string]uint64{"tls": 5, "http": 1, "redis": 1}, Encryption: map[string]uint64{"tls": 5, "plaintext": 2}}
	if mixed.Protocol() != "http" || mixed.Encrypted() != "plaintext" {
		t.Errorf("mixed: %q %q: TLS hides the protocol, plaintext once is plaintext", mixed.Protocol(), mixed.Encrypted())
	}
}

// TestResolveByPodName: a flow log that names pods (Hubble's) resolves by
// those names even when the addresses have moved on; without a netns, no
// namespace is learnt.
func TestResolveByPodName(t *testing.T) {
	r := inventory(t)
	client := flow(flows.RoleClient, 0, "", "10.9.0.1", "10.9.0.2", 7070, 2)
	client.LocalPod, client.RemotePod = "shop/frontend-5d8f9-abcde", "shop/cart-7c9d-xyz"
	server := flow(flows.RoleServer, 0, "", "10.9.0.2", "10.9.0.1", 7070, 2)
	server.LocalPod, server.RemotePod = "shop/cart-7c9d-xyz", "shop/frontend-5d8f9-abcde"
	unnamed := flow(flows.RoleClient, 0, "", "10.9.0.3", "203.0.113.1", 443, 1)
	got, rep := r.Resolve([]flows.Flow{client, server, unnamed})
	var lines []string
	for _, f := range got {
		lines = append(lines, line(f))
	}
	want := []string{"Deployment shop/frontend -> Deployment shop/cart:7070 n=2 sent=20"}
	if !slices.Equal(lines, want) || rep.Confirmed != 1 || rep.Unknown != 1 {
		t.Errorf("got %q, report %+v\nwant %q", lines, rep, want)
	}
}

// TestAcceptingSideOutranksAddress: when the accepting side of a connection
// was observed, the pod its socket resolves to (by cgroup here) is the
// server, even when the inventory gives the address to another pod that
// declares the port: addresses are recycled, and an inventory can be stale.
func TestAcceptingSideOutranksAddress(t *testing.T) {
	r := inventory(t)
	// The inventory says redis-0 has 10.200.0.5 and serves 6379; the
	// accepting socket belongs to the report pod's cgroup.
	got, rep := r.Resolve([]flows.Flow{
		flow(flows.RoleClient, 101, frontendCgroup, "10.200.0.3", "10.200.0.5", 6379, 2),
		flow(flows.RoleServer, 104, reportCgroup, "10.200.0.5", "10.200.0.3", 6379, 2),
	})
	var lines []string
	for _, f := range got {
		lines = append(lines, line(f))
	}
	want := []string{"Deployment shop/frontend -> CronJob shop/report:6379 n=2 sent=20"}
	if !slices.Equal(lines, want) || rep.Confirmed != 1 {
		t.Errorf("got %q, report %+v\nwant %q", lines, rep, want)
	}
}

// TestResolveMeshSidecars: with sidecars, frontend's call to the cart
// Service ends at frontend's own envoy (captured in its namespace), and
// envoy calls cart's envoy, which accepts on its capture port. The
// application's flow keeps the Service and the protocol but says nothing
// of encryption (its plaintext never left the pod); the proxies' flow
// says TLS, on the pod port, confirmed by the accepting proxy, whose
// capture port makes no flow of its own. The hops inside each pod, as the
// kernel shows them (the captured call accepted on 127.0.0.1, the inbound
// call handed to cart from 127.0.0.6), stay inside the pod.
func TestResolveMeshSidecars(t *testing.T) {
	r := inventory(t)
	const frontendNS, cartNS = 101, 102
	classified := func(f flows.Flow, comm, protocol, encryption string) flows.Flow {
		f.Comm = comm
		f.Protocols, f.Encryption = map[string]uint64{protocol: f.Opened}, map[string]uint64{encryption: f.Opened}
		return f
	}
	in := []flows.Flow{
		classified(flow(flows.RoleClient, frontendNS, frontendCgroup, "10.200.0.3", "10.96.0.10", 80, 3), "frontend", "http", "plaintext"),
		classified(flow(flows.RoleServer, frontendNS, frontendCgroup, "127.0.0.1", "10.200.0.3", 15001, 3), "envoy", "http", "plaintext"),
		classified(flow(flows.RoleClient, frontendNS, frontendCgroup, "10.200.0.3", "10.200.0.4", 7070, 3), "envoy", "tls", "tls"),
		classified(flow(flows.RoleServer, cartNS, "", "10.200.0.4", "10.200.0.3", 15006, 3), "envoy", "tls", "tls"),
		classified(flow(flows.RoleClient, cartNS, "", "127.0.0.6", "10.200.0.4", 7070, 3), "envoy", "http", "plaintext"),
		classified(flow(flows.RoleServer, cartNS, "", "10.200.0.4", "127.0.0.6", 7070, 3), "cart", "http", "plaintext"),
		// A proxy's capture the client of which was not observed.
		classified(flow(flows.RoleServer, cartNS, "", "10.200.0.4", "10.200.0.9", 15006, 1), "envoy", "tls", "tls"),
	}
	got, rep := r.Resolve(in)
	var lines []string
	for _, f := range got {
		lines = append(lines, fmt.Sprintf("%s: %s %q", line(f), f.Protocol(), f.Encrypted()))
	}
	want := []string{
		`Deployment shop/frontend -> Deployment shop/cart:80 n=0 sent=0 via Service shop/cart: http ""`, // the proxy's connections are the ones counted
		`Deployment shop/frontend -> Deployment shop/cart:7070 n=3 sent=30: tls "tls"`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// Inside a pod: frontend's envoy taking frontend's call (15001), cart's
	// handing it to cart, both ends. Captured: the call from the
	// unobserved client.
	if rep.Intercepted != 1 || rep.Captured != 1 || rep.Confirmed != 1 || rep.Loopback != 3 || rep.Resolved != 2 {
		t.Errorf("report %+v: want 1 intercepted, 1 captured, 1 confirmed, 3 inside a pod, 2 resolved", rep)
	}
}
