//go:build linux

package policy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/flows/flowstest"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/policy"
	"github.com/stridemap/stridemap/policy/policytest"
)

// TestEnforce puts the suggested policies of the demo, Online Boutique and
// podinfo to work on real packets. Each workload becomes a pod of the
// flows lab (a network namespace on a bridge) labelled as its pod
// template, in a namespace labelled kubernetes.io/metadata.name; the
// policies become nftables rules in each pod's namespace
// (policytest.Translate). Then every flow of the graph is replayed pod to
// pod and must connect, and every call no flow makes must be refused.
//
// The lab has no Services and no kube-proxy, so a flow is dialled at its
// destination pod's address on the pod port the Service maps its port to
// (the edge's TargetPort), which is what a NetworkPolicy sees after the
// Service's translation. The internet and ingress controllers or
// gateways, whose pods the manifests do not hold, are one pod outside
// every namespace of the app, as policies can only admit them by address.
// A pod standing for kube-dns answers on TCP 53 for the DNS policy.
func TestEnforce(t *testing.T) {
	flowstest.NeedRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("nft not found: install nftables (.ci/deps.sh)")
	}
	corpus := discovertest.CorpusDir(t)
	for _, app := range []struct{ name, dir string }{
		{"demo", filepath.Join("..", "testdata", "demo")},
		{"online-boutique", filepath.Join(corpus, "online-boutique")},
		// Workloads of the same labels in three namespaces, several
		// named ports each, and an entry through hostPorts.
		{"podinfo", filepath.Join(corpus, "podinfo")},
	} {
		t.Run(app.name, func(t *testing.T) { enforce(t, app.dir) })
	}
}

// maxForbidden bounds the forbidden calls of one app; beyond it an evenly
// spread sample of them is dialled.
const maxForbidden = 600

// labPod is a lab pod and what the policies see of it.
type labPod struct {
	net       *flowstest.Pod
	spec      policytest.Pod
	listening []uint16
	hostPorts map[uint16]uint16 // container port by host port
}

// call is one connection to try: a flow, or one no flow makes.
type call struct {
	from, to *labPod
	port     uint16
	why      string
}

func (c call) String() string {
	return fmt.Sprintf("%s -> %s:%d (%s)", c.from.spec.Name, c.to.spec.Name, c.port, c.why)
}

func enforce(t *testing.T, dir string) {
	g := model.Build(collect(t, dir), controls.Detectors()...)
	s := policy.Suggest(g, policy.Options{From: policy.FromBoth})
	noted := map[string]bool{}
	for _, n := range s.Notes {
		noted[n.Subject] = true
		t.Logf("note: %s", n)
	}

	l := newLab(t)
	workloads := map[string]*labPod{}
	var sources []*labPod // every pod a forbidden call may come from
	for i := range g.Nodes {
		if n := &g.Nodes[i]; n.Workload != nil && !noted[n.ID] {
			workloads[n.ID] = l.add(n.ID, n.Namespace, n.Workload.PodLabels, declaredPorts(n))
			workloads[n.ID].hostPorts = hostPorts(n)
			sources = append(sources, workloads[n.ID])
		}
	}
	outside := l.add("outside (internet, ingress controllers)", "stridemap-lab-outside", nil, nil)
	sources = append(sources, outside)
	dns := l.add("kube-dns", "kube-system", map[string]string{"k8s-app": "kube-dns"}, []policytest.Port{{Name: "dns-tcp", Number: 53}})

	// The flows, each on its pod port, or on every port the destination
	// declares when its port is unknown (as the suggestion admits them).
	var calls []call
	used := map[string]bool{} // "from to port" of every flow; port 0: every port
	for _, e := range g.Edges {
		from, to := workloads[e.From], workloads[e.To]
		if from == nil && (e.From == model.InternetID || strings.HasPrefix(e.From, "gateway:")) {
			from = outside
		}
		switch {
		case noted[e.ID]:
			t.Logf("not replayed: %s, noted", e.ID)
			continue
		case from == nil || to == nil:
			t.Logf("not replayed: %s, the lab has no pod for a peer that is noted or no workload", e.ID)
			continue
		}
		port := podPort(e, to)
		used[fmt.Sprintf("%p %p %d", from, to, port)] = true
		ports := []uint16{port}
		if port == 0 {
			ports = tcpPorts(to.spec.Ports)
		}
		for _, p := range ports {
			calls = append(calls, call{from, to, p, "flow " + e.ID})
		}
	}
	for _, p := range sources[:len(sources)-1] {
		calls = append(calls, call{p, dns, 53, "DNS"})
	}
	flows := len(calls)

	// Every other source, destination and port among the workloads: a
	// port the destination declares or some flow reaches. That holds each
	// flow's pair on the destination's other ports.
	var forbidden []call
	for _, dst := range sources[:len(sources)-1] {
		ports := tcpPorts(dst.spec.Ports)
		for _, c := range calls[:flows] {
			if c.to == dst && !slices.Contains(ports, c.port) {
				ports = append(ports, c.port)
			}
		}
		for _, port := range ports {
			for _, src := range sources {
				if src != dst && !used[fmt.Sprintf("%p %p 0", src, dst)] && !used[fmt.Sprintf("%p %p %d", src, dst, port)] {
					forbidden = append(forbidden, call{src, dst, port, "no flow"})
				}
			}
		}
	}
	if n := len(forbidden); n > maxForbidden {
		sample := forbidden[:0]
		for i := range maxForbidden {
			sample = append(sample, forbidden[i*n/maxForbidden])
		}
		t.Logf("%d forbidden calls, %d of them tried", n, maxForbidden)
		forbidden = sample
	}
	calls = append(calls, forbidden...)
	for _, c := range calls {
		c.to.listen(t, c.port)
	}

	// Without rules every call connects: a refusal later is the rules'.
	for _, c := range calls {
		if err := c.dial(); err != nil {
			t.Fatalf("%s fails before any policy is enforced: %v", c, err)
		}
	}
	l.enforce(t, s.Policies)
	for _, c := range calls[:flows] {
		if err := c.dial(); err != nil {
			t.Errorf("%s is refused with the suggested policies: %v", c, err)
		}
	}
	for _, c := range calls[flows:] {
		if err := c.dial(); err == nil {
			t.Errorf("%s connects with the suggested policies", c)
		}
	}
	t.Logf("%s: %d pods, %d policies; %d calls connect, %d refused", filepath.Base(dir), len(l.pods), len(s.Policies), flows, len(calls)-flows)

	// Negative control: one flow between workloads (of two namespaces
	// where there is one), with the rule that admits it taken out of the
	// destination's ingress, then out of the source's egress, is refused;
	// put back, it connects again.
	betweenWorkloads := func(c call) bool { return c.from != outside && c.to != dns }
	i := slices.IndexFunc(calls[:flows], func(c call) bool {
		return betweenWorkloads(c) && c.from.spec.Namespace != c.to.spec.Namespace
	})
	if i < 0 {
		i = slices.IndexFunc(calls[:flows], betweenWorkloads)
	}
	if i < 0 {
		t.Fatal("no flow between workloads to take a rule from")
	}
	c := calls[i]
	for _, egress := range []bool{false, true} {
		name := "without " + c.to.spec.Name + "'s ingress rule for " + c.from.spec.Name
		pod, peer := c.to, c.from
		if egress {
			name = "without " + c.from.spec.Name + "'s egress rule for " + c.to.spec.Name
			pod, peer = c.from, c.to
		}
		t.Run(name, func(t *testing.T) {
			l.load(t, pod, policytest.NFT(l.rulesOf(pod, dropRule(t, s.Policies, pod, peer, egress))))
			if err := c.dial(); err == nil {
				t.Errorf("%s still connects", c)
			}
			l.load(t, pod, policytest.NFT(l.rulesOf(pod, s.Policies)))
			if err := c.dial(); err != nil {
				t.Errorf("%s is refused once the rule is back: %v", c, err)
			}
		})
	}
}

// dropRule copies policies without the one rule of a policy selecting pod
// that admits peer, in its ingress or its egress; the test fails unless
// there is exactly one such rule, as the suggestion writes one per peer.
func dropRule(t *testing.T, policies []*networkingv1.NetworkPolicy, pod, peer *labPod, egress bool) []*networkingv1.NetworkPolicy {
	t.Helper()
	admits := func(ns string, peers []networkingv1.NetworkPolicyPeer) bool {
		return slices.ContainsFunc(peers, func(p networkingv1.NetworkPolicyPeer) bool { return policytest.PeerSelects(p, ns, &peer.spec) })
	}
	out := make([]*networkingv1.NetworkPolicy, len(policies))
	dropped := 0
	for i, np := range policies {
		out[i] = np
		if np.Namespace != pod.spec.Namespace || !policytest.Selects(&np.Spec.PodSelector, pod.spec.Labels) {
			continue
		}
		np = np.DeepCopy()
		n := len(np.Spec.Ingress) + len(np.Spec.Egress)
		if egress {
			np.Spec.Egress = slices.DeleteFunc(np.Spec.Egress, func(r networkingv1.NetworkPolicyEgressRule) bool { return admits(np.Namespace, r.To) })
		} else {
			np.Spec.Ingress = slices.DeleteFunc(np.Spec.Ingress, func(r networkingv1.NetworkPolicyIngressRule) bool { return admits(np.Namespace, r.From) })
		}
		dropped += n - len(np.Spec.Ingress) - len(np.Spec.Egress)
		out[i] = np
	}
	if dropped != 1 {
		t.Fatalf("%d rules of %s's policies admit %s, want 1", dropped, pod.spec.Name, peer.spec.Name)
	}
	return out
}

// lab is the flows lab with the pods of one app.
type lab struct {
	*flowstest.Lab
	pods []*labPod
}

// newLab makes a lab and checks, once it is gone, that none of its pods'
// network namespaces (and so none of their rules) are left.
func newLab(t *testing.T) *lab {
	l := &lab{}
	t.Cleanup(func() { // runs after the lab's own cleanup
		for _, p := range l.pods {
			if _, err := os.Stat(filepath.Join("/run/netns", p.net.NS)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the network namespace of %s (%s) is left behind: %v", p.spec.Name, p.net.NS, err)
			}
		}
	})
	l.Lab = flowstest.NewLab(t)
	return l
}

func (l *lab) add(name, namespace string, labels map[string]string, ports []policytest.Port) *labPod {
	p := &labPod{net: l.AddPod(name)}
	p.spec = policytest.Pod{
		Name: name, Namespace: namespace, Labels: labels, Ports: ports,
		NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": namespace},
		Addrs:           []netip.Addr{p.net.IP, p.net.IP6},
	}
	l.pods = append(l.pods, p)
	return p
}

// rulesOf translates policies for every pod and keeps pod's rules.
func (l *lab) rulesOf(pod *labPod, policies []*networkingv1.NetworkPolicy) policytest.Rules {
	specs := make([]policytest.Pod, len(l.pods))
	for i, p := range l.pods {
		specs[i] = p.spec
	}
	return policytest.Translate(specs, policies)[slices.Index(l.pods, pod)]
}

// enforce loads each pod's rules into its network namespace.
func (l *lab) enforce(t *testing.T, policies []*networkingv1.NetworkPolicy) {
	for _, p := range l.pods {
		l.load(t, p, policytest.NFT(l.rulesOf(p, policies)))
	}
}

func (l *lab) load(t *testing.T, p *labPod, script string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "rules-*.nft")
	if err == nil {
		_, err = f.WriteString(script)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	p.net.Exec("nft", "-f", f.Name())
}

// listen starts an echo server on port of the pod's address, once.
func (p *labPod) listen(t *testing.T, port uint16) {
	if slices.Contains(p.listening, port) {
		return
	}
	p.listening = append(p.listening, port)
	ln := p.net.Listen(port, false)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed when the test ends
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
}

// dial connects, sends a line and reads it back. A refused call fails at
// once (the rules reset it); the timeouts only bound a broken lab.
func (c call) dial() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := c.from.net.DialContext(ctx, "tcp4", netip.AddrPortFrom(c.to.net.IP, c.port).String())
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	const msg = "hello\n"
	if _, err := io.WriteString(conn, msg); err != nil {
		return err
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	got, err := io.ReadAll(conn)
	if err == nil && string(got) != msg {
		err = fmt.Errorf("sent %q, got %q back", msg, got)
	}
	return err
}

// podPort is the port a flow reaches on its destination pod: the port a
// Service forwards it to, the container port a hostPort forwards it to,
// or the port dialled. 0 when not known.
func podPort(e model.Edge, to *labPod) uint16 {
	if e.TargetPort != 0 {
		return uint16(e.TargetPort)
	}
	if n, ok := to.hostPorts[uint16(e.Port)]; ok && e.Via == "" {
		return n
	}
	return uint16(e.Port)
}

// declaredPorts are the ports a workload's containers declare.
func declaredPorts(n *model.Node) []policytest.Port {
	var out []policytest.Port
	for _, c := range n.Workload.Containers {
		if c.Init {
			continue
		}
		for _, cp := range c.Ports {
			out = append(out, policytest.Port{Name: cp.Name, Number: uint16(cp.Port), Protocol: corev1.Protocol(cp.Protocol)})
		}
	}
	return out
}

// hostPorts maps the hostPorts of a workload's containers to their
// container ports.
func hostPorts(n *model.Node) map[uint16]uint16 {
	out := map[uint16]uint16{}
	for _, c := range n.Workload.Containers {
		for _, cp := range c.Ports {
			if cp.HostPort != 0 && !c.Init {
				out[uint16(cp.HostPort)] = uint16(cp.Port)
			}
		}
	}
	return out
}

// tcpPorts are the numbers of the TCP ports among ports.
func tcpPorts(ports []policytest.Port) []uint16 {
	var out []uint16
	for _, p := range ports {
		if (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) && !slices.Contains(out, p.Number) {
			out = append(out, p.Number)
		}
	}
	return out
}
