package policy

import (
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
// peer, with every port the flows from (or to) that peer reach.
type workloadPolicy struct {
	node     *model.Node
	selector *metav1.LabelSelector
	rules    [2][]*rule // ingress, egress
	flows    []string
	notes    []string
}

type rule struct {
	peer  networkingv1.NetworkPolicyPeer
	key   string
	ports []networkingv1.NetworkPolicyPort // nil: every port
	every bool                             // some flow admits every port
}

func (s *suggester) policyOf(n *model.Node) *workloadPolicy {
	if p := s.policies[n.ID]; p != nil {
		return p
	}
	p := &workloadPolicy{node: n, selector: s.selectorOf(n)}
	s.policies[n.ID] = p
	return p
}

func (p *workloadPolicy) add(t networkingv1.PolicyType, peer networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, flow, note string) {
	d := 0
	if t == networkingv1.PolicyTypeEgress {
		d = 1
	}
	key := peer.String()
	i := slices.IndexFunc(p.rules[d], func(r *rule) bool { return r.key == key })
	if i < 0 {
		p.rules[d] = append(p.rules[d], &rule{peer: peer, key: key})
		i = len(p.rules[d]) - 1
	}
	r := p.rules[d][i]
	if len(ports) == 0 {
		r.every = true
	}
	for _, port := range ports {
		if !slices.ContainsFunc(r.ports, func(q networkingv1.NetworkPolicyPort) bool { return q.String() == port.String() }) {
			r.ports = append(r.ports, port)
		}
	}
	if !slices.Contains(p.flows, flow) {
		p.flows = append(p.flows, flow)
	}
	if note != "" && !slices.Contains(p.notes, note) {
		p.notes = append(p.notes, note)
	}
}

// WorkloadPolicyName is the name of the policy suggested for workload n:
// the workload's, which is unique in the namespace but for a kind suffix
// ("~statefulset"). Views look a workload's policy up by it.
func WorkloadPolicyName(n *model.Node) string {
	name := strings.TrimPrefix(n.ID, "workload:"+n.Namespace+"/")
	return "stridemap-" + strings.ReplaceAll(name, "~", "-")
}

// object renders the policy.
func (p *workloadPolicy) object() *networkingv1.NetworkPolicy {
	name := WorkloadPolicyName(p.node)
	slices.Sort(p.flows)
	annotations := map[string]string{AnnotationFlows: strings.Join(p.flows, "\n")}
	if len(p.notes) > 0 {
		annotations[AnnotationNote] = strings.Join(p.notes, "\n")
	}
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.node.Namespace, Annotations: annotations},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: *p.selector},
	}
	for _, r := range p.rules[0] {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{r.peer}, Ports: r.portList()})
	}
	for _, r := range p.rules[1] {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{r.peer}, Ports: r.portList()})
	}
	if len(np.Spec.Ingress) > 0 {
		np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
	}
	if len(np.Spec.Egress) > 0 {
		np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
	}
	return np
}

func (r *rule) portList() []networkingv1.NetworkPolicyPort {
	if r.every {
		return nil
	}
	return r.ports
}
