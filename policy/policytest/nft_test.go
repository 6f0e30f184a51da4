package policytest

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestSelects(t *testing.T) {
	app := map[string]string{"app": "cart", "tier": "back"}
	req := func(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	for _, tc := range []struct {
		name string
		sel  metav1.LabelSelector
		want bool
	}{
		{"empty selects all", metav1.LabelSelector{}, true},
		{"matchLabels", metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}}, true},
		{"matchLabels other value", metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, false},
		{"matchLabels absent key", metav1.LabelSelector{MatchLabels: map[string]string{"zone": "a"}}, false},
		{"In", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpIn, "front", "back")}}, true},
		{"In absent key", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("zone", metav1.LabelSelectorOpIn, "a")}}, false},
		{"NotIn", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpNotIn, "back")}}, false},
		{"NotIn absent key", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("zone", metav1.LabelSelectorOpNotIn, "a")}}, true},
		{"Exists", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpExists)}}, true},
		{"DoesNotExist", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpDoesNotExist)}}, false},
		{"DoesNotExist absent key", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("canary", metav1.LabelSelectorOpDoesNotExist)}}, true},
		{"all must hold", metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}, MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpExists), req("canary", metav1.LabelSelectorOpExists)}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Selects(&tc.sel, app); got != tc.want {
				t.Errorf("Selects = %v, want %v", got, tc.want)
			}
			// apimachinery's own reading of the selector agrees.
			s, err := metav1.LabelSelectorAsSelector(&tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Matches(labels.Set(app)); got != tc.want {
				t.Errorf("apimachinery says %v, the case says %v", got, tc.want)
			}
		})
	}
}

// Two pods of shop name port 8080 and 9090 http; web, in another
// namespace, declares none.
var pods = []Pod{
	{Name: "cart", Namespace: "shop", Labels: map[string]string{"app": "cart"}, NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "shop"},
		Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Ports: []Port{{Name: "http", Number: 8080}, {Name: "metrics", Number: 9100, Protocol: corev1.ProtocolUDP}}},
	{Name: "catalog", Namespace: "shop", Labels: map[string]string{"app": "catalog"}, NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "shop"},
		Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.3")}, Ports: []Port{{Name: "http", Number: 9090}}},
	{Name: "web", Namespace: "web", Labels: map[string]string{"app": "web"}, NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "web"},
		Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.4")}},
}

func policy(ns string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns}, Spec: spec}
}

func named(name string) networkingv1.NetworkPolicyPort {
	p := intstr.FromString(name)
	return networkingv1.NetworkPolicyPort{Port: &p}
}

func numbered(protocol corev1.Protocol, port int32, end int32) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(port)
	np := networkingv1.NetworkPolicyPort{Protocol: &protocol, Port: &p}
	if end != 0 {
		np.EndPort = &end
	}
	return np
}

func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestTranslatePorts(t *testing.T) {
	shop := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "shop"}}
	web := policy("web", networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{
			// http is 8080 on cart and 9090 on catalog; metrics is UDP.
			{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: shop}}, Ports: []networkingv1.NetworkPolicyPort{named("http"), named("metrics")}},
			{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24", Except: []string{"192.0.2.128/25"}}}},
				Ports: []networkingv1.NetworkPolicyPort{numbered(corev1.ProtocolTCP, 8000, 8999), named("http")}},
		},
	})
	cart := policy("shop", networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}},
		// No policyTypes: ingress only, as it has no egress rules.
		Ingress: []networkingv1.NetworkPolicyIngressRule{
			{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}, Ports: []networkingv1.NetworkPolicyPort{named("http"), numbered(corev1.ProtocolUDP, 53, 0)}},
			{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}},
		},
	})
	got := Translate(pods, []*networkingv1.NetworkPolicy{web, cart})
	want := []Rules{
		{Pod: "cart", IngressIsolated: true, Ingress: []Allow{
			// Pods of its own namespace, itself included, on http as cart
			// numbers it, and UDP 53.
			{Peer: prefix("10.0.0.2/32"), Protocol: corev1.ProtocolTCP, From: 8080, To: 8080},
			{Peer: prefix("10.0.0.2/32"), Protocol: corev1.ProtocolUDP, From: 53, To: 53},
			{Peer: prefix("10.0.0.3/32"), Protocol: corev1.ProtocolTCP, From: 8080, To: 8080},
			{Peer: prefix("10.0.0.3/32"), Protocol: corev1.ProtocolUDP, From: 53, To: 53},
			{Peer: prefix("10.0.0.4/32")}, // web's pods in any namespace, every port
		}},
		{Pod: "catalog"},
		{Pod: "web", EgressIsolated: true, Egress: []Allow{
			{Peer: prefix("10.0.0.2/32"), Protocol: corev1.ProtocolTCP, From: 8080, To: 8080},
			{Peer: prefix("10.0.0.3/32"), Protocol: corev1.ProtocolTCP, From: 9090, To: 9090},
			// The block names no pod: its named port admits nothing.
			{Peer: prefix("192.0.2.0/24"), Except: []netip.Prefix{prefix("192.0.2.128/25")}, Protocol: corev1.ProtocolTCP, From: 8000, To: 8999},
		}},
	}
	for i := range want {
		if !equalRules(got[i], want[i]) {
			t.Errorf("rules of %s:\n got %+v\nwant %+v", want[i].Pod, got[i], want[i])
		}
	}
	script := NFT(got[2])
	for _, line := range []string{
		"ip daddr 10.0.0.3/32 meta l4proto tcp th dport 9090 accept",
		"ip daddr 192.0.2.0/24 ip daddr != { 192.0.2.128/25 } meta l4proto tcp th dport 8000-8999 accept",
		"meta l4proto tcp reject with tcp reset",
	} {
		if !strings.Contains(script, "\t\t"+line+"\n") {
			t.Errorf("web's nftables script lacks %q:\n%s", line, script)
		}
	}
	if ingress, _, _ := strings.Cut(script, "chain egress"); strings.Contains(ingress, "reject") {
		t.Errorf("web is not isolated for ingress, yet its script rejects there:\n%s", script)
	}
}

func TestTranslateNoPeers(t *testing.T) {
	// An egress rule without peers admits every address on its numbered
	// ports, and each pod on its own number for a named port.
	np := policy("web", networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{named("http"), numbered(corev1.ProtocolTCP, 443, 0)}}},
	})
	got := Translate(pods, []*networkingv1.NetworkPolicy{np})[2]
	want := Rules{Pod: "web", EgressIsolated: true, Egress: []Allow{
		{Protocol: corev1.ProtocolTCP, From: 443, To: 443},
		{Peer: prefix("10.0.0.2/32"), Protocol: corev1.ProtocolTCP, From: 8080, To: 8080},
		{Peer: prefix("10.0.0.3/32"), Protocol: corev1.ProtocolTCP, From: 9090, To: 9090},
	}}
	if !equalRules(got, want) {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
	if script := NFT(got); !strings.Contains(script, "\t\tmeta l4proto tcp th dport 443 accept\n") {
		t.Errorf("the script does not admit every address on 443:\n%s", script)
	}
}

func equalRules(a, b Rules) bool {
	eq := func(x, y Allow) bool {
		return x.Peer == y.Peer && slices.Equal(x.Except, y.Except) && x.Protocol == y.Protocol && x.From == y.From && x.To == y.To
	}
	return a.Pod == b.Pod && a.IngressIsolated == b.IngressIsolated && a.EgressIsolated == b.EgressIsolated &&
		slices.EqualFunc(a.Ingress, b.Ingress, eq) && slices.EqualFunc(a.Egress, b.Egress, eq)
}
