// Package resolve names the ends of observed flows: which pod, and which
// workload, a socket belonged to, and which workloads stand behind a
// Service's ClusterIP. It needs no privileges: its inputs are a flow log
// and an inventory of Pods and Services (a "kubectl get pods,services -o
// json" dump, read by discover/manifests, or a live cluster).
//
// The local end of a flow is resolved by what the kernel knew of the
// socket, most reliable first:
//
//  0. the pod's name, when the flow log names it (Hubble does),
//  1. its cgroup path, which names the pod's UID (kubepods…/pod<UID>/…),
//  2. its network namespace: every socket of a namespace belongs to the
//     pod that owns it, learnt from the namespace's other sockets,
//  3. its address, through the pods' IPs.
//
// The remote end is resolved by the accepting side when it was observed
// too, else by address: a ClusterIP becomes the Service's backends
// (confirmed by the accepting side: the client's socket still shows the
// ClusterIP after kube-proxy rewrote the packets), a pod IP the pod that
// accepted, else the pod the inventory gives that address, and anything
// else an external peer. A connection seen from both ends is counted once.
//
// Pods with a mesh sidecar (Istio's envoy, Linkerd's linkerd2-proxy) carry
// each call twice: the application's connection ends at its own proxy,
// which iptables captured it for, and the proxy's own connection crosses
// the network, to the other pod's proxy on a capture port. The
// application's flow keeps the call's Service and protocol, but its first
// bytes are not what went on the wire, so its encryption is left unsaid,
// and its connections never left the pod, so they are not counted. The
// proxies' flow carries the verdict (mTLS shows as TLS), on the pod port,
// and the accepting proxy's capture port is not taken for the port called.
// The hops inside a pod have a loopback address at one end (iptables hands
// a captured call to the proxy on 127.0.0.1, Istio's proxy hands an
// inbound call to the application from 127.0.0.6): like every connection
// with a loopback end, they are counted inside one pod, not resolved.
package resolve

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/flows"
)

// Owner is one link of a pod's ownership chain.
type Owner struct {
	Kind string
	Name string
}

// Endpoint is one resolved end of a flow: a pod and its owners, or an
// external address.
type Endpoint struct {
	Namespace string
	// Owners runs from the top controller down to the pod, e.g.
	// Deployment cart, ReplicaSet cart-5d8f, Pod cart-5d8f-x2x; empty for
	// an external peer.
	Owners []Owner
	// External is the peer's address when no pod has it.
	External string
}

// Workload is the top owner ("Deployment shop/cart"), or the external
// address.
func (e Endpoint) Workload() string {
	if len(e.Owners) == 0 {
		return "external " + e.External
	}
	return e.Owners[0].Kind + " " + e.Namespace + "/" + e.Owners[0].Name
}

// Flow is an observed flow with both ends resolved.
type Flow struct {
	From, To Endpoint
	// Port is the port the client dialled: the Service's port when it
	// dialled a ClusterIP.
	Port uint16
	// Via is the Service dialled ("Service shop/cart"), if any, and
	// Confirmed says whether the accepting side showed which backend
	// served it.
	Via       string
	Confirmed bool
	// Counts and bytes, from the client's point of view.
	Connections, Failed      uint64
	BytesSent, BytesReceived uint64
	FirstSeen, LastSeen      time.Time
	// Protocols and Encryption count connections by what their first
	// bytes showed (flows.Classify).
	Protocols, Encryption map[string]uint64
	// Unclassified: no side classified the flow, and a side was observed
	// without payload peeking (flows.Flow.Unclassified).
	Unclassified bool
	// Evidence are the observed flows this one comes from, one line each.
	Evidence []string
}

// Protocol is the protocol most connections spoke, "" when none was
// recognised. TLS only counts when nothing inside it was recognised.
func (f *Flow) Protocol() string {
	best, n := "", uint64(0)
	for p, c := range f.Protocols {
		if p != flows.ProtoTLS && (c > n || c == n && p < best) {
			best, n = p, c
		}
	}
	if best == "" && f.Protocols[flows.ProtoTLS] > 0 {
		return flows.ProtoTLS
	}
	return best
}

// Encrypted is the encryption verdict: plaintext when any connection was
// seen in clear, TLS when every classified one was TLS, else "".
func (f *Flow) Encrypted() string {
	switch {
	case f.Encryption[flows.EncryptionPlaintext] > 0:
		return flows.EncryptionPlaintext
	case f.Encryption[flows.EncryptionTLS] > 0:
		return flows.EncryptionTLS
	}
	return ""
}

// classifiedBy takes the classification of the observed flows that make
// this one, preferring the client's view.
func (f *Flow) classifiedBy(sides ...*flows.Flow) {
	f.Unclassified = false
	for _, s := range sides {
		if len(s.Protocols) > 0 || len(s.Encryption) > 0 {
			f.Protocols, f.Encryption = s.Protocols, s.Encryption
			return
		}
		f.Unclassified = f.Unclassified || s.Unclassified
	}
}

// meshProxies are the process names (comm) of mesh sidecars.
var meshProxies = []string{"envoy", "linkerd2-proxy"}

// meshCapturePorts are where sidecars receive what iptables captured:
// Istio's inbound and outbound, Linkerd's inbound and outbound.
var meshCapturePorts = []uint16{15006, 15001, 4143, 4140}

func isMeshProxy(f *flows.Flow) bool { return slices.Contains(meshProxies, f.Comm) }

// withinPod: a connection with a loopback address at either end, or the
// same address at both, never left its network namespace.
func withinPod(f *flows.Flow) bool {
	return f.Local.IsLoopback() || f.Remote.IsLoopback() || f.Local == f.Remote
}

// capturedByProxy: a connection a sidecar accepted on a capture port, whose
// real port only the client's side knows.
func capturedByProxy(s *flows.Flow) bool {
	return s.Role == flows.RoleServer && isMeshProxy(s) && slices.Contains(meshCapturePorts, s.Port)
}

// serves says whether server-side flow s is the accepting side of client
// flow c's connections to a pod address.
func serves(s, c *flows.Flow) bool {
	return s.Local == c.Remote && (s.Port == c.Port || capturedByProxy(s))
}

// Report says how resolution went.
type Report struct {
	Flows     int // observed flows read
	Resolved  int // resolved flows produced
	Loopback  int // flows inside one network namespace (see withinPod), not between elements
	Confirmed int // server-side flows that confirmed a client's
	// External counts flows with one end that is no known pod.
	External int
	// Unknown counts flows neither of whose ends is a known pod (a node's
	// own processes talking to the world): not part of the architecture,
	// and left out.
	Unknown int
	// Intercepted counts application flows that ended at their pod's own
	// mesh proxy: their encryption on the wire is the proxy's flow's.
	Intercepted int
	// Captured counts connections a mesh proxy accepted on a capture port
	// from a client that was not observed: the port called is unknown, so
	// they are left out.
	Captured int
}

type pod struct {
	ns, name, uid string
	ips           []netip.Addr
	hostNetwork   bool
	running       bool
	labels        map[string]string
	ports         []corev1.ContainerPort
	owners        []Owner
}

type service struct {
	ns, name string
	ports    []corev1.ServicePort
	backends []*pod
}

// Resolver resolves flows against one inventory.
type Resolver struct {
	byUID      map[string]*pod
	byName     map[string]*pod       // "namespace/name"
	byIP       map[netip.Addr][]*pod // pods with their own network namespace
	hostByIP   map[netip.Addr][]*pod // hostNetwork pods, by node address
	clusterIPs map[netip.Addr]*service
}

// New indexes the Pods and Services of an inventory; ReplicaSets, Jobs
// and CronJobs, when present, complete the ownership chains.
func New(objects []*discover.Object) *Resolver {
	r := &Resolver{byUID: map[string]*pod{}, byName: map[string]*pod{}, byIP: map[netip.Addr][]*pod{}, hostByIP: map[netip.Addr][]*pod{}, clusterIPs: map[netip.Addr]*service{}}
	owners := map[string][]Owner{} // "Kind ns/name" → that object's own owners
	var pods []*corev1.Pod
	var services []*corev1.Service
	for _, obj := range objects {
		switch o := obj.Typed.(type) {
		case *corev1.Pod:
			pods = append(pods, o)
		case *corev1.Service:
			services = append(services, o)
		default:
			if refs := controllerOf(obj); refs != nil {
				owners[obj.Kind+" "+obj.Namespace+"/"+obj.Name] = refs
			}
		}
	}
	byNamespace := map[string][]*pod{}
	for _, o := range pods {
		p := &pod{ns: o.Namespace, name: o.Name, uid: string(o.UID), hostNetwork: o.Spec.HostNetwork, labels: o.Labels,
			running: o.Status.Phase == "" || o.Status.Phase == corev1.PodRunning || o.Status.Phase == corev1.PodPending}
		for _, c := range o.Spec.Containers {
			p.ports = append(p.ports, c.Ports...)
		}
		for _, ip := range append([]corev1.PodIP{{IP: o.Status.PodIP}}, o.Status.PodIPs...) {
			if a, err := netip.ParseAddr(ip.IP); err == nil && !slices.Contains(p.ips, a) {
				p.ips = append(p.ips, a)
			}
		}
		p.owners = ownerChain(o, owners)
		if p.uid != "" {
			r.byUID[p.uid] = p
		}
		r.byName[p.ns+"/"+p.name] = p
		for _, ip := range p.ips {
			if p.hostNetwork {
				r.hostByIP[ip] = append(r.hostByIP[ip], p)
			} else {
				r.byIP[ip] = append(r.byIP[ip], p)
			}
		}
		byNamespace[p.ns] = append(byNamespace[p.ns], p)
	}
	for _, o := range services {
		s := &service{ns: o.Namespace, name: o.Name, ports: o.Spec.Ports}
		if len(o.Spec.Selector) > 0 {
			sel := labels.SelectorFromSet(o.Spec.Selector)
			for _, p := range byNamespace[o.Namespace] {
				if sel.Matches(labels.Set(p.labels)) {
					s.backends = append(s.backends, p)
				}
			}
		}
		for _, ip := range append([]string{o.Spec.ClusterIP}, o.Spec.ClusterIPs...) {
			if a, err := netip.ParseAddr(ip); err == nil {
				r.clusterIPs[a] = s
			}
		}
	}
	return r
}

// controllerOf returns the controller owner of a workload object as a
// one-element chain, an empty chain when it has none, or nil when obj is
// not a Kubernetes object with owners.
func controllerOf(obj *discover.Object) []Owner {
	o, ok := obj.Typed.(metav1.Object)
	if !ok {
		return nil
	}
	for _, r := range o.GetOwnerReferences() {
		if r.Controller != nil && *r.Controller {
			return []Owner{{Kind: r.Kind, Name: r.Name}}
		}
	}
	return []Owner{}
}

// cronJobSuffix matches the scheduled-time suffix a CronJob gives its Jobs.
var cronJobSuffix = regexp.MustCompile(`^(.+)-[0-9]{8,}$`)

// ownerChain walks a pod's controllers up to the top: through the
// inventory's objects when it has them, else by Kubernetes' naming rules.
func ownerChain(o *corev1.Pod, owners map[string][]Owner) []Owner {
	chain := []Owner{{Kind: "Pod", Name: o.Name}}
	var ref *Owner
	for _, r := range o.OwnerReferences {
		if r.Controller != nil && *r.Controller {
			ref = &Owner{Kind: r.Kind, Name: r.Name}
		}
	}
	for seen := 0; ref != nil && seen < 5; seen++ {
		chain = append([]Owner{*ref}, chain...)
		next, known := owners[ref.Kind+" "+o.Namespace+"/"+ref.Name]
		switch {
		case known && len(next) > 0:
			ref = &next[0]
		case known:
			ref = nil
		case ref.Kind == "ReplicaSet" && o.Labels["pod-template-hash"] != "" && strings.HasSuffix(ref.Name, "-"+o.Labels["pod-template-hash"]):
			ref = &Owner{Kind: "Deployment", Name: strings.TrimSuffix(ref.Name, "-"+o.Labels["pod-template-hash"])}
			chain = append([]Owner{*ref}, chain...)
			ref = nil
		case ref.Kind == "Job" && cronJobSuffix.MatchString(ref.Name):
			ref = &Owner{Kind: "CronJob", Name: cronJobSuffix.FindStringSubmatch(ref.Name)[1]}
			chain = append([]Owner{*ref}, chain...)
			ref = nil
		default:
			ref = nil
		}
	}
	return chain
}

func (p *pod) endpoint() Endpoint { return Endpoint{Namespace: p.ns, Owners: p.owners} }

func (p *pod) String() string { return "Pod " + p.ns + "/" + p.name }

// podUID finds the pod UID in a cgroup path: cgroupfs drivers write
// ".../pod<uid>/<container>", systemd ones ".../kubepods-…-pod<uid_with_underscores>.slice/…".
var podUID = regexp.MustCompile(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})`)

func (r *Resolver) byCgroup(path string) *pod {
	m := podUID.FindStringSubmatch(path)
	if m == nil {
		return nil
	}
	return r.byUID[strings.ReplaceAll(m[1], "_", "-")]
}

// byAddr finds the pod with an address. Among several (an address reused
// by a pod that has ended) it prefers running pods, then one declaring
// port; ambiguity resolves to nothing. Host-network pods share their node's
// address, so one is chosen only by the port it declares.
func (r *Resolver) byAddr(a netip.Addr, port uint16) *pod {
	if p := pick(r.byIP[a], port, false); p != nil {
		return p
	}
	return pick(r.hostByIP[a], port, true)
}

func pick(candidates []*pod, port uint16, needPort bool) *pod {
	if len(candidates) == 0 {
		return nil
	}
	var running []*pod
	for _, p := range candidates {
		if p.running {
			running = append(running, p)
		}
	}
	if len(running) == 0 {
		running = candidates
	}
	if len(running) == 1 && !needPort {
		return running[0]
	}
	var declaring []*pod
	for _, p := range running {
		if p.declares(port) {
			declaring = append(declaring, p)
		}
	}
	if len(declaring) == 1 {
		return declaring[0]
	}
	return nil
}

func (p *pod) declares(port uint16) bool {
	if port == 0 {
		return false
	}
	for _, cp := range p.ports {
		if cp.ContainerPort == int32(port) || cp.HostPort == int32(port) {
			return true
		}
	}
	return false
}

// targetPort is the port a backend pod serves a Service port on; 0 when a
// named port is not declared by the pod.
func (p *pod) targetPort(sp corev1.ServicePort) uint16 {
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, cp := range p.ports {
			if cp.Name == sp.TargetPort.StrVal {
				return uint16(cp.ContainerPort)
			}
		}
		return 0
	case sp.TargetPort.IntVal != 0:
		return uint16(sp.TargetPort.IntVal)
	}
	return uint16(sp.Port)
}

type netnsKey struct {
	node  string
	netns uint32
}

// Resolve resolves flows, which may come from several nodes.
func (r *Resolver) Resolve(fl []flows.Flow) ([]Flow, Report) {
	rep := Report{Flows: len(fl)}
	// Learn which pod owns each network namespace. A namespace that
	// several pods seem to own is the host's: never resolved by namespace.
	owner := map[netnsKey]*pod{}
	shared := map[netnsKey]bool{}
	for _, f := range fl {
		p := r.byCgroup(f.Cgroup)
		if p == nil && !f.Local.IsLoopback() {
			if cands := r.byIP[f.Local]; len(cands) == 1 {
				p = cands[0]
			}
		}
		if p == nil || p.hostNetwork || f.Netns == 0 {
			continue // 0: the source did not say (Hubble)
		}
		k := netnsKey{f.Node, f.Netns}
		if prev, ok := owner[k]; ok && prev != p {
			shared[k] = true
		}
		owner[k] = p
	}
	// Namespaces where a mesh proxy runs: the other processes' calls are
	// captured by it.
	proxied := map[netnsKey]bool{}
	for i := range fl {
		if f := &fl[i]; f.Netns != 0 && isMeshProxy(f) {
			proxied[netnsKey{f.Node, f.Netns}] = true
		}
	}
	local := func(f *flows.Flow) *pod {
		if p := r.byName[f.LocalPod]; p != nil {
			return p
		}
		if p := r.byCgroup(f.Cgroup); p != nil {
			return p
		}
		k := netnsKey{f.Node, f.Netns}
		if p := owner[k]; p != nil && !shared[k] && f.Netns != 0 {
			return p
		}
		if f.Role == flows.RoleServer {
			return r.byAddr(f.Local, f.Port)
		}
		return r.byAddr(f.Local, 0)
	}
	endpoint := func(p *pod, a netip.Addr) Endpoint {
		if p == nil {
			return Endpoint{External: a.String()}
		}
		return p.endpoint()
	}

	// Server-side flows by client address, to confirm and de-duplicate.
	servers := map[netip.Addr][]int{}
	for i, f := range fl {
		if f.Role == flows.RoleServer && !withinPod(&f) {
			servers[f.Remote] = append(servers[f.Remote], i)
		}
	}
	used := make([]bool, len(fl))
	var out []Flow
	for i := range fl {
		c := &fl[i]
		if c.Role != flows.RoleClient {
			continue
		}
		if withinPod(c) {
			rep.Loopback++
			continue
		}
		from := endpoint(local(c), c.Local)
		base := Flow{From: from, Port: c.Port, Connections: c.Opened, Failed: c.Failed, BytesSent: c.BytesSent, BytesReceived: c.BytesReceived,
			FirstSeen: c.FirstSeen, LastSeen: c.LastSeen, Evidence: []string{evidence(c)}}
		if c.Netns != 0 && proxied[netnsKey{c.Node, c.Netns}] && !isMeshProxy(c) {
			// Captured by the pod's own proxy: its connections never left
			// the pod (the proxy's are counted), and what it sent is not
			// what went on the wire.
			rep.Intercepted++
			c = interceptedView(c)
			base.Connections, base.Failed, base.BytesSent, base.BytesReceived = 0, 0, 0, 0
		}
		if svc := r.clusterIPs[c.Remote]; svc != nil {
			out = append(out, r.viaService(c, svc, base, fl, servers[c.Local], used, local, &rep)...)
			continue
		}
		// The accepting side, when observed, knows its pod better than
		// the address does (by cgroup or namespace): addresses are
		// recycled, and an inventory may be stale.
		to := r.byName[c.RemotePod]
		for _, j := range servers[c.Local] {
			s := &fl[j]
			if !used[j] && serves(s, c) {
				used[j] = true
				rep.Confirmed++
				base.Evidence = append(base.Evidence, evidence(s))
				if to == nil {
					to = local(s)
				}
			}
		}
		if to == nil {
			to = r.byAddr(c.Remote, c.Port)
		}
		base.To = endpoint(to, c.Remote)
		sides := []*flows.Flow{c}
		for _, j := range servers[c.Local] {
			if s := &fl[j]; used[j] && serves(s, c) {
				sides = append(sides, s)
			}
		}
		base.classifiedBy(sides...)
		out = append(out, base)
	}
	// Accepted connections whose client was not observed: from another
	// node without an observer, or from outside the cluster.
	for i := range fl {
		s := &fl[i]
		if s.Role != flows.RoleServer || used[i] {
			continue
		}
		if withinPod(s) {
			rep.Loopback++
			continue
		}
		if capturedByProxy(s) {
			rep.Captured++
			continue
		}
		from := r.byName[s.RemotePod]
		if from == nil {
			from = r.byAddr(s.Remote, 0)
		}
		f := Flow{
			From: endpoint(from, s.Remote), To: endpoint(local(s), s.Local), Port: s.Port,
			Connections: s.Opened, BytesSent: s.BytesReceived, BytesReceived: s.BytesSent,
			FirstSeen: s.FirstSeen, LastSeen: s.LastSeen, Evidence: []string{evidence(s)},
		}
		f.classifiedBy(s)
		out = append(out, f)
	}
	out = slices.DeleteFunc(out, func(f Flow) bool {
		if len(f.From.Owners) == 0 && len(f.To.Owners) == 0 {
			rep.Unknown++
			return true
		}
		return false
	})
	slices.SortFunc(out, func(a, b Flow) int {
		return cmp.Or(cmp.Compare(a.From.Workload(), b.From.Workload()), cmp.Compare(a.To.Workload(), b.To.Workload()), cmp.Compare(a.Port, b.Port))
	})
	for _, f := range out {
		if len(f.From.Owners) == 0 || len(f.To.Owners) == 0 {
			rep.External++
		}
	}
	rep.Resolved = len(out)
	return out, rep
}

// viaService resolves a client flow to a ClusterIP: to the backends that
// the accepting side shows served it, else to every backend's workload.
func (r *Resolver) viaService(c *flows.Flow, svc *service, base Flow, fl []flows.Flow, candidates []int, used []bool, local func(*flows.Flow) *pod, rep *Report) []Flow {
	base.Via = "Service " + svc.ns + "/" + svc.name
	var sp *corev1.ServicePort
	for i := range svc.ports {
		if uint16(svc.ports[i].Port) == c.Port && (svc.ports[i].Protocol == "" || svc.ports[i].Protocol == corev1.ProtocolTCP) {
			sp = &svc.ports[i]
		}
	}
	// Confirmed backends, grouped by workload.
	type target struct {
		ep    Endpoint
		flows []*flows.Flow
	}
	var confirmed []*target
	if sp != nil {
		for _, j := range candidates {
			s := &fl[j]
			if used[j] {
				continue
			}
			p := local(s)
			if p == nil || !slices.Contains(svc.backends, p) || p.targetPort(*sp) != s.Port || !slices.Contains(p.ips, s.Local) {
				continue
			}
			used[j] = true
			rep.Confirmed++
			ep := p.endpoint()
			i := slices.IndexFunc(confirmed, func(t *target) bool { return t.ep.Workload() == ep.Workload() })
			if i < 0 {
				confirmed = append(confirmed, &target{ep: ep})
				i = len(confirmed) - 1
			}
			confirmed[i].flows = append(confirmed[i].flows, s)
		}
	}
	switch {
	case len(confirmed) == 1:
		// One workload served it: the client's own counts are complete.
		f := base
		f.To, f.Confirmed = confirmed[0].ep, true
		for _, s := range confirmed[0].flows {
			f.Evidence = append(f.Evidence, evidence(s))
		}
		f.classifiedBy(append([]*flows.Flow{c}, confirmed[0].flows...)...)
		return []Flow{f}
	case len(confirmed) > 1:
		// Several workloads behind one Service: each gets what its side saw.
		var out []Flow
		for _, t := range confirmed {
			f := base
			f.To, f.Confirmed = t.ep, true
			f.Connections, f.BytesSent, f.BytesReceived, f.Failed = 0, 0, 0, 0
			f.Evidence = slices.Clone(base.Evidence)
			for _, s := range t.flows {
				f.Connections += s.Opened
				f.BytesSent += s.BytesReceived
				f.BytesReceived += s.BytesSent
				f.Evidence = append(f.Evidence, evidence(s))
			}
			f.classifiedBy(t.flows...)
			out = append(out, f)
		}
		return out
	}
	// Not confirmed: every workload the Service selects may have served it.
	var out []Flow
	seen := map[string]bool{}
	for _, p := range svc.backends {
		ep := p.endpoint()
		if seen[ep.Workload()] {
			continue
		}
		seen[ep.Workload()] = true
		f := base
		f.To = ep
		f.classifiedBy(c)
		out = append(out, f)
	}
	if len(out) == 0 {
		// A Service without backends in the inventory: keep the flow, to
		// the Service's address.
		f := base
		f.To = Endpoint{External: c.Remote.String()}
		f.classifiedBy(c)
		out = append(out, f)
	}
	return out
}

// interceptedView is a client flow as seen when a mesh proxy captured it:
// its protocol stands, its encryption verdict does not.
func interceptedView(c *flows.Flow) *flows.Flow {
	v := *c
	v.Encryption = nil
	return &v
}

// evidence describes one observed flow, the way a reviewer checks it.
func evidence(f *flows.Flow) string {
	var b strings.Builder
	if f.Node != "" {
		fmt.Fprintf(&b, "node %s ", f.Node)
	}
	fmt.Fprintf(&b, "netns %d", f.Netns)
	if f.Comm != "" {
		fmt.Fprintf(&b, " %s (pid %d)", f.Comm, f.PID)
	}
	if f.Role == flows.RoleServer {
		fmt.Fprintf(&b, ": accepted %d connection(s) on %s from %s", f.Opened, netip.AddrPortFrom(f.Local, f.Port), f.Remote)
	} else {
		fmt.Fprintf(&b, ": %d connection(s) from %s to %s", f.Opened, f.Local, netip.AddrPortFrom(f.Remote, f.Port))
	}
	if f.Failed > 0 {
		fmt.Fprintf(&b, ", %d failed", f.Failed)
	}
	return b.String()
}
