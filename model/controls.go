package model

import (
	"strings"

	"github.com/stridemap/stridemap/internal/parallel"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Control types detected from the manifests. The threat catalog asks for
// these by name, so the strings are stable.
const (
	ControlRunAsNonRoot          = "run-as-non-root"
	ControlReadOnlyRootFS        = "read-only-root-filesystem"
	ControlNoPrivilegeEscalation = "no-privilege-escalation"
	ControlCapabilitiesDropped   = "capabilities-dropped"
	ControlSeccomp               = "seccomp-profile"
	ControlResourceLimits        = "resource-limits"
	ControlHealthProbes          = "health-probes"
	ControlNoTokenAutomount      = "service-account-token-not-mounted"
	ControlImageDigest           = "image-pinned-by-digest"
	ControlSecretsFromStore      = "secrets-from-secret-objects"
	ControlDisruptionBudget      = "pod-disruption-budget"
	ControlNetworkPolicy         = "network-policy"
	ControlDefaultDenyIngress    = "network-policy-default-deny-ingress"
	ControlDefaultDenyEgress     = "network-policy-default-deny-egress"
	ControlEncryptedInTransit    = "encrypted-in-transit"
)

// addControls detects mitigations that the manifests show directly. Each
// control is attached to the element it protects and points at the lines
// that establish it; a control that holds for only some containers of a pod
// is not recorded, because the weakest container decides.
func (b *builder) addControls() {
	perWorkload := parallel.Map(len(b.workloads), func(i int) []Control {
		w := b.workloads[i]
		return workloadControls(w, b.node(w.id))
	})
	for _, controls := range perWorkload {
		for _, c := range controls {
			b.addControl(c.Type, c.Target, c.Evidence...)
		}
	}
	b.addPolicyControls()
	for _, e := range b.graph.Edges {
		if e.Encryption == EncryptionTLS || e.Encryption == EncryptionMTLS {
			b.addControl(ControlEncryptedInTransit, e.ID, Evidence{Detail: string(e.Encryption) + ": " + e.EncryptionSource})
		}
	}
}

// addControl attaches a control, merging evidence when several objects
// establish the same control on the same element.
func (b *builder) addControl(kind, target string, evidence ...Evidence) {
	id := kind + "@" + target
	if i, ok := b.controlIndex[id]; ok {
		b.graph.Controls[i].Evidence = append(b.graph.Controls[i].Evidence, evidence...)
		return
	}
	b.controlIndex[id] = len(b.graph.Controls)
	b.graph.Controls = append(b.graph.Controls, Control{ID: id, Type: kind, Target: target, Evidence: evidence})
}

// containerCheck is one per-container control: whether a container has it,
// and the field that shows it.
type containerCheck struct {
	kind  string
	has   func(c Container) bool
	field string // relative to the container path
}

var containerChecks = []containerCheck{
	{ControlRunAsNonRoot, func(c Container) bool {
		return (c.Security.RunAsNonRoot != nil && *c.Security.RunAsNonRoot) || (c.Security.RunAsUser != nil && *c.Security.RunAsUser > 0)
	}, "securityContext"},
	{ControlReadOnlyRootFS, func(c Container) bool { return c.Security.ReadOnlyRootFilesystem }, "securityContext.readOnlyRootFilesystem"},
	{ControlNoPrivilegeEscalation, func(c Container) bool {
		return c.Security.AllowPrivilegeEscalation != nil && !*c.Security.AllowPrivilegeEscalation && !c.Security.Privileged
	}, "securityContext.allowPrivilegeEscalation"},
	{ControlCapabilitiesDropped, func(c Container) bool {
		for _, d := range c.Security.CapabilitiesDrop {
			if strings.EqualFold(d, "ALL") {
				return true
			}
		}
		return false
	}, "securityContext.capabilities.drop"},
	{ControlSeccomp, func(c Container) bool {
		return c.Security.SeccompProfile == "RuntimeDefault" || c.Security.SeccompProfile == "Localhost"
	}, "securityContext.seccompProfile"},
	{ControlResourceLimits, func(c Container) bool { return c.Resources.CPULimit != "" && c.Resources.MemoryLimit != "" }, "resources.limits"},
	{ControlHealthProbes, func(c Container) bool { return c.Init || (c.Probes.Liveness && c.Probes.Readiness) }, "livenessProbe"},
	{ControlImageDigest, func(c Container) bool { return c.Image.Digest != "" }, "image"},
}

// workloadControls lists the controls a workload's own spec shows.
func workloadControls(w *workload, n *Node) []Control {
	var out []Control
	add := func(kind string, evidence ...Evidence) {
		out = append(out, Control{ID: kind + "@" + w.id, Type: kind, Target: w.id, Evidence: evidence})
	}
	obj := w.tmpl.obj
	refs := w.tmpl.containers()
	for _, check := range containerChecks {
		var evidence []Evidence
		for i, c := range n.Workload.Containers {
			if !check.has(c) {
				evidence = nil
				break
			}
			field := refs[i].path + "." + check.field
			evidence = append(evidence, Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: "container " + c.Name})
		}
		if len(evidence) > 0 {
			add(check.kind, evidence...)
		}
	}
	if t := n.Workload.AutomountServiceAccountToken; t != nil && !*t {
		field := w.tmpl.prefix + ".automountServiceAccountToken"
		add(ControlNoTokenAutomount, Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field})
	}
	var fromSecrets []Evidence
	for _, c := range n.Workload.Containers {
		for _, e := range c.Env {
			if e.Sensitive {
				return out // a literal credential cancels the control
			}
			if e.Source == EnvSecret {
				fromSecrets = append(fromSecrets, Evidence{File: obj.Location.File, Line: e.Line, Object: obj.Ref(), Detail: "env " + e.Name + " from " + e.From})
			}
		}
	}
	if len(fromSecrets) > 0 {
		add(ControlSecretsFromStore, fromSecrets...)
	}
	return out
}

// addPolicyControls records PodDisruptionBudgets and NetworkPolicies: which
// workloads they select, and namespaces whose default is deny.
func (b *builder) addPolicyControls() {
	byNamespace := map[string][]*workload{}
	for _, w := range b.workloads {
		byNamespace[w.tmpl.obj.Namespace] = append(byNamespace[w.tmpl.obj.Namespace], w)
	}
	for _, obj := range b.typed {
		switch o := obj.Typed.(type) {
		case *policyv1.PodDisruptionBudget:
			ev := Evidence{File: obj.Location.File, Line: obj.LineOf("spec.selector"), Object: obj.Ref(), Field: "spec.selector"}
			for _, w := range selectWorkloads(byNamespace[obj.Namespace], o.Spec.Selector) {
				b.addControl(ControlDisruptionBudget, w.id, ev)
			}
		case *networkingv1.NetworkPolicy:
			ev := Evidence{File: obj.Location.File, Line: obj.LineOf("spec.podSelector"), Object: obj.Ref(), Field: "spec.podSelector"}
			for _, w := range selectWorkloads(byNamespace[obj.Namespace], &o.Spec.PodSelector) {
				b.addControl(ControlNetworkPolicy, w.id, ev)
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
					b.addControl(ControlDefaultDenyIngress, NamespaceBoundaryID(obj.Namespace), ev)
				case t == networkingv1.PolicyTypeEgress && len(o.Spec.Egress) == 0:
					ev.Detail = "selects every pod and allows no egress"
					b.addControl(ControlDefaultDenyEgress, NamespaceBoundaryID(obj.Namespace), ev)
				}
			}
		}
	}
}

func selectWorkloads(ws []*workload, sel *metav1.LabelSelector) []*workload {
	if sel == nil {
		return nil
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil
	}
	var out []*workload
	for _, w := range ws {
		if selector.Matches(labels.Set(w.tmpl.labels)) {
			out = append(out, w)
		}
	}
	return out
}
