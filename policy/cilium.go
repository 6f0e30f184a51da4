package policy

import (
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CiliumNetworkPolicy is a cilium.io/v2 CiliumNetworkPolicy with the
// fields a suggestion writes. Cilium's own Go types are not a dependency:
// these few mirror its JSON, and the real CRD checks them in the tests.
type CiliumNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              CiliumRule `json:"spec"`
}

// CiliumRule is a CiliumNetworkPolicy's spec. In a namespaced policy the
// endpointSelector and every peer selector that names no namespace stay
// in the policy's namespace.
type CiliumRule struct {
	EndpointSelector  metav1.LabelSelector `json:"endpointSelector"`
	EnableDefaultDeny *CiliumDefaultDeny   `json:"enableDefaultDeny,omitempty"`
	Ingress           []CiliumIngressRule  `json:"ingress,omitempty"`
	Egress            []CiliumEgressRule   `json:"egress,omitempty"`
}

// CiliumDefaultDeny says whether a policy puts the endpoints it selects
// in default deny, per direction.
type CiliumDefaultDeny struct {
	Ingress *bool `json:"ingress,omitempty"`
	Egress  *bool `json:"egress,omitempty"`
}

// CiliumIngressRule admits the peers of any of its From fields on its
// ports; one with no field at all admits nothing.
type CiliumIngressRule struct {
	FromEndpoints []metav1.LabelSelector `json:"fromEndpoints,omitempty"`
	FromEntities  []string               `json:"fromEntities,omitempty"`
	FromCIDR      []string               `json:"fromCIDR,omitempty"`
	ToPorts       []CiliumPortRule       `json:"toPorts,omitempty"`
}

// CiliumEgressRule admits the peers of any of its To fields on its ports.
// Cilium wants toFQDNs alone in its rule, beside toPorts.
type CiliumEgressRule struct {
	ToEndpoints []metav1.LabelSelector `json:"toEndpoints,omitempty"`
	ToCIDR      []string               `json:"toCIDR,omitempty"`
	ToFQDNs     []CiliumFQDN           `json:"toFQDNs,omitempty"`
	ToPorts     []CiliumPortRule       `json:"toPorts,omitempty"`
}

// CiliumFQDN is a DNS name (matchName) or pattern (matchPattern, "*" for
// any), in toFQDNs and in DNS rules alike.
type CiliumFQDN struct {
	MatchName    string `json:"matchName,omitempty"`
	MatchPattern string `json:"matchPattern,omitempty"`
}

// CiliumPortRule is one entry of toPorts, with the layer-7 rules that
// send the traffic through Cilium's proxy.
type CiliumPortRule struct {
	Ports []CiliumPort   `json:"ports"`
	Rules *CiliumL7Rules `json:"rules,omitempty"`
}

// CiliumPort is a port number or a container port's name, and TCP, UDP,
// SCTP or ANY.
type CiliumPort struct {
	Port     string `json:"port"`
	Protocol string `json:"protocol,omitempty"`
}

// CiliumL7Rules holds the DNS rules of a port rule.
type CiliumL7Rules struct {
	DNS []CiliumFQDN `json:"dns,omitempty"`
}

var ciliumTypeMeta = metav1.TypeMeta{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy"}

// Labels Cilium gives every pod's identity, and the entities a rule may
// admit besides pods.
const (
	ciliumNamespaceLabel = "k8s:io.kubernetes.pod.namespace"
	entityWorld          = "world"   // every address outside the cluster
	entityIngress        = "ingress" // Cilium's own Ingress and Gateway proxy
)

// CiliumPolicies renders the suggestion as CiliumNetworkPolicies, from
// the same decisions as Policies: per namespace a default deny and DNS
// through Cilium's DNS proxy, and per workload one policy with a rule per
// peer. It differs from the Kubernetes form where Cilium says more: a host
// known by name only is admitted by name (toFQDNs), and entry points are
// admitted by entity rather than by every address; NotesFor(FormatCilium)
// lists what it leaves out. The result is sorted by namespace and name.
func (s Suggestion) CiliumPolicies() []*CiliumNetworkPolicy {
	var out []*CiliumNetworkPolicy
	for _, ns := range s.Namespaces() {
		out = append(out, ciliumDefaultDeny(ns), ciliumDNS(ns))
	}
	for _, p := range s.plans {
		out = append(out, p.cilium())
	}
	slices.SortStableFunc(out, func(a, b *CiliumNetworkPolicy) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out
}

// ciliumDefaultDeny puts every pod of ns in default deny both ways.
// Cilium turns default deny on for a direction when a policy selecting
// the pod has a rule in that direction (an ingress or egress list that is
// not empty) and does not set enableDefaultDeny to false for it; a
// policy with enableDefaultDeny alone and no rules changes nothing. So
// the documented form is used: endpointSelector {} with one empty rule
// each way ("ingress: [{}]", which admits nothing), and enableDefaultDeny
// spelled out so a reader need not know the default.
func ciliumDefaultDeny(ns string) *CiliumNetworkPolicy {
	yes := true
	return &CiliumNetworkPolicy{
		TypeMeta: ciliumTypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: DefaultDenyName, Namespace: ns, Annotations: map[string]string{
			AnnotationNote: "denies all ingress and egress of the namespace's pods (one empty rule each way, which admits nothing); the other policies allow the flows found",
		}},
		Spec: CiliumRule{
			EndpointSelector:  metav1.LabelSelector{},
			EnableDefaultDeny: &CiliumDefaultDeny{Ingress: &yes, Egress: &yes},
			Ingress:           []CiliumIngressRule{{}},
			Egress:            []CiliumEgressRule{{}},
		},
	}
}

// ciliumDNS lets every pod of ns resolve names through kube-dns, and
// through Cilium's DNS proxy. toFQDNs admits the addresses the DNS proxy
// saw a pod's own queries resolve to: Cilium learns a name's addresses
// only from DNS traffic that a layer-7 DNS rule sends through the proxy,
// so without this rule a toFQDNs rule admits nothing. The rule must
// select the same pods as the toFQDNs rules (here every pod of the
// namespace) and name the resolver's pods and port 53; matchPattern "*"
// lets a pod resolve any name (the cluster's Services too) while the proxy
// records every answer. Narrowed to the toFQDNs names, it would refuse
// every other lookup.
func ciliumDNS(ns string) *CiliumNetworkPolicy {
	return &CiliumNetworkPolicy{
		TypeMeta: ciliumTypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: DNSName, Namespace: ns, Annotations: map[string]string{
			AnnotationNote: "lets every pod of the namespace resolve names through kube-dns (kube-system, k8s-app: kube-dns), through Cilium's DNS proxy (the dns rule), which is how the toFQDNs rules learn the addresses of the names they admit",
		}},
		Spec: CiliumRule{
			EndpointSelector: metav1.LabelSelector{},
			Egress: []CiliumEgressRule{{
				ToEndpoints: []metav1.LabelSelector{{MatchLabels: map[string]string{
					ciliumNamespaceLabel: "kube-system",
					"k8s:k8s-app":        "kube-dns",
				}}},
				ToPorts: []CiliumPortRule{{
					Ports: []CiliumPort{{Port: "53", Protocol: "ANY"}},
					Rules: &CiliumL7Rules{DNS: []CiliumFQDN{{MatchPattern: "*"}}},
				}},
			}},
		},
	}
}

// cilium renders a workload's policy in Cilium's form. An entry from the
// internet is the entity world; one through a gateway whose controller's
// pods are unknown is world and ingress (Cilium's own Ingress and Gateway
// proxy), the nearest Cilium has to the Kubernetes form's every address:
// a CIDR rule in Cilium never matches the cluster's own pods.
func (p *workloadPolicy) cilium() *CiliumNetworkPolicy {
	cnp := &CiliumNetworkPolicy{
		TypeMeta:   ciliumTypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: p.name(), Namespace: p.node.Namespace, Annotations: p.annotations(FormatCilium)},
		Spec:       CiliumRule{EndpointSelector: *p.selector.DeepCopy()},
	}
	for _, r := range p.rules[0] {
		in := CiliumIngressRule{ToPorts: r.ciliumPorts()}
		switch {
		case r.entry&fromGateway != 0:
			in.FromEntities = []string{entityWorld, entityIngress}
		case r.entry&fromInternet != 0:
			in.FromEntities = []string{entityWorld}
		case r.peer.IPBlock != nil:
			in.FromCIDR = []string{r.peer.IPBlock.CIDR}
		default:
			in.FromEndpoints = []metav1.LabelSelector{ciliumPeer(r.peer)}
		}
		cnp.Spec.Ingress = append(cnp.Spec.Ingress, in)
	}
	for _, r := range p.rules[1] {
		out := CiliumEgressRule{ToPorts: r.ciliumPorts()}
		switch {
		case r.host != "":
			out.ToFQDNs = []CiliumFQDN{{MatchName: r.host}}
		case r.peer.IPBlock != nil:
			out.ToCIDR = []string{r.peer.IPBlock.CIDR}
		default:
			out.ToEndpoints = []metav1.LabelSelector{ciliumPeer(r.peer)}
		}
		cnp.Spec.Egress = append(cnp.Spec.Egress, out)
	}
	return cnp
}

// ciliumPeer selects a peer's pods; those of another namespace by the
// namespace label Cilium gives every pod.
func ciliumPeer(peer networkingv1.NetworkPolicyPeer) metav1.LabelSelector {
	sel := *peer.PodSelector.DeepCopy()
	sel.MatchLabels = maps.Clone(sel.MatchLabels)
	var ns string
	named := false
	if peer.NamespaceSelector != nil {
		ns, named = peer.NamespaceSelector.MatchLabels[namespaceNameLabel]
	}
	switch {
	case peer.NamespaceSelector == nil:
	case named:
		if sel.MatchLabels == nil {
			sel.MatchLabels = map[string]string{}
		}
		sel.MatchLabels[ciliumNamespaceLabel] = ns
	default:
		// Every namespace: a selector that names no namespace label is
		// confined to the policy's own namespace by Cilium.
		sel.MatchExpressions = append(slices.Clone(sel.MatchExpressions), metav1.LabelSelectorRequirement{Key: ciliumNamespaceLabel, Operator: metav1.LabelSelectorOpExists})
	}
	return sel
}

// ciliumPorts are the rule's ports as toPorts, none for every port.
func (r *rule) ciliumPorts() []CiliumPortRule {
	ports := r.portList()
	if len(ports) == 0 {
		return nil
	}
	var out []CiliumPort
	for _, port := range ports {
		out = append(out, CiliumPort{Port: port.Port.String(), Protocol: string(*port.Protocol)})
	}
	return []CiliumPortRule{{Ports: out}}
}
