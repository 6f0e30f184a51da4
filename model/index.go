package model

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover"
)

// Detector finds mitigations (and weaknesses) in what Build indexed and
// records them on the graph being built. Build runs the detectors it is
// given in order, once nodes, edges and boundaries exist and before it
// sorts the graph; controls.Detectors lists them. Passing them in keeps
// model from importing the package that detects controls.
type Detector func(ix *Index)

// Index is what Build read from the inventory and the graph it has built so
// far, as detectors see it. Detectors read it and add controls; they may
// annotate nodes and edges (NetworkPolicy verdicts, RBAC permissions) but
// never add or remove them.
type Index struct{ b *builder }

// IndexedWorkload is a pod-running object and the ID of its node.
type IndexedWorkload struct {
	ID       string
	Template PodTemplate
}

// IndexedService is a Service and the workloads its selector picks.
type IndexedService struct {
	Object   *discover.Object
	Service  *corev1.Service
	Backends []*IndexedWorkload
}

// Ref names the Service as evidence does: "Service shop/cart".
func (s *IndexedService) Ref() string { return s.Object.Ref() }

// Workloads lists every pod-running object in inventory order.
func (ix *Index) Workloads() []*IndexedWorkload { return ix.b.workloads }

// WorkloadsIn lists the workloads of one namespace in inventory order:
// what a namespaced policy's selector is tried on.
func (ix *Index) WorkloadsIn(namespace string) []*IndexedWorkload { return ix.b.workloadsIn[namespace] }

// SelectionCandidates lists, in inventory order, the workloads of a
// namespace that a label selector with these matchLabels may select: a
// subset of WorkloadsIn when the selector names a label pod templates set,
// so matching stays linear in large namespaces. The caller still matches
// the whole selector (matchExpressions too).
func (ix *Index) SelectionCandidates(namespace string, matchLabels map[string]string) []*IndexedWorkload {
	return ix.b.selectionCandidates(namespace, matchLabels)
}

// Services lists the Services in namespace/name order. The list is the
// index's own: callers must not change it.
func (ix *Index) Services() []*IndexedService { return ix.b.servicesSorted }

// ServiceCandidates lists, in name order, the Services of a namespace that
// a label selector with these matchLabels may select by their labels: those
// carrying the rarest of its labels, or every Service of the namespace for
// a selector without matchLabels. The caller still matches the whole
// selector.
func (ix *Index) ServiceCandidates(namespace string, matchLabels map[string]string) []*IndexedService {
	return ix.b.serviceCandidates(namespace, matchLabels)
}

// Service returns a Service by namespace and name, or nil.
func (ix *Index) Service(namespace, name string) *IndexedService {
	return ix.b.services[nsName{namespace, name}]
}

// TypedObjects lists the objects the decoder has a Go type for
// (Deployments, NetworkPolicies, RoleBindings …) in inventory order.
func (ix *Index) TypedObjects() []*discover.Object { return ix.b.typed }

// Unstructured lists the objects of one kind the decoder has no Go type
// for (custom resources, older API versions), by "group/Kind":
// "security.istio.io/AuthorizationPolicy", "/LimitRange" for the core group.
func (ix *Index) Unstructured(groupKind string) []*discover.Object {
	return ix.b.byKind[groupKind]
}

// UnstructuredOfGroup lists the unstructured objects of every kind of an
// API group, kind by kind in name order.
func (ix *Index) UnstructuredOfGroup(group string) []*discover.Object {
	var kinds []string
	for gk := range ix.b.byKind {
		if strings.HasPrefix(gk, group+"/") {
			kinds = append(kinds, gk)
		}
	}
	sort.Strings(kinds)
	var out []*discover.Object
	for _, gk := range kinds {
		out = append(out, ix.b.byKind[gk]...)
	}
	return out
}

// Nodes are the graph's nodes, not yet sorted.
func (ix *Index) Nodes() []Node { return ix.b.graph.Nodes }

// Node returns the node with id, or nil.
func (ix *Index) Node(id string) *Node { return ix.b.node(id) }

// Edges are the graph's edges, not yet sorted; a detector may set their
// policy verdicts in place.
func (ix *Index) Edges() []Edge { return ix.b.graph.Edges }

// GatewayNodeID finds the node addGatewayNode made for a gateway object,
// which carries a "~group" suffix when an Ingress of the same name came
// first.
func (ix *Index) GatewayNodeID(obj *discover.Object) string {
	id := "gateway:" + obj.Namespace + "/" + obj.Name
	if n := ix.Node(id); n != nil && n.Kind == obj.Kind && n.Evidence[0].Line == obj.Location.Line && n.Evidence[0].File == obj.Location.File {
		return id
	}
	return id + "~" + strings.ToLower(obj.Group())
}

// PodPort finds the port a flow reaches on its destination workload's
// pods; ok is false when it cannot be known.
func (ix *Index) PodPort(e *Edge, dst *IndexedWorkload) (port PodPort, ok bool) {
	return ix.b.podPortOf(e, dst)
}

// HintNamespace records a reference into namespace that objects defined
// without a namespace would satisfy had the scan been given -n namespace;
// one and many say what names it ("RBAC subject names a service account").
func (ix *Index) HintNamespace(namespace, one, many string) {
	what := one + "|" + many
	g := ix.b.graph
	if g.namespaceHints == nil {
		g.namespaceHints = map[string]map[string]int{}
	}
	if g.namespaceHints[namespace] == nil {
		g.namespaceHints[namespace] = map[string]int{}
	}
	g.namespaceHints[namespace][what]++
}

// AddControl attaches a control to a node, edge or boundary, merging
// evidence when several objects establish the same control on the same
// element.
func (ix *Index) AddControl(kind, target string, evidence ...Evidence) {
	b := ix.b
	for i := range evidence {
		b.text.shareEvidence(&evidence[i])
	}
	id := kind + "@" + target
	if i, ok := b.controlIndex[id]; ok {
		b.graph.Controls[i].Evidence = append(b.graph.Controls[i].Evidence, evidence...)
		return
	}
	b.controlIndex[id] = len(b.graph.Controls)
	b.graph.Controls = append(b.graph.Controls, Control{ID: id, Type: kind, Target: target, Evidence: evidence})
}

// AddDangling reports a reference to something the inventory does not
// hold, once.
func (ix *Index) AddDangling(d DanglingRef) { ix.b.addDangling(d) }
