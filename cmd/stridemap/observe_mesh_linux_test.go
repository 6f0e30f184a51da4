//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/stridemap/stridemap/discover/flows/flowstest"
	"github.com/stridemap/stridemap/model"
)

// meshShop declares frontend calling the cart Service, whose port 80 is
// cart's 7070, in a namespace where Istio requires mTLS.
var meshShop = strings.Join([]string{
	deployment("frontend", `, env: [{name: CART_URL, value: "http://cart:80"}]`),
	deployment("cart", ", ports: [{containerPort: 7070}]"),
	"apiVersion: v1\nkind: Service\nmetadata: {name: cart, namespace: shop}\nspec: {selector: {app: cart}, ports: [{port: 80, targetPort: 7070}]}\n",
	"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec:\n  mtls: {mode: STRICT}\n",
}, "---\n")

// capturedCalls finds how many calls observe says the pods' mesh proxies
// captured.
var capturedCalls = regexp.MustCompile(`, (\d+) calls captured by their pod's mesh proxy`)

// evidenceOwner reads an observed flow's evidence: the owner's comm, and
// what was seen.
var evidenceOwner = regexp.MustCompile(`netns \d+ (\S+) \(pid \d+\): (.*)$`)

// meshPod is the running Pod of Deployment app, as the inventory lists it:
// with Istio's sidecar container, labelled for its Service.
func meshPod(app, uid string, ip netip.Addr) map[string]any {
	containers := []any{
		map[string]any{"name": app, "image": "example/" + app},
		map[string]any{"name": "istio-proxy", "image": "istio/proxyv2:1.24"},
	}
	item := inventoryPod{app + "-5d8f-x1", uid, "ReplicaSet", app + "-5d8f", ip, containers}.item()
	item["metadata"].(map[string]any)["labels"].(map[string]any)["app"] = app
	return item
}

// TestObserveThroughMeshSidecars runs "stridemap observe" with the real
// observer while frontend calls cart through Istio-like sidecars: in each
// pod, iptables captures the application's connections for a process
// named envoy, running as Istio's proxy user in a container cgroup of its
// own, which carries them to the other pod's envoy over TLS. frontend's
// application sends plaintext HTTP to the cart Service's ClusterIP; what
// crosses the network is envoy's TLS to cart's pod port, which cart's
// envoy accepts on its capture port and hands to cart's application from
// 127.0.0.6. The scan must gain exactly the declared edge, observed
// encrypted, with the application's protocol: the kernel must show what
// the resolver assumes of captured sockets (the application's still
// shows the ClusterIP, the accepting proxy's the capture port, both
// proxies are envoy).
func TestObserveThroughMeshSidecars(t *testing.T) {
	flowstest.NeedRoot(t)
	lab := flowstest.NewLab(t)
	frontend, cart := lab.AddPod("frontend"), lab.AddPod("cart")
	// UIDs and a ClusterIP of this run only: the observer sees the whole
	// machine, maybe other tests dialling their own Services.
	frontendUID, cartUID := string(uuid.NewUUID()), string(uuid.NewUUID())
	container := func(n int) string { return fmt.Sprintf("%064x", n) }
	frontend.UseCgroup(flowstest.SystemdCgroup(frontendUID, container(1)))
	cart.UseCgroup(flowstest.SystemdCgroup(cartUID, container(2)))
	subnet := lab.Subnet.Addr().As4()
	cartService := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, subnet[1] & 127, subnet[2], 10}), 80)
	cartPod := netip.AddrPortFrom(cart.IP, 7070)

	inventory, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{
		meshPod("frontend", frontendUID, frontend.IP),
		meshPod("cart", cartUID, cart.IP),
		map[string]any{
			"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "cart", "namespace": "shop"},
			"spec": map[string]any{"clusterIP": cartService.Addr().String(), "selector": map[string]any{"app": "cart"},
				"ports": []any{map[string]any{"port": 80, "targetPort": 7070, "protocol": "TCP"}}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, wait := scanThenObserve(t, meshShop, inventory)
	// The observer learns who owns a listener when it sees listen(): the
	// sidecars and the server start while it observes.
	cart.StartMeshSidecar(flowstest.MeshSidecar{Cgroup: flowstest.SystemdCgroup(cartUID, container(3))})
	frontend.StartMeshSidecar(flowstest.MeshSidecar{Cgroup: flowstest.SystemdCgroup(frontendUID, container(4)),
		Routes: map[netip.AddrPort]netip.AddrPort{cartService: cartPod}})
	cart.StartHTTPServer(cartPod.Port())
	const calls = 3
	frontend.RunHTTPClient(cartService, calls)

	r := wait()
	doc := wantObservedEdges(t, c, "workload:shop/frontend->workload:shop/cart:80 (declared)")
	e := edge(doc, "workload:shop/frontend->workload:shop/cart:80")
	if e == nil || e.Observation == nil {
		t.Fatalf("frontend -> cart:80: not observed\n%s", r.stdout)
	}
	// Counted once: the proxies' connections are the ones on the wire; the
	// application's ended at its own proxy.
	if o := e.Observation; o.Encryption != model.EncryptionTLS || o.Protocol != "http" || o.Connections != calls || o.Failed != 0 {
		t.Errorf("frontend -> cart:80: want the proxies' TLS, the application's HTTP, %d connections; got %+v", calls, o)
	}
	// The evidence is the kernel's view of each socket, and who owned it:
	// the application's still names the ClusterIP, envoy's crosses to the
	// pod port, and cart's envoy accepted on its capture port.
	var evidence []string
	owners := map[string]string{} // what was seen → comm
	for _, ev := range e.Evidence {
		evidence = append(evidence, ev.Detail)
		if m := evidenceOwner.FindStringSubmatch(ev.Detail); m != nil {
			owners[m[2]] = m[1]
		}
	}
	all := strings.Join(evidence, "\n")
	for seen, proxy := range map[string]bool{
		fmt.Sprintf("%d connection(s) from %s to %s", calls, frontend.IP, cartService):                                                     false,
		fmt.Sprintf("%d connection(s) from %s to %s", calls, frontend.IP, cartPod):                                                         true,
		fmt.Sprintf("accepted %d connection(s) on %s from %s", calls, netip.AddrPortFrom(cart.IP, flowstest.MeshInboundPort), frontend.IP): true,
	} {
		if comm, ok := owners[seen]; !ok || (comm == "envoy") != proxy {
			who := "the application"
			if proxy {
				who = "envoy"
			}
			t.Errorf("the edge's evidence lacks %q by %s:\n%s", seen, who, all)
		}
	}
	for _, id := range findingIDs(t, c) {
		if strings.HasPrefix(id, "plaintext-on-wire") || strings.HasPrefix(id, "undeclared-observed-flow") {
			t.Errorf("finding %s: the mesh carried the call encrypted, on a declared flow", id)
		}
	}
	// At least frontend's call: the observer sees the whole machine, maybe
	// this test running elsewhere too.
	if m := capturedCalls.FindStringSubmatch(r.stdout); m == nil || m[1] == "0" {
		t.Errorf("observe does not say frontend's call was captured by its mesh proxy:\n%s", r.stdout)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("observe:\n%s%s\nevidence:\n%s", r.stdout, r.stderr, all)
	}
}
