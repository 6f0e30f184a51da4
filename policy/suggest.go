package policy

import (
	"cmp"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/stridemap/stridemap/model"
)

// From says which flows a suggestion allows.
type From string

const (
	FromDeclared From = "declared" // what the manifests declare
	FromObserved From = "observed" // what was seen on the wire
	FromBoth     From = "both"     // either
)

// ParseFrom reads a --from value.
func ParseFrom(s string) (From, error) {
	switch f := From(s); f {
	case FromDeclared, FromObserved, FromBoth:
		return f, nil
	}
	return "", fmt.Errorf("--from %q: use declared, observed or both", s)
}

// Annotations the suggested policies carry, so a reviewer sees why each
// rule is there.
const (
	AnnotationFlows = "stridemap.io/flows" // one line per flow: edge ID and its evidence
	AnnotationNote  = "stridemap.io/note"  // what the rules assume
)

// namespaceNameLabel is the label the API server puts on every Namespace.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// Options narrow a suggestion.
type Options struct {
	From       From     // "" means FromBoth
	Namespaces []string // none: every namespace with workloads
}

// Format is a form a suggestion is written in.
type Format string

const (
	FormatKubernetes Format = "kubernetes" // networking.k8s.io/v1 NetworkPolicy
	FormatCilium     Format = "cilium"     // cilium.io/v2 CiliumNetworkPolicy
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatKubernetes, FormatCilium:
		return f, nil
	}
	return "", fmt.Errorf("--format %q: use kubernetes or cilium", s)
}

// Note is something a policy cannot express, and why. What one format
// cannot say another may (a host known by name only is a toFQDNs rule in
// Cilium's form), so a note names the format it holds for, or none when
// it holds for every format: Suggestion.NotesFor picks one format's.
type Note struct {
	Namespace string
	Subject   string // the edge, node or reference concerned
	Reason    string
	Format    Format // "" for every format
}

func (n Note) String() string { return n.Subject + ": " + n.Reason }

// Suggestion is the policies for a graph and what they leave out.
// Policies is its Kubernetes form; Cilium renders the same decisions as
// CiliumNetworkPolicies.
type Suggestion struct {
	Policies []*networkingv1.NetworkPolicy // by namespace, then name
	Notes    []Note                        // of every format: see NotesFor

	// plans are the workloads' rules in no format, each rendered by
	// every format, so no flow is decided twice.
	plans []*workloadPolicy
}

// NotesFor lists the notes that hold for format f.
func (s Suggestion) NotesFor(f Format) []Note {
	var out []Note
	for _, n := range s.Notes {
		if n.Format == "" || n.Format == f {
			out = append(out, n)
		}
	}
	return out
}

// Namespaces lists the namespaces that have policies, in order.
func (s Suggestion) Namespaces() []string {
	var out []string
	for _, p := range s.Policies {
		if len(out) == 0 || out[len(out)-1] != p.Namespace {
			out = append(out, p.Namespace)
		}
	}
	return out
}

// Suggest writes the policies that allow exactly the flows of g that
// opts selects.
func Suggest(g *model.Graph, opts Options) Suggestion {
	if opts.From == "" {
		opts.From = FromBoth
	}
	s := &suggester{
		g: g, opts: opts,
		byNS: map[string][]*model.Node{}, allByNS: map[string][]*model.Node{},
		stable: map[string]map[string]string{}, ungoverned: map[string]string{},
		selectors: map[string]*metav1.LabelSelector{}, policies: map[string]*workloadPolicy{},
		nodes: make(map[string]*model.Node, len(g.Nodes)),
	}
	s.index()
	for _, ns := range s.namespaces {
		s.out.Policies = append(s.out.Policies, defaultDeny(ns), dnsEgress(ns))
	}
	for _, e := range g.Edges {
		if s.wanted(e) {
			s.addFlow(e)
		}
	}
	for _, d := range g.Dangling {
		if n := s.nodes[d.From]; n != nil && s.inScope(n.Namespace) {
			s.note(n.Namespace, d.From+" => "+d.Target, "names a peer the manifests do not hold ("+d.Reason+"), so no rule allows it; at "+d.Evidence.Location())
		}
	}
	for _, ns := range s.namespaces {
		for _, n := range s.byNS[ns] {
			if p := s.policies[n.ID]; p != nil {
				s.out.plans = append(s.out.plans, p)
				if np := p.object(); np != nil {
					s.out.Policies = append(s.out.Policies, np)
				}
			}
		}
	}
	slices.SortStableFunc(s.out.Policies, func(a, b *networkingv1.NetworkPolicy) int {
		// Not "ns/name" as one string: "shop-data/…" sorts before "shop/…".
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return s.out
}

type suggester struct {
	g    *model.Graph
	opts Options
	// nodes finds a flow's ends by ID: g.Node scans every node, which per
	// flow made a whole cluster's suggestion quadratic.
	nodes      map[string]*model.Node
	namespaces []string
	byNS       map[string][]*model.Node // workloads in scope by namespace
	// allByNS holds every workload by namespace: a selector must tell a
	// workload from its neighbours whether or not they are in scope.
	allByNS map[string][]*model.Node
	// What is asked per flow is worked out once per workload, so a
	// suggestion for a whole cluster stays linear in its flows.
	stable     map[string]map[string]string // stable pod labels by node ID
	ungoverned map[string]string            // ungovernedBecause by node ID
	selectors  map[string]*metav1.LabelSelector
	policies   map[string]*workloadPolicy
	out        Suggestion
}

// index finds the workloads in scope and notes those no policy can govern.
func (s *suggester) index() {
	for i := range s.g.Nodes {
		n := &s.g.Nodes[i]
		s.nodes[n.ID] = n
		if n.Workload == nil {
			continue
		}
		s.allByNS[n.Namespace] = append(s.allByNS[n.Namespace], n)
		s.stable[n.ID] = stableLabels(n)
	}
	for i := range s.g.Nodes {
		n := &s.g.Nodes[i]
		if n.Workload != nil {
			s.ungoverned[n.ID] = s.ungovernedReason(n)
		}
		if n.Workload == nil || !s.inScope(n.Namespace) {
			continue
		}
		if len(s.byNS[n.Namespace]) == 0 {
			s.namespaces = append(s.namespaces, n.Namespace)
		}
		s.byNS[n.Namespace] = append(s.byNS[n.Namespace], n)
		if reason := s.ungovernedBecause(n); reason != "" {
			s.note(n.Namespace, n.ID, reason)
		}
	}
	slices.Sort(s.namespaces)
}

// ungovernedBecause says why no policy can govern a workload's pods
// alone, "" when one can.
func (s *suggester) ungovernedBecause(n *model.Node) string { return s.ungoverned[n.ID] }

func (s *suggester) ungovernedReason(n *model.Node) string {
	switch twins := s.twins(n); {
	case n.Workload.HostNetwork:
		return "runs in the host's network namespace (hostNetwork), where NetworkPolicies (and CiliumNetworkPolicies, whose endpointSelector picks pods, not nodes) do not apply; its flows are not governed by these policies"
	case len(s.stable[n.ID]) == 0:
		return "its pod template has no labels a policy could select it by (an empty podSelector would select every pod); add a label such as app: " + n.Name
	case len(twins) > 0:
		return "its pods carry the same labels as those of " + strings.Join(twins, ", ") + ", so no selector tells them apart; give each its own label"
	}
	return ""
}

func (s *suggester) inScope(ns string) bool {
	return len(s.opts.Namespaces) == 0 || slices.Contains(s.opts.Namespaces, ns)
}

func (s *suggester) wanted(e model.Edge) bool {
	switch s.opts.From {
	case FromDeclared:
		return e.Declared
	case FromObserved:
		return e.Observed
	}
	return e.Declared || e.Observed
}

func (s *suggester) note(ns, subject, reason string) {
	s.out.Notes = append(s.out.Notes, Note{Namespace: ns, Subject: subject, Reason: reason})
}

// noteFor notes what only format f cannot express.
func (s *suggester) noteFor(f Format, ns, subject, reason string) {
	s.out.Notes = append(s.out.Notes, Note{Namespace: ns, Subject: subject, Reason: reason, Format: f})
}

// addFlow adds the egress rule at the source and the ingress rule at the
// destination that one flow needs, or notes why it cannot be allowed.
func (s *suggester) addFlow(e model.Edge) {
	from, to := s.nodes[e.From], s.nodes[e.To]
	if from == nil || to == nil {
		return
	}
	fromIn := from.Workload != nil && s.inScope(from.Namespace)
	toIn := to.Workload != nil && s.inScope(to.Namespace)
	if !fromIn && !toIn {
		// An entry point to a gateway whose controller is not in the
		// manifests: said, not dropped in silence.
		for _, n := range []*model.Node{to, from} {
			if len(s.byNS[n.Namespace]) > 0 {
				s.note(n.Namespace, e.ID, "neither end is a workload of the manifests, so these policies neither allow nor deny it; the pods behind "+n.ID+" need policies of their own namespace")
				break
			}
		}
		return
	}
	ns := to.Namespace
	if fromIn {
		ns = from.Namespace
	}
	for _, n := range []*model.Node{from, to} {
		if n.Workload != nil && s.ungovernedBecause(n) != "" {
			s.note(ns, e.ID, n.ID+" cannot be selected by a policy (see its note); the flow is not allowed here")
			return
		}
	}
	ports, portNote := podPorts(e, to)
	if portNote != "" {
		s.note(ns, e.ID, portNote)
	}
	flow := flowLine(e)
	if toIn && to.Workload != nil {
		peer, ok := s.sourcePeer(from, to)
		if !ok {
			s.note(ns, e.ID, peer.notes[0].text)
			return
		}
		s.policyOf(to).add(networkingv1.PolicyTypeIngress, peer, ports, flow)
	}
	if fromIn {
		peer, ok := s.destinationPeer(from, to)
		if !ok {
			s.note(ns, e.ID, peer.notes[0].text)
			return
		}
		if peer.host != "" {
			s.noteFor(FormatKubernetes, ns, e.ID, fmt.Sprintf("goes to %s, a host known by name only: not expressible in Kubernetes NetworkPolicy, which admits addresses (ipBlock), not names (the Cilium form allows it with toFQDNs); at %s", peer.host, evidenceOf(e)))
		}
		s.policyOf(from).add(networkingv1.PolicyTypeEgress, peer, ports, flow)
	}
}

// target is who a rule admits, decided once for every format: the
// Kubernetes form's peer, or a host known by name only, which only the
// Cilium form can admit (toFQDNs); entry marks a peer from outside the
// known pods, which each format admits in its own way.
type target struct {
	peer  networkingv1.NetworkPolicyPeer // zero for a host
	host  string
	entry entry
	notes []line // what the rule assumes, per format
}

// entry is the sources from outside the pods of the manifests a rule
// admits; the Kubernetes form admits them all as every address, so one
// rule may hold both.
type entry int

const (
	fromInternet entry = 1 << iota
	fromGateway        // an Ingress or Gateway whose controller pods are unknown
)

// line is an annotation line, and the format it holds for ("" for all).
type line struct {
	text string
	only Format
}

// linesFor picks the lines of format f.
func linesFor(f Format, lines []line) []string {
	var out []string
	for _, l := range lines {
		if (l.only == "" || l.only == f) && !slices.Contains(out, l.text) {
			out = append(out, l.text)
		}
	}
	return out
}

func refused(reason string) (target, bool) {
	return target{notes: []line{{text: reason}}}, false
}

// sourcePeer is who an ingress rule admits for a flow from n, with what
// the rule assumes.
func (s *suggester) sourcePeer(n, dst *model.Node) (target, bool) {
	switch {
	case n.Workload != nil:
		return target{peer: s.workloadPeer(n, dst.Namespace)}, true
	case n.Type == model.Gateway && len(n.GatewayPods) > 0:
		// An Istio Gateway names its proxy pods by labels, in whatever
		// namespace they run.
		return target{peer: networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{},
			PodSelector:       &metav1.LabelSelector{MatchLabels: n.GatewayPods},
		}}, true
	case n.Type == model.Gateway:
		return target{peer: everyAddress(), entry: fromGateway, notes: []line{
			{fmt.Sprintf("the pods of %s (the ingress controller's) are not in the manifests, so the rule admits every address (ipBlock 0.0.0.0/0) on the entry port; narrow it to the controller's namespace and pods", n.ID), FormatKubernetes},
			{fmt.Sprintf("the pods of %s (the ingress controller's) are not in the manifests, so the rule admits the entities world (every address outside the cluster) and ingress (Cilium's own Ingress and Gateway proxy) on the entry port; a controller that runs as pods in the cluster is neither: admit its namespace and pods with fromEndpoints", n.ID), FormatCilium},
		}}, true
	case n.ID == model.InternetID:
		return target{peer: everyAddress(), entry: fromInternet, notes: []line{
			{"an entry point from the internet: the rule admits every address (ipBlock 0.0.0.0/0) on the entry port", FormatKubernetes},
			{"an entry point from the internet: the rule admits the entity world (every address outside the cluster) on the entry port", FormatCilium},
		}}, true
	}
	if cidr := hostCIDR(n.Name); cidr != "" {
		return target{peer: networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}}}, true
	}
	return refused("comes from " + n.ID + ", which no policy can name (ingress rules admit addresses, not names; Cilium has no fromFQDNs): not allowed")
}

// destinationPeer is what an egress rule admits for a flow to n.
func (s *suggester) destinationPeer(src, n *model.Node) (target, bool) {
	switch {
	case n.Workload != nil:
		return target{peer: s.workloadPeer(n, src.Namespace)}, true
	case n.Type == model.Gateway:
		return refused("goes to " + n.ID + ", whose pods are not in the manifests: no policy can select them")
	case n.ID == model.InternetID:
		return refused("goes to the internet at large, which names no host to admit: not allowed")
	}
	if cidr := hostCIDR(n.Name); cidr != "" {
		return target{peer: networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}}}, true
	}
	if !dnsName.MatchString(n.Name) {
		return refused("goes to " + n.ID + ", which is neither an address nor a DNS name: not allowed")
	}
	return target{host: n.Name}, true
}

// dnsName is what Cilium's toFQDNs matchName accepts.
var dnsName = regexp.MustCompile(`^([-a-zA-Z0-9_]+[.]?)+$`)

// workloadPeer selects n's pods, from a policy of namespace ns.
func (s *suggester) workloadPeer(n *model.Node, ns string) networkingv1.NetworkPolicyPeer {
	peer := networkingv1.NetworkPolicyPeer{PodSelector: s.selectorOf(n)}
	if n.Namespace != ns {
		peer.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: n.Namespace}}
	}
	return peer
}

// selectorOf selects n's pods by their stable labels, and leaves out the
// pods of another workload of the namespace whose labels hold all of
// them: a label only that workload has must be absent.
func (s *suggester) selectorOf(n *model.Node) *metav1.LabelSelector {
	if sel := s.selectors[n.ID]; sel != nil {
		return sel
	}
	own := s.stable[n.ID]
	sel := &metav1.LabelSelector{MatchLabels: own}
	s.selectors[n.ID] = sel
	var absent []string
	for _, other := range s.allByNS[n.Namespace] {
		if other.ID == n.ID {
			continue
		}
		theirs := s.stable[other.ID]
		if !holds(theirs, own) {
			continue
		}
		for _, k := range sortedKeys(theirs) {
			if _, mine := own[k]; !mine {
				if !slices.Contains(absent, k) {
					absent = append(absent, k)
				}
				break
			}
		}
	}
	slices.Sort(absent)
	for _, k := range absent {
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpDoesNotExist})
	}
	return sel
}

// twins lists the workloads of n's namespace with exactly n's stable
// labels: no selector tells their pods apart.
func (s *suggester) twins(n *model.Node) []string {
	own := s.stable[n.ID]
	var out []string
	for _, other := range s.allByNS[n.Namespace] {
		if other.ID != n.ID && len(own) == len(s.stable[other.ID]) && holds(own, s.stable[other.ID]) {
			out = append(out, other.ID)
		}
	}
	return out
}

func holds(set, subset map[string]string) bool {
	for k, v := range subset {
		if got, ok := set[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// stableLabels are a workload's pod template labels without those its
// controller adds per pod or per rollout.
func stableLabels(n *model.Node) map[string]string {
	out := map[string]string{}
	for k, v := range n.Workload.PodLabels {
		// A fingerprinted value is not the label's: selecting by it would
		// select nothing.
		if !model.IsControllerLabel(k) && !model.IsRedacted(v) {
			out[k] = v
		}
	}
	return out
}

func everyAddress() networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}
}

// hostCIDR is the block of one address when host is an IP, "" otherwise.
func hostCIDR(host string) string {
	ip := net.ParseIP(strings.Trim(host, "[]"))
	switch {
	case ip == nil:
		return ""
	case ip.To4() != nil:
		return ip.String() + "/32"
	}
	return ip.String() + "/128"
}

// podPorts are the ports a flow reaches on the destination's pods, named
// where the container names them. A flow whose port is not known admits
// every port the destination declares (or any port when it declares
// none), which the note says.
func podPorts(e model.Edge, to *model.Node) ([]networkingv1.NetworkPolicyPort, string) {
	number := e.Port
	if e.TargetPort != 0 {
		number = e.TargetPort
	}
	var declared []model.ContainerPort
	if to.Workload != nil {
		for _, c := range to.Workload.Containers {
			if !c.Init {
				declared = append(declared, c.Ports...)
			}
		}
	}
	if number == 0 {
		if len(declared) == 0 {
			return nil, "the port is not known and the destination declares none: the rule admits every port"
		}
		var out []networkingv1.NetworkPolicyPort
		for _, cp := range declared {
			out = append(out, policyPort(cp))
		}
		return out, "the port is not known: the rule admits every port the destination declares"
	}
	for _, cp := range declared {
		if cp.Port == number {
			return []networkingv1.NetworkPolicyPort{policyPort(cp)}, ""
		}
	}
	tcp := corev1.ProtocolTCP
	port := intstr.FromInt32(number)
	return []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}}, ""
}

func policyPort(cp model.ContainerPort) networkingv1.NetworkPolicyPort {
	protocol := corev1.ProtocolTCP
	if cp.Protocol != "" {
		protocol = corev1.Protocol(cp.Protocol)
	}
	port := intstr.FromInt32(cp.Port)
	if cp.Name != "" {
		port = intstr.FromString(cp.Name)
	}
	return networkingv1.NetworkPolicyPort{Protocol: &protocol, Port: &port}
}

// flowLine names a flow and where it was found, for the annotation.
func flowLine(e model.Edge) string { return e.ID + " " + evidenceOf(e) }

func evidenceOf(e model.Edge) string {
	var at []string
	for _, ev := range e.Evidence {
		if l := ev.Location(); l != "" && !slices.Contains(at, l) {
			at = append(at, l)
		}
	}
	if len(at) == 0 {
		return "(no evidence)"
	}
	return strings.Join(at, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
