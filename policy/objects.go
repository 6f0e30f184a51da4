package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/stridemap/stridemap/model"
)

// Names of the policies every namespace gets.
const (
	DefaultDenyName = "stridemap-default-deny"
	DNSName         = "stridemap-dns"
)

var typeMeta = metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}

// defaultDeny selects every pod of ns and admits nothing either way: the
// only policy with an empty podSelector.
func defaultDeny(ns string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta: typeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: DefaultDenyName, Namespace: ns, Annotations: map[string]string{
			AnnotationNote: "denies all ingress and egress of the namespace's pods; the other policies allow the flows found",
		}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
}

// dnsEgress lets every pod of ns resolve names through kube-dns.
func dnsEgress(ns string) *networkingv1.NetworkPolicy {
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	port := intstr.FromInt32(53)
	return &networkingv1.NetworkPolicy{
		TypeMeta: typeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: DNSName, Namespace: ns, Annotations: map[string]string{
			AnnotationNote: "lets every pod of the namespace resolve names through kube-dns (kube-system, k8s-app: kube-dns)",
		}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: "kube-system"}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &port}, {Protocol: &tcp, Port: &port}},
			}},
		},
	}
}

// workloadPolicy gathers the rules of one workload's policy: one rule per
// peer, with every port the flows from (or to) that peer reach. Each
// format renders it.
type workloadPolicy struct {
	node     *model.Node
	selector *metav1.LabelSelector
	rules    [2][]*rule // ingress, egress
	flows    []line
	notes    []line
}

type rule struct {
	target
	key   string
	ports []networkingv1.NetworkPolicyPort // nil: every port
	every bool                             // some flow admits every port
}

// kubernetes reports whether the Kubernetes form can say the rule: it
// admits addresses, never a host by name.
func (r *rule) kubernetes() bool { return r.host == "" }

func (s *suggester) policyOf(n *model.Node) *workloadPolicy {
	if p := s.policies[n.ID]; p != nil {
		return p
	}
	p := &workloadPolicy{node: n, selector: s.selectorOf(n)}
	s.policies[n.ID] = p
	return p
}

func (p *workloadPolicy) add(t networkingv1.PolicyType, to target, ports []networkingv1.NetworkPolicyPort, flow string) {
	d := 0
	if t == networkingv1.PolicyTypeEgress {
		d = 1
	}
	key := to.peer.String() + " " + to.host
	i := slices.IndexFunc(p.rules[d], func(r *rule) bool { return r.key == key })
	if i < 0 {
		p.rules[d] = append(p.rules[d], &rule{target: to, key: key})
		i = len(p.rules[d]) - 1
	}
	r := p.rules[d][i]
	r.entry |= to.entry
	if len(ports) == 0 {
		r.every = true
	}
	for _, port := range ports {
		if !slices.ContainsFunc(r.ports, func(q networkingv1.NetworkPolicyPort) bool { return q.String() == port.String() }) {
			r.ports = append(r.ports, port)
		}
	}
	only := Format("")
	if !r.kubernetes() {
		only = FormatCilium
	}
	if l := (line{flow, only}); !slices.Contains(p.flows, l) {
		p.flows = append(p.flows, l)
	}
	for _, n := range to.notes {
		if !slices.Contains(p.notes, n) {
			p.notes = append(p.notes, n)
		}
	}
}

// name is the policy's: see WorkloadPolicyName.
func (p *workloadPolicy) name() string { return WorkloadPolicyName(p.node) }

// WorkloadPolicyName is the name of the policy suggested for workload n:
// the workload's, which is unique in the namespace but for a kind suffix
// ("~statefulset"). Views look a workload's policy up by it.
func WorkloadPolicyName(n *model.Node) string {
	name := strings.TrimPrefix(n.ID, "workload:"+n.Namespace+"/")
	name = "stridemap-" + strings.ReplaceAll(name, "~", "-")
	if len(name) <= maxNameLength {
		return name
	}
	// Too long with the prefix: cut, and keep it unique with a hash of
	// the whole.
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:maxNameLength-9], "-.") + "-" + hex.EncodeToString(sum[:4])
}

// maxNameLength is the longest object name the API server takes (a DNS
// subdomain).
const maxNameLength = 253

// annotations name the flows the rules of format f allow and what they
// assume.
func (p *workloadPolicy) annotations(f Format) map[string]string {
	flows := linesFor(f, p.flows)
	slices.Sort(flows)
	annotations := map[string]string{AnnotationFlows: strings.Join(flows, "\n")}
	if notes := linesFor(f, p.notes); len(notes) > 0 {
		annotations[AnnotationNote] = strings.Join(notes, "\n")
	}
	return annotations
}

// object renders the Kubernetes form of the policy, nil when it has no
// rule that form can say.
func (p *workloadPolicy) object() *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: p.name(), Namespace: p.node.Namespace, Annotations: p.annotations(FormatKubernetes)},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: *p.selector},
	}
	for _, r := range p.rules[0] {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{r.peer}, Ports: r.portList()})
	}
	for _, r := range p.rules[1] {
		if r.kubernetes() {
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{r.peer}, Ports: r.portList()})
		}
	}
	if len(np.Spec.Ingress) > 0 {
		np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
	}
	if len(np.Spec.Egress) > 0 {
		np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
	}
	if len(np.Spec.PolicyTypes) == 0 {
		return nil
	}
	return np
}

func (r *rule) portList() []networkingv1.NetworkPolicyPort {
	if r.every {
		return nil
	}
	return r.ports
}
