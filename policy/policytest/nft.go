// Package policytest enforces Kubernetes NetworkPolicies on a test's own
// pods, so a test can check suggested policies against real packets: it
// works out, for each pod, what the policies let in and out, and writes
// that as an nftables table to load in the pod's network namespace.
//
// It follows the NetworkPolicy API as written: a pod is isolated for
// ingress (egress) once a policy of its namespace selects it with that
// policy type; an isolated pod admits a connection only when a rule of a
// policy selecting it admits both the peer and the port; a connection
// needs the source's egress and the destination's ingress; replies are
// always allowed. Peers and named ports are resolved against the pods
// given, into concrete addresses and numbers, as a CNI plugin does. It is
// for tests only: the project itself never enforces anything.
package policytest

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pod is what the policies see of a pod.
type Pod struct {
	Name            string
	Namespace       string
	Labels          map[string]string
	NamespaceLabels map[string]string // the labels of the pod's Namespace
	Addrs           []netip.Addr
	Ports           []Port // the ports its containers declare, for named ports
}

// Port is a container port.
type Port struct {
	Name     string
	Number   uint16
	Protocol corev1.Protocol // "" is TCP
}

// Allow is one kind of connection a pod admits: from (ingress) or to
// (egress) the addresses of Peer less those of Except, with Protocol on
// ports From to To.
type Allow struct {
	Peer     netip.Prefix   // the zero Prefix is every address
	Except   []netip.Prefix // within Peer
	Protocol corev1.Protocol
	From, To uint16 // 0: every port of Protocol; "" Protocol: everything
}

// Rules are what the policies let in and out of one pod.
type Rules struct {
	Pod                             string
	IngressIsolated, EgressIsolated bool
	Ingress, Egress                 []Allow
}

// Translate works out the rules of each pod, in the order of pods.
func Translate(pods []Pod, policies []*networkingv1.NetworkPolicy) []Rules {
	out := make([]Rules, len(pods))
	for i := range pods {
		pod := &pods[i]
		r := Rules{Pod: pod.Name}
		for _, np := range policies {
			if np.Namespace != pod.Namespace || !Selects(&np.Spec.PodSelector, pod.Labels) {
				continue
			}
			ingress, egress := policyTypes(np)
			if ingress {
				r.IngressIsolated = true
				for _, rule := range np.Spec.Ingress {
					r.Ingress = append(r.Ingress, allows(pods, np.Namespace, rule.From, rule.Ports, pod)...)
				}
			}
			if egress {
				r.EgressIsolated = true
				for _, rule := range np.Spec.Egress {
					r.Egress = append(r.Egress, allows(pods, np.Namespace, rule.To, rule.Ports, nil)...)
				}
			}
		}
		out[i] = r
	}
	return out
}

// policyTypes says which directions a policy isolates; without
// policyTypes, ingress always and egress when it has egress rules.
func policyTypes(np *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(np.Spec.PolicyTypes) == 0 {
		return true, len(np.Spec.Egress) > 0
	}
	return slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress),
		slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
}

// allows turns one rule of a policy of namespace ns into concrete allows.
// Named ports are resolved on the destination: dst for an ingress rule,
// each peer pod for an egress rule (dst nil).
func allows(pods []Pod, ns string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, dst *Pod) []Allow {
	var targets []target
	for _, peer := range peers {
		targets = append(targets, peerTargets(pods, ns, peer)...)
	}
	if len(peers) == 0 {
		// No peers: every address, and, for an egress rule's named
		// ports, every pod by its own numbers.
		targets = append(targets, target{})
		if dst == nil {
			for _, t := range peerTargets(pods, "", networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}}) {
				t.namedOnly = true
				targets = append(targets, t)
			}
		}
	}
	var out []Allow
	for _, t := range targets {
		// A named port of an egress rule is each peer pod's own; an
		// ipBlock names no pod, so only its numbered ports apply.
		portsOf := dst
		if portsOf == nil {
			portsOf = t.pod
		}
		for _, pr := range portRanges(ports, portsOf, t.namedOnly) {
			pr.Peer, pr.Except = t.block, t.except
			out = append(out, pr)
		}
	}
	return out
}

// target is an address block a peer admits, and the pod it stands for
// when it is one pod's address.
type target struct {
	block  netip.Prefix
	except []netip.Prefix
	pod    *Pod
	// namedOnly: the block's numbered ports are admitted by another
	// target already.
	namedOnly bool
}

// peerTargets lists what one peer admits: the addresses of the pods it
// selects, or its ipBlock.
func peerTargets(pods []Pod, ns string, peer networkingv1.NetworkPolicyPeer) []target {
	if b := peer.IPBlock; b != nil {
		block, err := netip.ParsePrefix(b.CIDR)
		if err != nil {
			return nil // the API server rejects such a policy
		}
		t := target{block: block}
		for _, e := range b.Except {
			if p, err := netip.ParsePrefix(e); err == nil {
				t.except = append(t.except, p)
			}
		}
		return []target{t}
	}
	var out []target
	for i := range pods {
		p := &pods[i]
		if !PeerSelects(peer, ns, p) {
			continue
		}
		for _, a := range p.Addrs {
			out = append(out, target{block: netip.PrefixFrom(a, a.BitLen()), pod: p})
		}
	}
	return out
}

// PeerSelects says whether a peer of a policy of namespace ns selects a
// pod by its labels and its namespace's: a podSelector alone selects in
// ns, a namespaceSelector alone every pod of the namespaces it selects,
// both the pods of those namespaces it selects. An ipBlock selects no pod
// by labels.
func PeerSelects(peer networkingv1.NetworkPolicyPeer, ns string, pod *Pod) bool {
	if peer.IPBlock != nil {
		return false
	}
	inNamespace := pod.Namespace == ns
	if peer.NamespaceSelector != nil {
		inNamespace = Selects(peer.NamespaceSelector, pod.NamespaceLabels)
	}
	return inNamespace && (peer.PodSelector == nil || Selects(peer.PodSelector, pod.Labels))
}

// portRanges are the ports a rule admits on pod (nil when the peer is an
// address block): every port when the rule lists none; a named port only
// where pod declares it with that protocol. namedOnly keeps only the
// named ones.
func portRanges(ports []networkingv1.NetworkPolicyPort, pod *Pod, namedOnly bool) []Allow {
	if len(ports) == 0 && !namedOnly {
		return []Allow{{}}
	}
	var out []Allow
	for _, p := range ports {
		if namedOnly && (p.Port == nil || p.Port.StrVal == "") {
			continue
		}
		protocol := corev1.ProtocolTCP
		if p.Protocol != nil {
			protocol = *p.Protocol
		}
		switch {
		case p.Port == nil:
			out = append(out, Allow{Protocol: protocol})
		case p.Port.StrVal != "":
			if n, ok := namedPort(pod, p.Port.StrVal, protocol); ok {
				out = append(out, Allow{Protocol: protocol, From: n, To: n})
			}
		default:
			to := uint16(p.Port.IntVal)
			if p.EndPort != nil {
				to = uint16(*p.EndPort)
			}
			out = append(out, Allow{Protocol: protocol, From: uint16(p.Port.IntVal), To: to})
		}
	}
	return out
}

// namedPort resolves a port name on a pod's declared ports.
func namedPort(pod *Pod, name string, protocol corev1.Protocol) (uint16, bool) {
	if pod == nil {
		return 0, false
	}
	for _, p := range pod.Ports {
		declared := p.Protocol
		if declared == "" {
			declared = corev1.ProtocolTCP
		}
		if p.Name == name && declared == protocol {
			return p.Number, true
		}
	}
	return 0, false
}

// Selects says whether a label selector selects a set of labels: every
// matchLabels entry and every matchExpressions requirement holds. An empty
// selector selects everything.
func Selects(sel *metav1.LabelSelector, labels map[string]string) bool {
	for k, v := range sel.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, req := range sel.MatchExpressions {
		v, has := labels[req.Key]
		var holds bool
		switch req.Operator {
		case metav1.LabelSelectorOpIn:
			holds = has && slices.Contains(req.Values, v)
		case metav1.LabelSelectorOpNotIn:
			holds = !has || !slices.Contains(req.Values, v)
		case metav1.LabelSelectorOpExists:
			holds = has
		case metav1.LabelSelectorOpDoesNotExist:
			holds = !has
		}
		if !holds {
			return false
		}
	}
	return true
}

// Table is the name of the nftables table NFT writes.
const Table = "stridemap_policy"

// NFT writes a pod's rules as an nftables script for the pod's network
// namespace. Loading it replaces what an earlier one loaded. Connections
// the policies do not admit are refused at once (a TCP reset, an ICMP
// error for UDP and SCTP), so a forbidden call fails fast; other protocols
// (ICMP, neighbour discovery) are left alone, as NetworkPolicy says
// nothing of them.
func NFT(r Rules) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# what the NetworkPolicies let in and out of %s\n", r.Pod)
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", Table, Table, Table)
	chain(&b, "ingress", "input", "saddr", "iifname", r.IngressIsolated, r.Ingress)
	chain(&b, "egress", "output", "daddr", "oifname", r.EgressIsolated, r.Egress)
	b.WriteString("}\n")
	return b.String()
}

func chain(b *strings.Builder, name, hook, addr, iface string, isolated bool, allows []Allow) {
	fmt.Fprintf(b, "\tchain %s {\n\t\ttype filter hook %s priority filter; policy accept;\n", name, hook)
	if isolated {
		fmt.Fprintf(b, "\t\tct state established,related accept\n\t\t%s \"lo\" accept\n", iface)
		for _, a := range allows {
			fmt.Fprintf(b, "\t\t%saccept\n", match(a, addr))
		}
		b.WriteString("\t\tmeta l4proto tcp reject with tcp reset\n\t\tmeta l4proto { udp, sctp } reject\n")
	}
	b.WriteString("\t}\n")
}

// match is the nftables match of one allow, each term followed by a space.
func match(a Allow, addr string) string {
	var m strings.Builder
	if a.Peer.IsValid() {
		family := "ip6"
		if a.Peer.Addr().Is4() {
			family = "ip"
		}
		fmt.Fprintf(&m, "%s %s %s ", family, addr, a.Peer.Masked())
		var except []string
		for _, e := range a.Except {
			if e.Addr().Is4() == a.Peer.Addr().Is4() {
				except = append(except, e.Masked().String())
			}
		}
		if len(except) > 0 {
			fmt.Fprintf(&m, "%s %s != { %s } ", family, addr, strings.Join(except, ", "))
		}
	}
	if a.Protocol != "" {
		fmt.Fprintf(&m, "meta l4proto %s ", strings.ToLower(string(a.Protocol)))
		switch {
		case a.From == 0:
		case a.To <= a.From:
			fmt.Fprintf(&m, "th dport %d ", a.From)
		default:
			fmt.Fprintf(&m, "th dport %d-%d ", a.From, a.To)
		}
	}
	return m.String()
}
