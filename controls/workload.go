package controls

import (
	"strconv"
	"strings"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/parallel"
	"github.com/stridemap/stridemap/model"
)

// Controls a workload's own spec shows, per container or for the pod, and
// the PodDisruptionBudgets that cover it. The threat catalog asks for them
// by name, so the strings are stable.
const (
	RunAsNonRoot                  = "run-as-non-root"
	ReadOnlyRootFilesystem        = "read-only-root-filesystem"
	NoPrivilegeEscalation         = "no-privilege-escalation"
	CapabilitiesDropped           = "capabilities-dropped"
	SeccompProfile                = "seccomp-profile"
	ResourceLimits                = "resource-limits"
	HealthProbes                  = "health-probes"
	ImagePinnedByDigest           = "image-pinned-by-digest"
	ServiceAccountTokenNotMounted = "service-account-token-not-mounted"
	SecretsFromSecretObjects      = "secrets-from-secret-objects"
	PodDisruptionBudget           = "pod-disruption-budget"
)

// WeaknessLiteralCredential: a container sets a variable named like a
// credential to a literal value shaped like one (model.IsLiteralSecret),
// or to a URL with a password. Its evidence is each variable's own line;
// the value is never kept.
const WeaknessLiteralCredential = "literal-credential"

// addWorkloadControls detects mitigations that a workload's spec shows
// directly. Each control points at the lines that establish it; a control
// that holds for only some containers of a pod is not recorded, because
// the weakest container decides.
func addWorkloadControls(ix *model.Index) {
	workloads := ix.Workloads()
	parallel.MapInOrder(len(workloads), func(i int) []model.Control {
		w := workloads[i]
		return workloadControls(w, ix.Node(w.ID))
	}, func(_ int, found []model.Control) {
		for _, c := range found {
			ix.AddControl(c.Type, c.Target, c.Evidence...)
		}
	})
}

// containerCheck is one per-container control: whether a container has it,
// and the field that shows it.
type containerCheck struct {
	kind  string
	has   func(c model.Container) bool
	field string // relative to the container path
}

var containerChecks = []containerCheck{
	{RunAsNonRoot, func(c model.Container) bool {
		return (c.Security.RunAsNonRoot != nil && *c.Security.RunAsNonRoot) || (c.Security.RunAsUser != nil && *c.Security.RunAsUser > 0)
	}, "securityContext"},
	{ReadOnlyRootFilesystem, func(c model.Container) bool { return c.Security.ReadOnlyRootFilesystem }, "securityContext.readOnlyRootFilesystem"},
	{NoPrivilegeEscalation, func(c model.Container) bool {
		return c.Security.AllowPrivilegeEscalation != nil && !*c.Security.AllowPrivilegeEscalation && !c.Security.Privileged
	}, "securityContext.allowPrivilegeEscalation"},
	{CapabilitiesDropped, func(c model.Container) bool {
		for _, d := range c.Security.CapabilitiesDrop {
			if strings.EqualFold(d, "ALL") {
				return true
			}
		}
		return false
	}, "securityContext.capabilities.drop"},
	{SeccompProfile, func(c model.Container) bool {
		return c.Security.SeccompProfile == "RuntimeDefault" || c.Security.SeccompProfile == "Localhost"
	}, "securityContext.seccompProfile"},
	{ResourceLimits, func(c model.Container) bool { return c.Resources.CPULimit != "" && c.Resources.MemoryLimit != "" }, "resources.limits"},
	{HealthProbes, func(c model.Container) bool { return c.Init || (c.Probes.Liveness && c.Probes.Readiness) }, "livenessProbe"},
	{ImagePinnedByDigest, func(c model.Container) bool { return c.Image.Digest != "" }, "image"},
}

// workloadControls lists the controls a workload's own spec shows.
func workloadControls(w *model.IndexedWorkload, n *model.Node) []model.Control {
	var out []model.Control
	add := func(kind string, evidence ...model.Evidence) {
		out = append(out, model.Control{ID: kind + "@" + w.ID, Type: kind, Target: w.ID, Evidence: evidence})
	}
	obj := w.Template.Object
	// The object's name, made once: every control's evidence names it.
	ref := obj.Ref()
	refs := w.Template.Containers()
	for _, check := range containerChecks {
		var evidence []model.Evidence
		for i, c := range n.Workload.Containers {
			if !check.has(c) {
				evidence = nil
				break
			}
			field := refs[i].Path + "." + check.field
			evidence = append(evidence, model.Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: ref, Field: field, Detail: "container " + c.Name})
		}
		if len(evidence) > 0 {
			add(check.kind, evidence...)
		}
	}
	if t := n.Workload.AutomountServiceAccountToken; t != nil && !*t {
		field := w.Template.SpecPath + ".automountServiceAccountToken"
		add(ServiceAccountTokenNotMounted, model.Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: ref, Field: field})
	}
	var fromSecrets, literals []model.Evidence
	for i, c := range n.Workload.Containers {
		for j, e := range c.Env {
			switch {
			case e.Sensitive:
				field := discover.PathIndex(refs[i].Path+".env", j)
				literals = append(literals, model.Evidence{File: obj.Location.File, Line: e.Line, Object: ref, Field: field,
					Detail: "container " + c.Name + " sets " + e.Name + " to a literal value (line " + strconv.Itoa(e.Line) + ")"})
			case e.Source == model.EnvSecret:
				fromSecrets = append(fromSecrets, model.Evidence{File: obj.Location.File, Line: e.Line, Object: ref, Detail: "env " + e.Name + " from " + e.From})
			}
		}
	}
	switch {
	case len(literals) > 0: // a literal credential cancels the control
		add(WeaknessLiteralCredential, literals...)
	case len(fromSecrets) > 0:
		add(SecretsFromSecretObjects, fromSecrets...)
	}
	return out
}

// addDisruptionBudgets records the workloads each PodDisruptionBudget
// selects.
func addDisruptionBudgets(ix *model.Index) {
	for _, obj := range ix.TypedObjects() {
		if o, ok := obj.Typed.(*policyv1.PodDisruptionBudget); ok {
			ev := model.Evidence{File: obj.Location.File, Line: obj.LineOf("spec.selector"), Object: obj.Ref(), Field: "spec.selector"}
			for _, w := range selectWorkloads(ix, obj.Namespace, o.Spec.Selector) {
				ix.AddControl(PodDisruptionBudget, w.ID, ev)
			}
		}
	}
}

// selectWorkloads lists the workloads of a namespace whose pod labels a
// selector matches, in inventory order.
func selectWorkloads(ix *model.Index, namespace string, sel *metav1.LabelSelector) []*model.IndexedWorkload {
	if sel == nil {
		return nil
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil
	}
	var out []*model.IndexedWorkload
	for _, w := range ix.SelectionCandidates(namespace, sel.MatchLabels) {
		if selector.Matches(labels.Set(w.Template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}
