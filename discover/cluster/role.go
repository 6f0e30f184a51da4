package cluster

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// AllKinds stands for every kind of a group: Gatekeeper makes one kind per
// constraint template, so their names are known only to the cluster.
const AllKinds = "*"

// Rules are the RBAC rules a live scan of these kinds needs, and no more:
// list, the only verb it uses, on each kind's resource. Resource names are
// the plurals their CRDs declare (see resourceOf).
//
// RBAC cannot grant Secrets as metadata only: list on secrets would let
// another client read their values, though a scan asks only for names.
// Whoever will not grant that drops the rule and the scan says Secrets were
// not read.
func Rules(kinds []Kind) []rbacv1.PolicyRule {
	byGroup := map[string][]string{}
	for _, k := range kinds {
		resource := AllKinds
		if k.Kind != AllKinds {
			resource = resourceOf(k)
		}
		if !slices.Contains(byGroup[k.Group], resource) {
			byGroup[k.Group] = append(byGroup[k.Group], resource)
		}
	}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	rules := make([]rbacv1.PolicyRule, 0, len(groups))
	for _, g := range groups {
		resources := byGroup[g]
		if slices.Contains(resources, AllKinds) {
			resources = []string{AllKinds}
		}
		slices.Sort(resources)
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: resources, Verbs: []string{"list"}})
	}
	return rules
}

// irregularPlurals are the resources of kinds whose CRDs do not name them
// as resourceOf would guess.
var irregularPlurals = map[Kind]string{
	{Group: "monitoring.googleapis.com", Kind: "Rules"}:        "rules",
	{Group: "monitoring.googleapis.com", Kind: "ClusterRules"}: "clusterrules",
	{Group: "monitoring.googleapis.com", Kind: "GlobalRules"}:  "globalrules",
}

// resourceOf is the resource a kind is listed as: the plural Kubernetes
// derives from the kind, as CRDs mostly follow, except that a vowel before
// a final y keeps it (gateways, not gatewaies) and irregularPlurals win.
// A wrong name would grant nothing, and the kind would be a coverage gap.
func resourceOf(k Kind) string {
	if plural, ok := irregularPlurals[k]; ok {
		return plural
	}
	lower := strings.ToLower(k.Kind)
	if n := len(lower); n > 1 && lower[n-1] == 'y' && strings.ContainsRune("aeiou", rune(lower[n-2])) {
		return lower + "s"
	}
	plural, _ := meta.UnsafeGuessKindToResource(schema.GroupVersionKind{Group: k.Group, Kind: k.Kind})
	return plural.Resource
}
