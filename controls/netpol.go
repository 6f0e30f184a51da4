package controls

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
	"github.com/stridemap/stridemap/model"
)

// Workload controls derived from the verdicts: whether who may connect to
// (or be reached from) a workload is narrowed by policy at all. A policy
// that only admits "every pod of the namespace" or "every pod of the
// cluster" selects the workload but restricts nothing, so it does not count.
const (
	NetworkPolicyIngressRestricted = "network-policy-ingress-restricted"
	NetworkPolicyEgressRestricted  = "network-policy-egress-restricted"
)

// Controls of NetworkPolicies (and Cilium and Calico policies) that hold
// whatever the flows: a policy selects the workload, or selects every pod
// of a namespace and admits nothing.
const (
	NetworkPolicy                   = "network-policy"
	NetworkPolicyDefaultDenyIngress = "network-policy-default-deny-ingress"
	NetworkPolicyDefaultDenyEgress  = "network-policy-default-deny-egress"
)

// namespaceNameLabel is the label the API server puts on every Namespace.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// Groups and kinds of the CNI-specific policies read as unstructured objects.
const (
	ciliumGroup        = "cilium.io"
	calicoGroup        = "projectcalico.org"
	calicoCRDGroup     = "crd.projectcalico.org"
	ciliumNamespaceKey = "io.kubernetes.pod.namespace"
	ciliumNSLabelsKey  = "io.cilium.k8s.namespace.labels."
	// ciliumServiceAccountKey is the label Cilium gives a pod's service
	// account.
	ciliumServiceAccountKey = "io.cilium.k8s.policy.serviceaccount"
	calicoNamespaceKey      = "projectcalico.org/namespace"
	calicoNSNameKey         = "projectcalico.org/name"
	calicoSAKey             = "projectcalico.org/serviceaccount"
)

// direction is the side of a flow a policy governs.
type policyDirection int

const (
	dirIngress policyDirection = iota
	dirEgress
)

func (d policyDirection) String() string {
	if d == dirEgress {
		return "egress"
	}
	return "ingress"
}

// endpoint is one end of a flow as policies see it: a pod's labels and its
// namespace's labels. known is false when the pods are not in the
// manifests (the controller behind an Ingress or Gateway, a hostNetwork pod
// whose traffic leaves from the node's address).
type policyEndpoint struct {
	id       string
	known    bool
	external bool // an address outside the cluster: only ipBlocks may admit it
	gateway  bool // a gateway's controller, whose pods are unknown
	ns       string
	labels   map[string]string
	nsLabels map[string]string
	sa       string
}

// policyPort is the port a flow reaches on the destination pod, which is
// what policies name: a Service's port is translated to its targetPort
// first (model.PodPort).
type policyPort struct {
	known    bool
	number   int32
	name     string // the container port's name, for policies that name ports
	protocol string // TCP, UDP, SCTP
}

func (p policyPort) String() string {
	switch {
	case !p.known:
		return "an unknown port"
	case p.name != "":
		return fmt.Sprintf("port %d (%s)", p.number, p.name)
	}
	return fmt.Sprintf("port %d", p.number)
}

func podPortOf(ix *model.Index, e *model.Edge, dst *model.IndexedWorkload) policyPort {
	p, ok := ix.PodPort(e, dst)
	return policyPort{known: ok, number: p.Number, name: p.Name, protocol: p.Protocol}
}

// labelMatch reports whether a label set matches a selector.
type labelMatch func(map[string]string) bool

func matchAnyLabels(map[string]string) bool { return true }
func matchNoLabels(map[string]string) bool  { return false }

// policyPeer is one "from" (ingress) or "to" (egress) entry of a rule.
type policyPeer struct {
	match func(ep *policyEndpoint, policyNS string) bool
	// otherNamespaces says the peer may admit pods outside the policy's
	// namespace: an endpoint whose pods are unknown (an ingress
	// controller, usually in a namespace of its own) is assumed to match
	// such a peer, and no other.
	otherNamespaces bool
	// everyPod says the peer admits every pod of the policy's namespace,
	// or of the cluster: it selects but restricts nothing.
	everyPod bool
	external bool // ipBlock, CIDR, world: never a known pod
	// everyAddress marks an ipBlock of every address (0.0.0.0/0 or ::/0,
	// nothing excepted): it admits a source whose pods are unknown, since
	// whatever its address, the block holds it.
	everyAddress bool
	// world admits every address outside the cluster (Cilium's entity
	// world, or a CIDR of every address, which in Cilium never matches
	// the cluster's pods): the internet and external hosts, no pod.
	world bool
	// ingressProxy is Cilium's entity ingress, the Envoy of Cilium's own
	// Ingress and Gateway: a gateway whose controller's pods are unknown
	// is assumed to be it.
	ingressProxy bool
}

// policyRule is one ingress or egress rule.
type policyRule struct {
	allPeers bool         // no peers listed: every source or destination
	peers    []policyPeer // otherwise, any of these
	ports    []portMatch  // none: every port
	action   string       // "allow", "deny", or "" for Calico Log/Pass (no verdict)
	field    string       // where the rule is: "spec.ingress[0]"
}

// portMatch is one entry of a rule's ports.
type portMatch struct {
	protocol string // "" for any
	number   int32  // 0 for any, unless name is set
	end      int32  // last port of a range, 0 for a single port
	name     string // a named container port
}

// netPolicy is a NetworkPolicy, CiliumNetworkPolicy or Calico policy in the
// one form the verdicts need.
type netPolicy struct {
	obj       *discover.Object
	namespace string // "" for cluster-wide policies
	selects   func(ep *policyEndpoint) bool
	field     string  // where the pod selector is
	applies   [2]bool // ingress, egress
	rules     [2][]policyRule
	// ordered policies (Calico) decide by their first matching rule;
	// others admit a flow when any rule admits it.
	ordered bool
	// allowByDefault is Cilium's enableDefaultDeny set to false for a
	// direction: the policy's rules apply, but it does not put the pod in
	// default deny, so what no policy denies passes unless another policy
	// selecting the pod does.
	allowByDefault [2]bool
	// requires is a label a pod must carry to be selected, when the pod
	// selector names one (in a NetworkPolicy's or Cilium endpoint
	// selector's matchLabels, or a Calico selector's "key == 'value'");
	// requiresLabel says whether it does. seq is the order the policy was
	// read in.
	requires      podLabel
	requiresLabel bool
	seq           int
}

// podLabel is one label of pods in one namespace.
type podLabel struct{ namespace, key, value string }

func (p *netPolicy) evidence(field, detail string) model.Evidence {
	return model.Evidence{File: p.obj.Location.File, Line: p.obj.LineOf(field), Object: p.obj.Ref(), Field: field, Detail: detail}
}

// policyIndex holds the policies by namespace, so that finding the policies
// of a workload looks only at its own namespace and the cluster-wide ones.
type policyIndex struct {
	byNamespace map[string][]*netPolicy
	// byLabel holds the namespaced policies that require a label under
	// that label, and anyLabels the other namespaced ones, so a pod is
	// tried against the policies under one of its labels rather than every
	// policy of its namespace: a namespace with a policy per workload stays
	// linear.
	byLabel     map[podLabel][]*netPolicy
	anyLabels   map[string][]*netPolicy
	read        int // policies added so far
	clusterWide []*netPolicy
	cni         []*netPolicy // the Cilium and Calico ones, in the order read
	nsLabels    map[string]map[string]string
}

// addNetworkPolicyPresence records the workloads each Kubernetes
// NetworkPolicy selects, and namespaces whose default is deny.
// addCNIPolicyControls does the same for Cilium and Calico policies.
func addNetworkPolicyPresence(ix *model.Index) {
	for _, obj := range ix.TypedObjects() {
		o, ok := obj.Typed.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		ev := model.Evidence{File: obj.Location.File, Line: obj.LineOf("spec.podSelector"), Object: obj.Ref(), Field: "spec.podSelector"}
		for _, w := range selectWorkloads(ix, obj.Namespace, &o.Spec.PodSelector) {
			ix.AddControl(NetworkPolicy, w.ID, ev)
		}
		if len(o.Spec.PodSelector.MatchLabels) > 0 || len(o.Spec.PodSelector.MatchExpressions) > 0 {
			continue
		}
		types := o.Spec.PolicyTypes
		if len(types) == 0 {
			types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		}
		for _, t := range types {
			switch {
			case t == networkingv1.PolicyTypeIngress && len(o.Spec.Ingress) == 0:
				ev.Detail = "selects every pod and allows no ingress"
				ix.AddControl(NetworkPolicyDefaultDenyIngress, model.NamespaceBoundaryID(obj.Namespace), ev)
			case t == networkingv1.PolicyTypeEgress && len(o.Spec.Egress) == 0:
				ev.Detail = "selects every pod and allows no egress"
				ix.AddControl(NetworkPolicyDefaultDenyEgress, model.NamespaceBoundaryID(obj.Namespace), ev)
			}
		}
	}
}

// addNetworkPolicyVerdicts evaluates NetworkPolicies (and Cilium/Calico
// policies) for every in-cluster flow whose destination is a workload, as
// the API defines them: a flow needs the destination's ingress policies and
// the source's egress policies to admit it. It sets Edge.Policy and
// PolicyEvidence, and records which workloads have their ingress or egress
// narrowed at all. Flows from the internet and to hosts outside the
// cluster keep an empty verdict: whether an ipBlock admits them depends on
// addresses the manifests do not show.
func addNetworkPolicyVerdicts(ix *model.Index) {
	ev := NewPolicyEvaluator(ix)
	for _, p := range ev.policies.cni {
		addCNIPolicyControls(ix, p)
	}
	if len(ev.policies.byNamespace) == 0 && len(ev.policies.clusterWide) == 0 {
		return
	}
	for _, w := range ix.Workloads() {
		addRestrictionControls(ix, w.ID, *ev.selecting[w.ID])
	}
	edges := ix.Edges()
	for i := range edges {
		e := &edges[i]
		dst := ev.workloads[e.To]
		if dst == nil || strings.HasPrefix(e.From, "external:") || ev.nodeNamespace[e.From] == nil {
			continue
		}
		e.Policy, e.PolicyEvidence = ev.verdict(e.From, dst, podPortOf(ix, e, dst))
	}
}

// PolicyEvaluator answers what the policies Build read decide about a flow
// that need not be in the graph: a planned policy is checked with it
// against every pair of workloads, not only the flows found.
type PolicyEvaluator struct {
	policies  *policyIndex
	workloads map[string]*model.IndexedWorkload
	endpoints map[string]*policyEndpoint
	// selecting holds the policies that select each workload, per direction.
	selecting map[string]*[2][]*netPolicy
	// nodeNamespace is the namespace of every node by ID (nil for none),
	// for sources whose pods are not in the manifests.
	nodeNamespace map[string]*string
}

// NewPolicyEvaluator reads the policies of what Build indexed. Call it
// from a detector; it adds nothing to the graph, and what it returns
// stays valid after Build.
func NewPolicyEvaluator(ix *model.Index) *PolicyEvaluator {
	ev := &PolicyEvaluator{
		policies:      indexPolicies(ix),
		workloads:     map[string]*model.IndexedWorkload{},
		endpoints:     map[string]*policyEndpoint{},
		selecting:     map[string]*[2][]*netPolicy{},
		nodeNamespace: map[string]*string{},
	}
	for _, n := range ix.Nodes() {
		ns := n.Namespace
		ev.nodeNamespace[n.ID] = &ns
	}
	for _, w := range ix.Workloads() {
		ep := ev.policies.workloadEndpoint(w)
		ev.workloads[w.ID], ev.endpoints[w.ID] = w, ep
		var sel [2][]*netPolicy
		for _, p := range ev.policies.candidates(ep) {
			if !p.selects(ep) {
				continue
			}
			for _, d := range []policyDirection{dirIngress, dirEgress} {
				if p.applies[d] {
					sel[d] = append(sel[d], p)
				}
			}
		}
		ev.selecting[w.ID] = &sel
	}
	return ev
}

// Verdict says what the policies decide about a flow from the node from
// (a workload, a gateway whose pods are not in the manifests, or the
// internet) to the workload to on port, the port of its pods (a zero port
// is one not known): model.PolicyAllowed or model.PolicyDenied with the
// deciding evidence, or "" when no policy governs the flow, so it may
// pass. ok is false when to is no workload or from no node.
func (ev *PolicyEvaluator) Verdict(from, to string, port model.PodPort) (verdict string, evidence []model.Evidence, ok bool) {
	dst := ev.workloads[to]
	if dst == nil || ev.nodeNamespace[from] == nil {
		return "", nil, false
	}
	pp := policyPort{known: port.Number != 0 || port.Name != "", number: port.Number, name: port.Name, protocol: port.Protocol}
	if pp.protocol == "" {
		pp.protocol = "TCP"
	}
	verdict, evidence = ev.verdict(from, dst, pp)
	return verdict, evidence, true
}

// verdict decides a flow from the node from to dst: the destination's
// ingress policies and the source's egress policies must both admit it.
func (ev *PolicyEvaluator) verdict(from string, dst *model.IndexedWorkload, port policyPort) (string, []model.Evidence) {
	var src *policyEndpoint
	var srcPolicies []*netPolicy
	if ep := ev.endpoints[from]; ep != nil {
		src, srcPolicies = ep, ev.selecting[from][dirEgress]
	} else {
		// A gateway, whose pods are the ingress controller's and not in
		// the manifests, or an address outside the cluster.
		src = &policyEndpoint{id: from, ns: *ev.nodeNamespace[from], external: strings.HasPrefix(from, "external:"), gateway: strings.HasPrefix(from, "gateway:")}
	}
	in := decide(dirIngress, ev.selecting[dst.ID][dirIngress], src, port)
	out := decide(dirEgress, srcPolicies, ev.endpoints[dst.ID], port)
	switch {
	case out.selected && !out.allowed:
		return model.PolicyDenied, out.evidence
	case !in.selected:
		return "", nil // nothing narrows who may connect to the destination
	case in.allowed:
		return model.PolicyAllowed, append(in.evidence, out.evidence...)
	}
	return model.PolicyDenied, in.evidence
}

// addRestrictionControls records whether a workload's ingress and egress
// are narrowed: some policy selects it for that direction and no rule of
// those policies admits every pod.
func addRestrictionControls(ix *model.Index, id string, sel [2][]*netPolicy) {
	for d, kind := range []string{NetworkPolicyIngressRestricted, NetworkPolicyEgressRestricted} {
		if len(sel[d]) == 0 {
			continue
		}
		var evidence []model.Evidence
		restricted := false // until a policy puts the pod in default deny
		for _, p := range sel[d] {
			restricted = restricted || !p.allowByDefault[d]
		}
		for _, p := range sel[d] {
			for _, r := range p.rules[d] {
				if r.action == "allow" && r.admitsEveryPod() {
					restricted = false
				}
			}
			evidence = append(evidence, p.evidence(p.field, "selects the workload for "+policyDirection(d).String()))
		}
		if restricted {
			ix.AddControl(kind, id, evidence...)
		}
	}
}

func (r policyRule) admitsEveryPod() bool {
	if r.allPeers {
		return true
	}
	for _, p := range r.peers {
		if p.everyPod {
			return true
		}
	}
	return false
}

// verdict is what the policies of one side say about a flow.
type policyVerdict struct {
	selected bool // some policy of this side selects the pod
	allowed  bool
	evidence []model.Evidence
}

// decide applies the policies that select one end of a flow to the other
// end. An explicit deny (Calico Deny, Cilium ingressDeny) wins over any
// allow; otherwise one admitting rule is enough; otherwise the flow is
// denied, and the evidence is the policies that select the pod.
func decide(d policyDirection, policies []*netPolicy, peer *policyEndpoint, port policyPort) policyVerdict {
	if len(policies) == 0 {
		return policyVerdict{}
	}
	v := policyVerdict{selected: true}
	var allows, denies []model.Evidence
	for _, p := range policies {
		action, field, assumed := p.decide(d, peer, port)
		detail := fmt.Sprintf("%s rule admits %s on %s", d, peer.id, port)
		if action == "deny" {
			detail = fmt.Sprintf("%s rule denies %s on %s", d, peer.id, port)
		}
		if assumed {
			detail += " (assumed: its pods are not in the manifests and the rule admits other namespaces)"
		}
		switch action {
		case "allow":
			allows = append(allows, p.evidence(field, detail))
		case "deny":
			denies = append(denies, p.evidence(field, detail))
		}
	}
	defaultDeny := false
	for _, p := range policies {
		defaultDeny = defaultDeny || !p.allowByDefault[d]
	}
	switch {
	case len(denies) > 0:
		v.evidence = denies
	case len(allows) > 0:
		v.allowed, v.evidence = true, allows
	case !defaultDeny:
		return policyVerdict{} // every policy of this side leaves the rest allowed
	default:
		for _, p := range policies {
			v.evidence = append(v.evidence, p.evidence(p.field, fmt.Sprintf("selects the pod for %s; no rule admits %s on %s", d, peer.id, port)))
		}
	}
	return v
}

// decide returns what one policy says about a peer and port: "allow",
// "deny" or "" (no rule matched), with the deciding rule's field, and
// whether the match rests on the assumption made for unknown pods.
func (p *netPolicy) decide(d policyDirection, peer *policyEndpoint, port policyPort) (string, string, bool) {
	var found string
	var field string
	var assumed bool
	for _, r := range p.rules[d] {
		ok, guess := r.admits(peer, p.namespace, port)
		if !ok {
			continue
		}
		if p.ordered {
			if r.action == "" {
				continue // Calico Log or Pass: no verdict here
			}
			return r.action, r.field, guess
		}
		if r.action == "deny" {
			return "deny", r.field, guess
		}
		if found == "" || (assumed && !guess) {
			found, field, assumed = r.action, r.field, guess
		}
	}
	return found, field, assumed
}

// admits reports whether a rule matches a peer on a port; guess is true
// when the peer's pods are unknown and the match is the assumption that
// they live in a namespace the rule admits.
func (r policyRule) admits(peer *policyEndpoint, policyNS string, port policyPort) (ok, guess bool) {
	if !r.portAdmits(port) {
		return false, false
	}
	if r.allPeers {
		return true, false
	}
	for _, p := range r.peers {
		if ok, guess := p.admits(peer, policyNS); ok {
			return true, guess
		}
	}
	return false, false
}

// admits reports whether one peer of a rule matches an endpoint, and
// whether that rests on an assumption about pods that are unknown.
func (p policyPeer) admits(ep *policyEndpoint, policyNS string) (ok, guess bool) {
	switch {
	case p.world && ep.external:
		return true, false
	case p.external:
		switch {
		case p.everyAddress && !ep.known:
			return true, true
		case p.ingressProxy && ep.gateway:
			return true, true
		}
		return false, false
	case !ep.known:
		return p.otherNamespaces && !ep.external, true
	}
	return p.match(ep, policyNS), false
}

func (r policyRule) portAdmits(port policyPort) bool {
	if len(r.ports) == 0 || !port.known {
		return true // an unknown port may be one the rule admits
	}
	for _, m := range r.ports {
		if m.protocol != "" && !strings.EqualFold(m.protocol, port.protocol) && !strings.EqualFold(m.protocol, "ANY") {
			continue
		}
		switch {
		case m.name != "":
			if m.name == port.name {
				return true
			}
		case m.number == 0:
			return true
		case m.end != 0:
			if port.number >= m.number && port.number <= m.end {
				return true
			}
		case m.number == port.number:
			return true
		}
	}
	return false
}

// candidates are the policies that may select a pod, in the order read:
// those of its namespace that require none of the labels it lacks, then the
// cluster-wide ones.
func (pols *policyIndex) candidates(ep *policyEndpoint) []*netPolicy {
	out := slices.Clone(pols.anyLabels[ep.ns])
	for k, v := range ep.labels {
		out = append(out, pols.byLabel[podLabel{ep.ns, k, v}]...)
	}
	slices.SortFunc(out, func(a, b *netPolicy) int { return cmp.Compare(a.seq, b.seq) })
	return append(out, pols.clusterWide...)
}

func (pols *policyIndex) workloadEndpoint(w *model.IndexedWorkload) *policyEndpoint {
	ns := w.Template.Object.Namespace
	sa := w.Template.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	return &policyEndpoint{id: w.ID, known: !w.Template.Spec.HostNetwork, ns: ns, labels: w.Template.Labels, nsLabels: pols.namespaceLabels(ns), sa: sa}
}

func (pols *policyIndex) namespaceLabels(ns string) map[string]string {
	if l, ok := pols.nsLabels[ns]; ok {
		return l
	}
	l := map[string]string{namespaceNameLabel: ns}
	pols.nsLabels[ns] = l
	return l
}

func (pols *policyIndex) add(p *netPolicy) {
	p.seq = pols.read
	pols.read++
	if p.namespace == "" {
		pols.clusterWide = append(pols.clusterWide, p)
		return
	}
	pols.byNamespace[p.namespace] = append(pols.byNamespace[p.namespace], p)
	if p.requiresLabel {
		l := podLabel{p.namespace, p.requires.key, p.requires.value}
		pols.byLabel[l] = append(pols.byLabel[l], p)
	} else {
		pols.anyLabels[p.namespace] = append(pols.anyLabels[p.namespace], p)
	}
}

// indexPolicies reads every policy kind into the common form, and the
// labels of the Namespaces that namespace selectors match against.
func indexPolicies(ix *model.Index) *policyIndex {
	pols := &policyIndex{byNamespace: map[string][]*netPolicy{}, byLabel: map[podLabel][]*netPolicy{}, anyLabels: map[string][]*netPolicy{}, nsLabels: map[string]map[string]string{}}
	for _, obj := range ix.TypedObjects() {
		switch o := obj.Typed.(type) {
		case *corev1.Namespace:
			l := map[string]string{}
			for k, v := range o.Labels {
				l[k] = v
			}
			l[namespaceNameLabel] = o.Name
			pols.nsLabels[o.Name] = l
		case *networkingv1.NetworkPolicy:
			pols.add(k8sPolicy(obj, o))
		}
	}
	for _, kind := range []string{"CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"} {
		for _, obj := range ix.Unstructured(ciliumGroup + "/" + kind) {
			for _, p := range ciliumPolicies(obj) {
				pols.add(p)
				pols.cni = append(pols.cni, p)
			}
		}
	}
	for _, group := range []string{calicoGroup, calicoCRDGroup} {
		for _, kind := range []string{"NetworkPolicy", "GlobalNetworkPolicy"} {
			for _, obj := range ix.Unstructured(group + "/" + kind) {
				if p := calicoPolicy(obj); p != nil {
					pols.add(p)
					pols.cni = append(pols.cni, p)
				}
			}
		}
	}
	return pols
}

// addCNIPolicyControls records for Cilium and Calico policies the controls
// addNetworkPolicyPresence records for NetworkPolicies: the workloads a policy
// selects, and namespaces where a policy selecting every pod admits nothing.
func addCNIPolicyControls(ix *model.Index, p *netPolicy) {
	candidates := ix.WorkloadsIn(p.namespace) // its own namespace only
	switch {
	case p.namespace == "":
		candidates = ix.Workloads()
	case p.requiresLabel:
		candidates = ix.SelectionCandidates(p.namespace, map[string]string{p.requires.key: p.requires.value})
	}
	for _, w := range candidates {
		ep := &policyEndpoint{id: w.ID, known: true, ns: w.Template.Object.Namespace, labels: w.Template.Labels}
		if p.selects(ep) {
			ix.AddControl(NetworkPolicy, w.ID, p.evidence(p.field, ""))
		}
	}
	if p.namespace == "" || !p.selects(&policyEndpoint{ns: p.namespace, labels: map[string]string{}}) {
		return // cluster-wide, or selects only pods with some label
	}
	for d, kind := range []string{NetworkPolicyDefaultDenyIngress, NetworkPolicyDefaultDenyEgress} {
		if !p.applies[d] || p.allowByDefault[d] {
			continue
		}
		admitsNothing := true
		for _, r := range p.rules[d] {
			if r.action == "allow" && (r.allPeers || len(r.peers) > 0) {
				admitsNothing = false
			}
		}
		if admitsNothing {
			ix.AddControl(kind, model.NamespaceBoundaryID(p.namespace), p.evidence(p.field, "selects every pod and allows no "+policyDirection(d).String()))
		}
	}
}

// k8sPolicy reads a networking.k8s.io NetworkPolicy. policyTypes default
// to Ingress, plus Egress when egress rules are present.
func k8sPolicy(obj *discover.Object, o *networkingv1.NetworkPolicy) *netPolicy {
	p := &netPolicy{obj: obj, namespace: obj.Namespace, field: "spec.podSelector"}
	sel := selectorMatch(&o.Spec.PodSelector)
	p.selects = func(ep *policyEndpoint) bool { return sel(ep.labels) }
	if keys := sortedKeys(o.Spec.PodSelector.MatchLabels); len(keys) > 0 {
		p.requires = podLabel{obj.Namespace, keys[0], o.Spec.PodSelector.MatchLabels[keys[0]]}
		p.requiresLabel = true
	}
	if len(o.Spec.PolicyTypes) == 0 {
		p.applies[dirIngress] = true
		p.applies[dirEgress] = len(o.Spec.Egress) > 0
	}
	for _, t := range o.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.applies[dirIngress] = true
		case networkingv1.PolicyTypeEgress:
			p.applies[dirEgress] = true
		}
	}
	for i, r := range o.Spec.Ingress {
		p.rules[dirIngress] = append(p.rules[dirIngress], k8sRule(r.From, r.Ports, fmt.Sprintf("spec.ingress[%d]", i)))
	}
	for i, r := range o.Spec.Egress {
		p.rules[dirEgress] = append(p.rules[dirEgress], k8sRule(r.To, r.Ports, fmt.Sprintf("spec.egress[%d]", i)))
	}
	return p
}

func k8sRule(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, field string) policyRule {
	r := policyRule{allPeers: len(peers) == 0, action: "allow", field: field}
	for _, peer := range peers {
		r.peers = append(r.peers, k8sPeer(peer))
	}
	for _, port := range ports {
		m := portMatch{protocol: "TCP"}
		if port.Protocol != nil {
			m.protocol = string(*port.Protocol)
		}
		if port.Port != nil {
			m.number, m.name = port.Port.IntVal, port.Port.StrVal
		}
		if port.EndPort != nil {
			m.end = *port.EndPort
		}
		r.ports = append(r.ports, m)
	}
	return r
}

// k8sPeer: a podSelector alone picks pods of the policy's namespace, a
// namespaceSelector alone every pod of the namespaces it picks, both
// together the pods picked by the one in the namespaces picked by the
// other; an ipBlock picks addresses, never pods.
func k8sPeer(peer networkingv1.NetworkPolicyPeer) policyPeer {
	if b := peer.IPBlock; b != nil {
		return policyPeer{external: true, everyAddress: (b.CIDR == "0.0.0.0/0" || b.CIDR == "::/0") && len(b.Except) == 0}
	}
	pods := matchAnyLabels
	podsEmpty := true
	if peer.PodSelector != nil {
		pods = selectorMatch(peer.PodSelector)
		podsEmpty = isEmptySelector(peer.PodSelector)
	}
	if peer.NamespaceSelector == nil {
		return policyPeer{
			match:    func(ep *policyEndpoint, ns string) bool { return ep.ns == ns && pods(ep.labels) },
			everyPod: podsEmpty,
		}
	}
	namespaces := selectorMatch(peer.NamespaceSelector)
	return policyPeer{
		match:           func(ep *policyEndpoint, _ string) bool { return namespaces(ep.nsLabels) && pods(ep.labels) },
		otherNamespaces: true,
		everyPod:        podsEmpty && isEmptySelector(peer.NamespaceSelector),
	}
}

func isEmptySelector(s *metav1.LabelSelector) bool {
	return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

// selectorMatch compiles a label selector; an invalid one matches nothing,
// as the API server would have refused it.
func selectorMatch(s *metav1.LabelSelector) labelMatch {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return matchNoLabels
	}
	if sel.Empty() {
		return matchAnyLabels
	}
	return func(l map[string]string) bool { return sel.Matches(labels.Set(l)) }
}

// ciliumPolicies reads a CiliumNetworkPolicy or
// CiliumClusterwideNetworkPolicy: one netPolicy per rule in spec and specs.
// Selectors are matched against the pod's labels plus the labels Cilium
// derives (io.kubernetes.pod.namespace, io.cilium.k8s.namespace.labels.*);
// in a namespaced policy a peer that names no namespace stays in the
// policy's own. An ingress or egress section with a rule turns on default
// deny for that direction even when the rule admits nothing
// ("ingress: [{}]"), unless enableDefaultDeny sets that direction to
// false; an empty section ("ingress: []") does nothing, as in Cilium. A
// rule with only toPorts admits any peer on those ports.
func ciliumPolicies(obj *discover.Object) []*netPolicy {
	type spec struct {
		m     map[string]any
		field string
	}
	var specs []spec
	if m := fields.Map(obj.Fields, "spec"); m != nil {
		specs = append(specs, spec{m, "spec"})
	}
	for i, s := range fields.List(obj.Fields, "specs") {
		if m := fields.AsMap(s); m != nil {
			specs = append(specs, spec{m, fmt.Sprintf("specs[%d]", i)})
		}
	}
	var out []*netPolicy
	for _, s := range specs {
		if _, ok := s.m["endpointSelector"]; !ok {
			continue // a host policy (nodeSelector) governs nodes, not pods
		}
		p := &netPolicy{obj: obj, namespace: obj.Namespace, field: s.field + ".endpointSelector"}
		for d, key := range []string{"ingress", "egress"} {
			enabled, set := fields.Map(s.m, "enableDefaultDeny")[key].(bool)
			p.allowByDefault[d] = set && !enabled
		}
		sel := ciliumSelector(fields.AsMap(s.m["endpointSelector"]))
		p.selects = func(ep *policyEndpoint) bool { return sel(ep, p.namespace) }
		if k, v, ok := ciliumRequiredLabel(fields.AsMap(s.m["endpointSelector"])); ok && p.namespace != "" {
			p.requires, p.requiresLabel = podLabel{p.namespace, k, v}, true
		}
		for _, sec := range []struct {
			key      string
			d        policyDirection
			action   string
			peers    string
			entities string
			cidrs    []string
		}{
			{"ingress", dirIngress, "allow", "fromEndpoints", "fromEntities", []string{"fromCIDR", "fromCIDRSet"}},
			{"ingressDeny", dirIngress, "deny", "fromEndpoints", "fromEntities", []string{"fromCIDR", "fromCIDRSet"}},
			{"egress", dirEgress, "allow", "toEndpoints", "toEntities", []string{"toCIDR", "toCIDRSet", "toFQDNs", "toServices"}},
			{"egressDeny", dirEgress, "deny", "toEndpoints", "toEntities", []string{"toCIDR", "toCIDRSet"}},
		} {
			rules := anyList(s.m[sec.key])
			if len(rules) == 0 {
				continue
			}
			p.applies[sec.d] = true
			for i, r := range rules {
				rm := fields.AsMap(r)
				field := fmt.Sprintf("%s.%s[%d]", s.field, sec.key, i)
				rule := policyRule{action: sec.action, field: field, ports: ciliumPorts(rm)}
				l3 := false
				for _, e := range fields.List(rm, sec.peers) {
					l3 = true
					rule.peers = append(rule.peers, ciliumPeer(fields.AsMap(e)))
				}
				for _, e := range fields.List(rm, sec.entities) {
					l3 = true
					rule.peers = append(rule.peers, ciliumEntity(e))
				}
				for _, k := range sec.cidrs {
					if _, ok := rm[k]; ok {
						l3 = true
						rule.peers = append(rule.peers, policyPeer{external: true, world: ciliumEveryAddress(rm[k])})
					}
				}
				if !l3 {
					if len(rule.ports) == 0 {
						continue // "{}": default deny, admits nothing
					}
					rule.allPeers = true
				}
				p.rules[sec.d] = append(p.rules[sec.d], rule)
			}
		}
		out = append(out, p)
	}
	return out
}

// ciliumEntity is who an entity of fromEntities or toEntities admits.
func ciliumEntity(e any) policyPeer {
	switch e {
	case "all":
		return policyPeer{match: func(*policyEndpoint, string) bool { return true }, otherNamespaces: true, everyPod: true, world: true}
	case "cluster":
		return policyPeer{match: func(*policyEndpoint, string) bool { return true }, otherNamespaces: true, everyPod: true}
	case "world", "world-ipv4", "world-ipv6":
		return policyPeer{external: true, world: true}
	case "ingress":
		return policyPeer{external: true, ingressProxy: true}
	}
	return policyPeer{external: true} // host, remote-node, kube-apiserver …: not pods
}

// ciliumEveryAddress reports whether a CIDR list (toCIDR's strings, or
// toCIDRSet's entries) holds every address with nothing excepted, which
// Cilium reads as the entity world. toFQDNs and toServices hold no CIDR.
func ciliumEveryAddress(v any) bool {
	for _, c := range anyList(v) {
		cidr, _ := c.(string)
		if m := fields.AsMap(c); m != nil {
			if len(fields.List(m, "except")) > 0 {
				continue
			}
			cidr = fields.String(m, "cidr")
		}
		if cidr == "0.0.0.0/0" || cidr == "::/0" {
			return true
		}
	}
	return false
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

// ciliumPeer: an empty selector is every pod of the policy's namespace
// (of the cluster for a cluster-wide policy); one that names
// io.kubernetes.pod.namespace or namespace labels reaches other namespaces.
func ciliumPeer(sel map[string]any) policyPeer {
	empty := len(fields.Map(sel, "matchLabels")) == 0 && len(fields.List(sel, "matchExpressions")) == 0
	return policyPeer{
		match:           ciliumSelector(sel),
		otherNamespaces: ciliumNamesNamespace(sel),
		everyPod:        empty,
	}
}

// ciliumKey strips Cilium's label source prefix ("k8s:", "any:").
func ciliumKey(k string) string {
	for _, prefix := range []string{"k8s:", "any:"} {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			return rest
		}
	}
	return k
}

// ciliumRequiredLabel is a pod label an endpoint selector's matchLabels
// requires, when it names one: not a label Cilium derives (namespace,
// namespace labels, service account), which pod labels cannot satisfy.
func ciliumRequiredLabel(sel map[string]any) (key, value string, ok bool) {
	required := map[string]string{}
	for k, v := range fields.Map(sel, "matchLabels") {
		ck := ciliumKey(k)
		if strings.HasPrefix(k, "reserved:") || ck == ciliumNamespaceKey || strings.HasPrefix(ck, ciliumNSLabelsKey) || ck == ciliumServiceAccountKey {
			continue
		}
		s, _ := v.(string)
		if prev, seen := required[ck]; seen && prev != s {
			return "", "", false // "k8s:app" and "any:app" disagree: leave it to the selector
		}
		required[ck] = s
	}
	for _, k := range sortedKeys(required) {
		return k, required[k], true
	}
	return "", "", false
}

func ciliumNamesNamespace(sel map[string]any) bool {
	for k := range fields.Map(sel, "matchLabels") {
		if k = ciliumKey(k); k == ciliumNamespaceKey || strings.HasPrefix(k, ciliumNSLabelsKey) {
			return true
		}
	}
	for _, e := range fields.List(sel, "matchExpressions") {
		if k := ciliumKey(fields.String(fields.AsMap(e), "key")); k == ciliumNamespaceKey || strings.HasPrefix(k, ciliumNSLabelsKey) {
			return true
		}
	}
	return false
}

// ciliumSelector compiles an endpoint selector. Keys with the "reserved:"
// source name identities that are not pods and match nothing here.
func ciliumSelector(sel map[string]any) func(ep *policyEndpoint, policyNS string) bool {
	ls := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for k, v := range fields.Map(sel, "matchLabels") {
		s, _ := v.(string)
		if strings.HasPrefix(k, "reserved:") {
			return func(*policyEndpoint, string) bool { return false }
		}
		ls.MatchLabels[ciliumKey(k)] = s
	}
	for _, e := range fields.List(sel, "matchExpressions") {
		em := fields.AsMap(e)
		req := metav1.LabelSelectorRequirement{Key: ciliumKey(fields.String(em, "key")), Operator: metav1.LabelSelectorOperator(fields.String(em, "operator"))}
		for _, v := range fields.List(em, "values") {
			if s, ok := v.(string); ok {
				req.Values = append(req.Values, s)
			}
		}
		ls.MatchExpressions = append(ls.MatchExpressions, req)
	}
	match := selectorMatch(ls)
	namesNamespace := ciliumNamesNamespace(sel)
	return func(ep *policyEndpoint, policyNS string) bool {
		if policyNS != "" && !namesNamespace && ep.ns != policyNS {
			return false
		}
		return match(ciliumLabels(ep))
	}
}

// ciliumLabels are the labels Cilium gives a pod's identity.
func ciliumLabels(ep *policyEndpoint) map[string]string {
	l := make(map[string]string, len(ep.labels)+len(ep.nsLabels)+2)
	for k, v := range ep.labels {
		l[k] = v
	}
	for k, v := range ep.nsLabels {
		l[ciliumNSLabelsKey+k] = v
	}
	l[ciliumNamespaceKey] = ep.ns
	if ep.sa != "" {
		l[ciliumServiceAccountKey] = ep.sa
	}
	return l
}

// ciliumPorts reads toPorts[].ports[]: port as a number, a name, or "0"
// for any, with an optional endPort.
func ciliumPorts(rule map[string]any) []portMatch {
	var out []portMatch
	for _, tp := range fields.List(rule, "toPorts") {
		for _, p := range fields.List(fields.AsMap(tp), "ports") {
			pm := fields.AsMap(p)
			m := portMatch{protocol: fields.String(pm, "protocol"), end: fields.Number(pm, "endPort")}
			switch v := pm["port"].(type) {
			case string:
				if n, ok := fields.ParsePort(v); ok {
					m.number = n
				} else if v != "0" && v != "" {
					m.name = v
				}
			default:
				m.number = fields.Number(pm, "port")
			}
			out = append(out, m)
		}
	}
	return out
}

// calicoPolicy reads a Calico NetworkPolicy or GlobalNetworkPolicy
// (projectcalico.org/v3 or crd.projectcalico.org/v1). Its rules are tried
// in order and the first Allow or Deny that matches decides; Log and Pass
// decide nothing. A selector in a form calicoSelector does not understand
// makes the whole policy unreadable: it is left out rather than guessed.
func calicoPolicy(obj *discover.Object) *netPolicy {
	spec := fields.Map(obj.Fields, "spec")
	if spec == nil {
		return nil
	}
	sel, ok := calicoSelector(fields.String(spec, "selector"))
	if !ok {
		return nil
	}
	p := &netPolicy{obj: obj, namespace: obj.Namespace, field: "spec.selector", ordered: true}
	p.selects = func(ep *policyEndpoint) bool {
		return (p.namespace == "" || ep.ns == p.namespace) && sel(calicoLabels(ep))
	}
	if k, v, ok := calicoRequiredLabel(fields.String(spec, "selector")); ok && p.namespace != "" {
		p.requires, p.requiresLabel = podLabel{p.namespace, k, v}, true
	}
	types := fields.List(spec, "types")
	if len(types) == 0 {
		// Calico's default: Ingress, or Egress alone when only egress rules exist.
		_, hasIngress := spec["ingress"]
		_, hasEgress := spec["egress"]
		p.applies[dirIngress] = hasIngress || !hasEgress
		p.applies[dirEgress] = hasEgress
	}
	for _, t := range types {
		switch t {
		case "Ingress":
			p.applies[dirIngress] = true
		case "Egress":
			p.applies[dirEgress] = true
		}
	}
	for _, sec := range []struct {
		key  string
		d    policyDirection
		peer string // where the other end is described
	}{{"ingress", dirIngress, "source"}, {"egress", dirEgress, "destination"}} {
		for i, r := range fields.List(spec, sec.key) {
			rm := fields.AsMap(r)
			rule, ok := calicoRule(rm, sec.peer, p.namespace)
			if !ok {
				return nil
			}
			rule.field = fmt.Sprintf("spec.%s[%d]", sec.key, i)
			p.rules[sec.d] = append(p.rules[sec.d], rule)
		}
	}
	return p
}

func calicoRule(rm map[string]any, peerKey, policyNS string) (policyRule, bool) {
	r := policyRule{}
	switch fields.String(rm, "action") {
	case "Allow":
		r.action = "allow"
	case "Deny":
		r.action = "deny"
	}
	protocol := fields.String(rm, "protocol")
	for _, p := range fields.List(rm, "destination", "ports") {
		m := portMatch{protocol: protocol}
		switch v := p.(type) {
		case float64:
			m.number = int32(v)
		case string:
			lo, hi, isRange := strings.Cut(v, ":")
			if n, ok := fields.ParsePort(lo); ok {
				m.number = n
				if isRange {
					m.end, _ = fields.ParsePort(hi)
				}
			} else {
				m.name = v
			}
		}
		r.ports = append(r.ports, m)
	}
	peer := fields.Map(rm, peerKey)
	podSel, hasPods := peer["selector"].(string)
	nsSel, hasNS := peer["namespaceSelector"].(string)
	_, hasNets := peer["nets"]
	if !hasPods && !hasNS {
		if hasNets {
			r.peers = []policyPeer{{external: true}}
		} else {
			r.allPeers = true
		}
		return r, true
	}
	pods, ok := calicoSelector(podSel)
	if !ok {
		return r, false
	}
	namespaces, ok := calicoSelector(nsSel)
	if !ok {
		return r, false
	}
	r.peers = []policyPeer{{
		match: func(ep *policyEndpoint, ns string) bool {
			switch {
			case hasNS:
				if !namespaces(calicoNamespaceLabels(ep)) {
					return false
				}
			case ns != "" && ep.ns != ns:
				return false
			}
			return pods(calicoLabels(ep))
		},
		otherNamespaces: hasNS || policyNS == "",
		everyPod:        (podSel == "" || podSel == "all()") && (!hasNS || nsSel == "all()"),
	}}
	return r, true
}

// calicoLabels are the labels Calico matches a pod's selector against.
func calicoLabels(ep *policyEndpoint) map[string]string {
	l := make(map[string]string, len(ep.labels)+2)
	for k, v := range ep.labels {
		l[k] = v
	}
	l[calicoNamespaceKey] = ep.ns
	if ep.sa != "" {
		l[calicoSAKey] = ep.sa
	}
	return l
}

func calicoNamespaceLabels(ep *policyEndpoint) map[string]string {
	l := make(map[string]string, len(ep.nsLabels)+1)
	for k, v := range ep.nsLabels {
		l[k] = v
	}
	l[calicoNSNameKey] = ep.ns
	return l
}

// calicoSelector compiles the common forms of Calico's selector language:
// terms joined by && or ||, without parentheses, each one of
// k == 'v', k != 'v', has(k), !has(k), k in {'a','b'}, k not in {…},
// all() and global(). Anything else is reported as not understood.
func calicoSelector(expr string) (labelMatch, bool) {
	expr = strings.TrimSpace(expr)
	if expr == "" || expr == "all()" {
		return matchAnyLabels, true
	}
	if strings.ContainsAny(expr, "()") && strings.Contains(strings.NewReplacer("has(", "", "all()", "", "global()", "").Replace(expr), "(") {
		return nil, false // grouping parentheses
	}
	var alternatives [][]labelMatch
	for _, alt := range strings.Split(expr, "||") {
		var terms []labelMatch
		for _, t := range strings.Split(alt, "&&") {
			term, ok := calicoTerm(strings.TrimSpace(t))
			if !ok {
				return nil, false
			}
			terms = append(terms, term)
		}
		alternatives = append(alternatives, terms)
	}
	return func(l map[string]string) bool {
		for _, terms := range alternatives {
			all := true
			for _, t := range terms {
				if !t(l) {
					all = false
					break
				}
			}
			if all {
				return true
			}
		}
		return false
	}, true
}

// calicoRequiredLabel is a pod label a selector calicoSelector reads
// requires, when it has one: a "key == 'value'" term of a selector without
// alternatives, on a key other than those Calico derives (namespace,
// service account).
func calicoRequiredLabel(expr string) (key, value string, ok bool) {
	if strings.Contains(expr, "||") {
		return "", "", false
	}
	for _, t := range strings.Split(expr, "&&") {
		k, v, found := strings.Cut(strings.TrimSpace(t), "==")
		k = strings.TrimSpace(k)
		if !found || k == "" || k == calicoNamespaceKey || k == calicoSAKey || strings.ContainsAny(k, "!()") {
			continue
		}
		if val, ok := calicoString(strings.TrimSpace(v)); ok {
			return k, val, true
		}
	}
	return "", "", false
}

func calicoTerm(t string) (labelMatch, bool) {
	switch {
	case t == "all()" || t == "global()":
		return matchAnyLabels, true
	case strings.HasPrefix(t, "!has(") && strings.HasSuffix(t, ")"):
		k := strings.TrimSpace(t[5 : len(t)-1])
		return func(l map[string]string) bool { _, ok := l[k]; return !ok }, true
	case strings.HasPrefix(t, "has(") && strings.HasSuffix(t, ")"):
		k := strings.TrimSpace(t[4 : len(t)-1])
		return func(l map[string]string) bool { _, ok := l[k]; return ok }, true
	}
	for _, op := range []string{"==", "!="} {
		if k, v, ok := strings.Cut(t, op); ok {
			k = strings.TrimSpace(k)
			val, ok := calicoString(strings.TrimSpace(v))
			if !ok || k == "" {
				return nil, false
			}
			if op == "==" {
				return func(l map[string]string) bool { got, ok := l[k]; return ok && got == val }, true
			}
			return func(l map[string]string) bool { return l[k] != val }, true
		}
	}
	for _, op := range []string{" not in ", " in "} {
		if k, v, ok := strings.Cut(t, op); ok {
			v = strings.TrimSpace(v)
			if !strings.HasPrefix(v, "{") || !strings.HasSuffix(v, "}") {
				return nil, false
			}
			set := map[string]bool{}
			for _, item := range strings.Split(v[1:len(v)-1], ",") {
				s, ok := calicoString(strings.TrimSpace(item))
				if !ok {
					return nil, false
				}
				set[s] = true
			}
			k = strings.TrimSpace(k)
			if op == " in " {
				return func(l map[string]string) bool { got, ok := l[k]; return ok && set[got] }, true
			}
			return func(l map[string]string) bool { got, ok := l[k]; return !ok || !set[got] }, true
		}
	}
	return nil, false
}

// unquote strips the single or double quotes of a Calico string literal.
func calicoString(s string) (string, bool) {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1], true
	}
	return "", false
}
