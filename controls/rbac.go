package controls

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
)

// Group subjects that stand for service accounts. A binding to one of them
// grants its role to every workload of the cluster (or of one namespace),
// whichever account it runs as.
const (
	groupAllServiceAccounts = "system:serviceaccounts"
	groupAuthenticated      = "system:authenticated" // every token the API server accepts, service accounts included
	serviceAccountUser      = "system:serviceaccount:"
)

// WeaknessIdleFullAccess marks a boundary where full API access (every
// verb on every resource) is bound to a service account that no scanned
// workload runs as. Nothing in the graph holds the grant, yet its token
// works for anyone who can obtain it or schedule a pod under that account.
const WeaknessIdleFullAccess = "idle-identity-with-full-access"

// ruleAt is one RBAC rule with the place it is written, so a permission can
// point at the rule as well as at the binding.
type ruleAt struct {
	rule  rbacv1.PolicyRule
	where string // "roles.yaml:12", or "" for a built-in role
}

// role is a Role or ClusterRole: its rules, or a note that the cluster
// defines them.
type role struct {
	ref     string // "ClusterRole cluster-admin", "Role shop/reader"
	rules   []ruleAt
	builtin string // why the rules are not in the manifests, for built-in roles
}

// binding is a RoleBinding or ClusterRoleBinding, reduced to what both have.
type binding struct {
	obj      *discover.Object
	scope    string // "cluster", or the namespace a RoleBinding grants in
	roleRef  rbacv1.RoleRef
	subjects []rbacv1.Subject
}

// addRBAC resolves RoleBindings and ClusterRoleBindings to the workloads
// whose service accounts they bind, filling Workload.Permissions. A subject
// names a service account (directly, as the user
// "system:serviceaccount:NS:NAME", or through the groups
// "system:serviceaccounts[:NS]" and "system:authenticated"); the workloads
// running as that account in its namespace get every rule of the bound
// role. A binding to a role the manifests do not define, and that is not
// one of the roles every cluster has, is a dangling reference.
//
// Bindings whose subjects run no scanned workload add nothing: the graph
// has no element to hold them.
func addRBAC(ix *model.Index) {
	roles := map[string]*role{}
	var clusterRoles []*discover.Object
	var bindings []binding
	accounts := map[nsName]*discover.Object{}
	for _, obj := range ix.TypedObjects() {
		switch o := obj.Typed.(type) {
		case *rbacv1.Role:
			roles["Role "+obj.Namespace+"/"+obj.Name] = &role{ref: obj.Ref(), rules: rulesAt(obj, o.Rules)}
		case *rbacv1.ClusterRole:
			roles["ClusterRole "+obj.Name] = &role{ref: obj.Ref(), rules: rulesAt(obj, o.Rules)}
			clusterRoles = append(clusterRoles, obj)
		case *rbacv1.RoleBinding:
			bindings = append(bindings, binding{obj: obj, scope: obj.Namespace, roleRef: o.RoleRef, subjects: o.Subjects})
		case *rbacv1.ClusterRoleBinding:
			if defaultBinding(o) {
				continue
			}
			bindings = append(bindings, binding{obj: obj, scope: "cluster", roleRef: o.RoleRef, subjects: o.Subjects})
		case *corev1.ServiceAccount:
			accounts[nsName{obj.Namespace, obj.Name}] = obj
		}
	}
	aggregateClusterRoles(roles, clusterRoles)

	byAccount := map[nsName][]*model.IndexedWorkload{}
	// impliedAccounts: the service accounts of workloads defined without a
	// namespace, and the namespace the scan gave them.
	impliedAccounts := map[string]string{}
	for _, w := range ix.Workloads() {
		n := ix.Node(w.ID)
		key := nsName{n.Namespace, n.Workload.ServiceAccount}
		byAccount[key] = append(byAccount[key], w)
		if model.NamespaceImplied(w.Template.Object) {
			impliedAccounts[n.Workload.ServiceAccount] = n.Namespace
		}
	}
	granted := map[string]bool{}
	for _, bd := range bindings {
		hintSubjectNamespaces(ix, bd, byAccount, impliedAccounts)
		r := boundRole(ix, bd, roles)
		if r == nil {
			continue
		}
		for _, w := range subjectWorkloads(ix, bd, byAccount) {
			n := ix.Node(w.ID)
			n.Workload.Permissions = append(n.Workload.Permissions, permissions(bd, r, w.subject)...)
			granted[w.ID] = true
		}
		recordIdleFullAccess(ix, bd, r, byAccount, impliedAccounts)
	}
	for id := range granted {
		sortPermissions(ix.Node(id).Workload.Permissions)
	}
	addAccountTokenControls(ix, accounts)
}

// recordIdleFullAccess records, on the cluster boundary (or the binding's
// namespace), each service account subject that receives full access
// while no scanned workload runs as it.
func recordIdleFullAccess(ix *model.Index, bd binding, r *role, byAccount map[nsName][]*model.IndexedWorkload, impliedAccounts map[string]string) {
	if !grantsFullAccess(r) {
		return
	}
	target := model.ClusterBoundaryID
	if bd.scope != "cluster" {
		target = model.NamespaceBoundaryID(bd.obj.Namespace)
	}
	for i, s := range bd.subjects {
		if s.Kind != rbacv1.ServiceAccountKind {
			continue
		}
		ns := s.Namespace
		if ns == "" {
			ns = bd.obj.Namespace
		}
		if len(byAccount[nsName{ns, s.Name}]) > 0 {
			continue // the workloads that use it carry the permission
		}
		field := fmt.Sprintf("subjects[%d]", i)
		detail := fmt.Sprintf("ServiceAccount %s/%s has full access through %s, and no scanned workload runs as it", ns, s.Name, r.ref)
		if given, ok := impliedAccounts[s.Name]; ok && given != ns {
			detail += fmt.Sprintf(" (workloads defined without a namespace run as %s/%s: if they belong in %s, scan with -n %s)", given, s.Name, ns, ns)
		}
		ix.AddControl(WeaknessIdleFullAccess, target, model.Evidence{
			File: bd.obj.Location.File, Line: bd.obj.LineOf(field), Object: bd.obj.Ref(), Field: field, Detail: detail,
		})
	}
}

// hintSubjectNamespaces asks for -n NAMESPACE when a binding names a
// service account in a namespace where no workload runs as it, while
// workloads defined without a namespace run as one of that name: manifests
// written for "kubectl apply -n argocd" bind "argocd/NAME" (Argo CD's
// install.yaml does), and without -n their workloads land elsewhere.
func hintSubjectNamespaces(ix *model.Index, bd binding, byAccount map[nsName][]*model.IndexedWorkload, impliedAccounts map[string]string) {
	for _, s := range bd.subjects {
		if s.Kind != rbacv1.ServiceAccountKind || s.Namespace == "" || len(byAccount[nsName{s.Namespace, s.Name}]) > 0 {
			continue
		}
		if given, ok := impliedAccounts[s.Name]; ok && given != s.Namespace {
			ix.HintNamespace(s.Namespace, "RBAC subject names a service account", "RBAC subjects name service accounts")
		}
	}
}

// grantsFullAccess reports whether a role allows every verb on every
// resource in every API group, as cluster-admin does.
func grantsFullAccess(r *role) bool {
	for _, ra := range r.rules {
		if slices.Contains(ra.rule.Verbs, "*") && slices.Contains(ra.rule.Resources, "*") && slices.Contains(ra.rule.APIGroups, "*") {
			return true
		}
	}
	return false
}

// rulesAt pairs a role's rules with their lines.
func rulesAt(obj *discover.Object, rules []rbacv1.PolicyRule) []ruleAt {
	out := make([]ruleAt, 0, len(rules))
	for i, r := range rules {
		at := discover.Location{File: obj.Location.File, Line: obj.LineOf(fmt.Sprintf("rules[%d]", i))}
		out = append(out, ruleAt{rule: r, where: at.String()})
	}
	return out
}

// aggregateClusterRoles fills ClusterRoles that declare an aggregationRule
// with the rules of the ClusterRoles their selectors match, as the
// controller manager does in a cluster. One level is followed, which is how
// aggregation is used in practice.
func aggregateClusterRoles(roles map[string]*role, clusterRoles []*discover.Object) {
	for _, obj := range clusterRoles {
		agg := obj.Typed.(*rbacv1.ClusterRole).AggregationRule
		if agg == nil {
			continue
		}
		r := roles["ClusterRole "+obj.Name]
		for _, sel := range agg.ClusterRoleSelectors {
			selector, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil || selector.Empty() {
				continue
			}
			for _, other := range clusterRoles {
				if other == obj || !selector.Matches(labels.Set(other.Typed.(*rbacv1.ClusterRole).Labels)) {
					continue
				}
				r.rules = append(r.rules, roles["ClusterRole "+other.Name].rules...)
			}
		}
	}
}

// boundRole finds the role a binding refers to: in the manifests first,
// then among the roles every cluster defines. A role found in neither is
// reported as a dangling reference.
func boundRole(ix *model.Index, bd binding, roles map[string]*role) *role {
	ref := bd.roleRef
	key := "ClusterRole " + ref.Name
	if ref.Kind == "Role" {
		key = "Role " + bd.obj.Namespace + "/" + ref.Name
	}
	if r := roles[key]; r != nil && (ref.Kind == "ClusterRole" || bd.scope != "cluster") {
		return r
	}
	if ref.Kind == "ClusterRole" {
		if r := builtinClusterRole(ref.Name); r != nil {
			return r
		}
	}
	reason := fmt.Sprintf("no %s named %q in the scanned manifests", ref.Kind, ref.Name)
	if ref.Kind == "Role" && bd.scope == "cluster" {
		reason = "a ClusterRoleBinding can only refer to a ClusterRole"
	}
	ix.AddDangling(model.DanglingRef{From: bd.obj.Ref(), Target: key, Reason: reason, Evidence: model.Evidence{
		File: bd.obj.Location.File, Line: bd.obj.LineOf("roleRef"), Object: bd.obj.Ref(), Field: "roleRef",
	}})
	return nil
}

// boundWorkload is a workload a binding applies to and the subject that
// names it.
type boundWorkload struct {
	*model.IndexedWorkload
	subject int
}

// defaultBinding reports whether a ClusterRoleBinding is one Kubernetes
// creates in every cluster, binding a built-in role (discovery, reviewing
// one's own access): what any token may do is the baseline a workload's
// permissions are measured against, not a grant to it. A default binding
// edited to grant another role is not one.
func defaultBinding(b *rbacv1.ClusterRoleBinding) bool {
	return b.Labels["kubernetes.io/bootstrapping"] == "rbac-defaults" && strings.HasPrefix(b.RoleRef.Name, "system:")
}

// subjectWorkloads lists the workloads whose service account a binding's
// subjects include, each once, with the first subject that names it.
func subjectWorkloads(ix *model.Index, bd binding, byAccount map[nsName][]*model.IndexedWorkload) []boundWorkload {
	var out []boundWorkload
	seen := map[string]bool{}
	add := func(ws []*model.IndexedWorkload, subject int) {
		for _, w := range ws {
			if !seen[w.ID] {
				seen[w.ID] = true
				out = append(out, boundWorkload{w, subject})
			}
		}
	}
	for i, s := range bd.subjects {
		switch {
		case s.Kind == rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" && bd.scope != "cluster" {
				ns = bd.obj.Namespace // a RoleBinding's subjects default to its namespace
			}
			add(byAccount[nsName{ns, s.Name}], i)
		case s.Kind == rbacv1.UserKind && strings.HasPrefix(s.Name, serviceAccountUser):
			if ns, name, ok := strings.Cut(strings.TrimPrefix(s.Name, serviceAccountUser), ":"); ok {
				add(byAccount[nsName{ns, name}], i)
			}
		case s.Kind == rbacv1.GroupKind && (s.Name == groupAllServiceAccounts || s.Name == groupAuthenticated):
			for _, key := range sortedAccounts(byAccount) {
				add(byAccount[key], i)
			}
		case s.Kind == rbacv1.GroupKind && strings.HasPrefix(s.Name, groupAllServiceAccounts+":"):
			ns := strings.TrimPrefix(s.Name, groupAllServiceAccounts+":")
			for _, key := range sortedAccounts(byAccount) {
				if key.ns == ns {
					add(byAccount[key], i)
				}
			}
		}
	}
	return out
}

func sortedAccounts(m map[nsName][]*model.IndexedWorkload) []nsName {
	keys := make([]nsName, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

// permissions turns a role's rules into the permissions one subject of a
// binding receives. Evidence points at the subject in the binding, the
// line a reviewer changes to revoke the grant; the detail says where the
// rule is written. Rules about non-resource URLs (/metrics, /healthz) are
// left out: they grant no access to objects.
func permissions(bd binding, r *role, subject int) []model.Permission {
	field := fmt.Sprintf("subjects[%d]", subject)
	s := bd.subjects[subject]
	who := s.Kind + " " + s.Name
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = bd.obj.Namespace
		}
		who = s.Kind + " " + ns + "/" + s.Name
	}
	ev := model.Evidence{File: bd.obj.Location.File, Line: bd.obj.LineOf(field), Object: bd.obj.Ref(), Field: field}
	if len(r.rules) == 0 && r.builtin == "" {
		return nil // a role without rules grants nothing
	}
	if len(r.rules) == 0 {
		ev.Detail = fmt.Sprintf("binds %s to %s; %s", who, r.ref, r.builtin)
		return []model.Permission{{Role: r.ref, Binding: bd.obj.Ref(), Scope: bd.scope, Evidence: ev}}
	}
	var out []model.Permission
	for _, ra := range r.rules {
		if len(ra.rule.Resources) == 0 {
			continue
		}
		pev := ev
		if ra.where != "" {
			pev.Detail = fmt.Sprintf("binds %s to %s (rule at %s)", who, r.ref, ra.where)
		} else {
			pev.Detail = fmt.Sprintf("binds %s to %s; %s", who, r.ref, r.builtin)
		}
		out = append(out, model.Permission{
			Role: r.ref, Binding: bd.obj.Ref(), Scope: bd.scope,
			APIGroups: ra.rule.APIGroups, Resources: ra.rule.Resources, ResourceNames: ra.rule.ResourceNames, Verbs: ra.rule.Verbs,
			Evidence: pev,
		})
	}
	return out
}

// sortPermissions orders a workload's permissions by binding and role, so
// the graph is the same whatever order the files were read in. Rules of one
// role keep their written order.
func sortPermissions(ps []model.Permission) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Binding != ps[j].Binding {
			return ps[i].Binding < ps[j].Binding
		}
		return ps[i].Role < ps[j].Role
	})
}

// The verbs of the built-in roles, as the Kubernetes bootstrap policy names
// them.
var (
	readVerbs  = []string{"get", "list", "watch"}
	writeVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
)

// builtinClusterRole returns the roles every cluster defines. cluster-admin
// is exact. admin, edit and view are aggregated from many rules in a real
// cluster; the rules here keep the ones that decide what a holder can do to
// workloads, secrets, identities and roles, and say that they are a
// summary. Other "system:" roles exist in every cluster too, but their
// rules vary by version and component, so they are recorded without rules.
func builtinClusterRole(name string) *role {
	const summary = "built-in role; the rules shown summarise the Kubernetes default"
	rule := func(groups, resources, verbs []string) ruleAt {
		return ruleAt{rule: rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs}}
	}
	view := []ruleAt{
		rule([]string{""}, []string{"pods", "pods/log", "pods/status", "services", "endpoints", "configmaps", "persistentvolumeclaims",
			"serviceaccounts", "events", "namespaces", "replicationcontrollers"}, readVerbs),
		rule([]string{"apps"}, []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, readVerbs),
		rule([]string{"batch"}, []string{"jobs", "cronjobs"}, readVerbs),
	}
	edit := []ruleAt{
		rule([]string{""}, []string{"pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "configmaps",
			"services", "services/proxy", "serviceaccounts", "persistentvolumeclaims", "replicationcontrollers"}, writeVerbs),
		rule([]string{""}, []string{"serviceaccounts/token"}, []string{"create"}),
		rule([]string{""}, []string{"serviceaccounts"}, []string{"impersonate"}),
		rule([]string{"apps"}, []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, writeVerbs),
		rule([]string{"batch"}, []string{"jobs", "cronjobs"}, writeVerbs),
	}
	switch {
	case name == "cluster-admin":
		return &role{ref: "ClusterRole cluster-admin", builtin: "built-in role: every verb on every resource",
			rules: []ruleAt{rule([]string{"*"}, []string{"*"}, []string{"*"})}}
	case name == "admin":
		rbac := rule([]string{"rbac.authorization.k8s.io"}, []string{"roles", "rolebindings"}, writeVerbs)
		return &role{ref: "ClusterRole admin", builtin: summary, rules: append(append([]ruleAt{}, edit...), rbac)}
	case name == "edit":
		return &role{ref: "ClusterRole edit", builtin: summary, rules: edit}
	case name == "view":
		return &role{ref: "ClusterRole view", builtin: summary, rules: view}
	case strings.HasPrefix(name, "system:"):
		return &role{ref: "ClusterRole " + name, builtin: "built-in role; its rules are defined by the cluster, not in the scanned manifests"}
	}
	return nil
}

// addAccountTokenControls records the token control for workloads whose
// ServiceAccount object sets automountServiceAccountToken: false. The pod's
// own setting wins when it has one (addWorkloadControls handles a pod that sets
// false), so a pod that sets true gets no control.
func addAccountTokenControls(ix *model.Index, accounts map[nsName]*discover.Object) {
	for _, w := range ix.Workloads() {
		n := ix.Node(w.ID)
		if n.Workload.AutomountServiceAccountToken != nil {
			continue
		}
		obj := accounts[nsName{n.Namespace, n.Workload.ServiceAccount}]
		if obj == nil {
			continue
		}
		if t := obj.Typed.(*corev1.ServiceAccount).AutomountServiceAccountToken; t != nil && !*t {
			ix.AddControl(ServiceAccountTokenNotMounted, w.ID, model.Evidence{
				File: obj.Location.File, Line: obj.LineOf("automountServiceAccountToken"), Object: obj.Ref(), Field: "automountServiceAccountToken",
				Detail: "the pod's service account does not mount its token",
			})
		}
	}
}
