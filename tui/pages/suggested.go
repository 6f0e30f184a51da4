package pages

import (
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/policy"
	"github.com/stridemap/stridemap/tui/common"
)

// suggestCommand is how a reader gets the suggested policies as files.
const suggestCommand = "stridemap policy suggest -o DIR"

// suggestedPolicy renders the Map's "Suggested NetworkPolicy" section for
// the node at ni: its policy as rules, each with the flows it allows and
// their evidence, then the notes on what no policy can say about it. A
// node that is not a workload has no section. Every name comes from the
// input, so it is escaped.
func suggestedPolicy(st *common.Styles, x *common.GraphIndex, ni int) []string {
	n := &x.Graph.Nodes[ni]
	if n.Workload == nil {
		return nil
	}
	np, notes := x.SuggestedFor(ni)
	var lines []string
	add := func(s string) { lines = append(lines, s) }
	if np == nil {
		add(st.Heading.Render("Suggested NetworkPolicy") + st.Muted.Render("  none for this workload"))
		if len(notes) == 0 {
			add("  no flows: the namespace's " + policy.DefaultDenyName + " leaves it DNS only")
		}
	} else {
		add(st.Heading.Render("Suggested NetworkPolicy") + st.Muted.Render("  "+safetext.Text(np.Name)+" · "+suggestCommand+" writes it"))
		add("  selects " + selectorText(&np.Spec.PodSelector) + st.Muted.Render("  with the namespace's "+policy.DefaultDenyName+" and "+policy.DNSName))
		in, out := allowedFlows(st, x, ni, np)
		for i, r := range np.Spec.Ingress {
			add("  ingress from " + peersText(r.From) + " on " + portsText(r.Ports))
			lines = append(lines, in[i]...)
		}
		for i, r := range np.Spec.Egress {
			add("  egress to " + peersText(r.To) + " on " + portsText(r.Ports))
			lines = append(lines, out[i]...)
		}
		for _, assumes := range strings.Split(np.Annotations[policy.AnnotationNote], "\n") {
			if assumes != "" {
				add("  " + st.BadgeInfo.Render("assumes:") + " " + safetext.Text(assumes))
			}
		}
	}
	for _, note := range notes {
		add("  " + st.BadgeBad.Render("note:") + " " + safetext.Text(note.String()))
	}
	return lines
}

// allowedFlows lists, under each ingress and each egress rule of np, the
// flows of the workload at ni it allows: the flows the policy names
// (with their evidence) whose other end the rule's peers admit; the
// first rule that admits one claims it.
func allowedFlows(st *common.Styles, x *common.GraphIndex, ni int, np *networkingv1.NetworkPolicy) (in, out [][]string) {
	named := map[string]string{}
	for _, line := range strings.Split(np.Annotations[policy.AnnotationFlows], "\n") {
		if id, evidence, ok := strings.Cut(line, " "); ok {
			named[id] = evidence
		}
	}
	var from, to [][]networkingv1.NetworkPolicyPeer
	for _, r := range np.Spec.Ingress {
		from = append(from, r.From)
	}
	for _, r := range np.Spec.Egress {
		to = append(to, r.To)
	}
	list := func(edges []int, rules [][]networkingv1.NetworkPolicyPeer, inbound bool) [][]string {
		buckets := make([][]string, len(rules))
		arrow := "→"
		if inbound {
			arrow = "←"
		}
		for _, e := range edges {
			edge := &x.Graph.Edges[e]
			evidence, ok := named[edge.ID]
			other := edge.To
			if inbound {
				other = edge.From
			}
			oi, found := x.Node(other)
			if !ok || !found {
				continue
			}
			i := slices.IndexFunc(rules, func(peers []networkingv1.NetworkPolicyPeer) bool {
				return slices.ContainsFunc(peers, func(p networkingv1.NetworkPolicyPeer) bool { return peerAdmits(p, np.Namespace, &x.Graph.Nodes[oi]) })
			})
			if i >= 0 {
				buckets[i] = append(buckets[i], "    "+arrow+" "+safetext.Text(edge.ID)+"  "+st.Muted.Render(safetext.Text(evidence)))
			}
		}
		return buckets
	}
	return list(x.In[ni], from, true), list(x.Out[ni], to, false)
}

// peerAdmits reports whether a peer of a policy of namespace ns admits
// node n: a workload by its namespace and pod labels; anything else by
// address, an address the graph does not know only by a block of every
// address.
func peerAdmits(p networkingv1.NetworkPolicyPeer, ns string, n *model.Node) bool {
	if p.IPBlock != nil {
		if n.Workload != nil {
			return false
		}
		_, block, err := net.ParseCIDR(p.IPBlock.CIDR)
		if err != nil {
			return false
		}
		if ip := net.ParseIP(strings.Trim(n.Name, "[]")); ip != nil {
			return block.Contains(ip)
		}
		ones, _ := block.Mask.Size()
		return ones == 0
	}
	if n.Workload == nil {
		return false
	}
	if p.NamespaceSelector != nil {
		if !selects(p.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": n.Namespace}) {
			return false
		}
	} else if n.Namespace != ns {
		return false
	}
	return p.PodSelector == nil || selects(p.PodSelector, n.Workload.PodLabels)
}

// selects matches a selector against labels as the API server would,
// without validating them first: names from files need not be valid
// labels, and the policy was made from them.
func selects(sel *metav1.LabelSelector, set map[string]string) bool {
	for k, v := range sel.MatchLabels {
		if got, ok := set[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range sel.MatchExpressions {
		v, ok := set[r.Key]
		switch r.Operator {
		case metav1.LabelSelectorOpExists:
			if !ok {
				return false
			}
		case metav1.LabelSelectorOpDoesNotExist:
			if ok {
				return false
			}
		case metav1.LabelSelectorOpIn:
			if !ok || !slices.Contains(r.Values, v) {
				return false
			}
		case metav1.LabelSelectorOpNotIn:
			if ok && slices.Contains(r.Values, v) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// selectorText is a selector as kubectl's -l reads it: "app=web,!track".
func selectorText(sel *metav1.LabelSelector) string {
	if sel == nil {
		return "every pod"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(sel.MatchLabels)) {
		parts = append(parts, k+"="+sel.MatchLabels[k])
	}
	for _, r := range sel.MatchExpressions {
		switch r.Operator {
		case metav1.LabelSelectorOpDoesNotExist:
			parts = append(parts, "!"+r.Key)
		case metav1.LabelSelectorOpExists:
			parts = append(parts, r.Key)
		default:
			parts = append(parts, r.Key+" "+strings.ToLower(string(r.Operator))+" ("+strings.Join(r.Values, ",")+")")
		}
	}
	if len(parts) == 0 {
		return "every pod"
	}
	return safetext.Text(strings.Join(parts, ","))
}

// peersText names who a rule admits: pods by selector (and namespace), or
// an address block.
func peersText(peers []networkingv1.NetworkPolicyPeer) string {
	var parts []string
	for _, p := range peers {
		switch {
		case p.IPBlock != nil:
			parts = append(parts, "ipBlock "+safetext.Text(p.IPBlock.CIDR))
		case p.NamespaceSelector != nil:
			ns := selectorText(p.NamespaceSelector)
			if name, ok := p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]; ok && len(p.NamespaceSelector.MatchLabels) == 1 {
				ns = safetext.Text(name)
			}
			parts = append(parts, "pods "+selectorText(p.PodSelector)+" of namespace "+ns)
		default:
			parts = append(parts, "pods "+selectorText(p.PodSelector))
		}
	}
	if len(parts) == 0 {
		return "anywhere"
	}
	return strings.Join(parts, " or ")
}

// portsText lists a rule's ports: "TCP http, TCP 8080".
func portsText(ports []networkingv1.NetworkPolicyPort) string {
	if len(ports) == 0 {
		return "every port"
	}
	var parts []string
	for _, p := range ports {
		s := "TCP"
		if p.Protocol != nil {
			s = string(*p.Protocol)
		}
		if p.Port != nil {
			s += " " + p.Port.String()
		}
		if p.EndPort != nil {
			s += "-" + strconv.Itoa(int(*p.EndPort))
		}
		parts = append(parts, s)
	}
	return safetext.Text(strings.Join(parts, ", "))
}
