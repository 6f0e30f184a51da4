package model

import (
	"slices"
	"sort"
)

// Boundary IDs.
const (
	InternetBoundaryID = "boundary:internet"
	ClusterBoundaryID  = "boundary:cluster"
)

// NamespaceBoundaryID is the ID of the trust boundary around a namespace.
func NamespaceBoundaryID(ns string) string { return "boundary:namespace:" + ns }

// addBoundaries puts every node in its trust boundaries (internet, or the
// cluster and its namespace) and records on each edge which boundaries it
// crosses.
func (b *builder) addBoundaries() {
	internet := Boundary{ID: InternetBoundaryID, Type: BoundaryInternet, Name: "internet", Members: []string{}}
	cluster := Boundary{ID: ClusterBoundaryID, Type: BoundaryCluster, Name: "cluster", Members: []string{}}
	namespaces := map[string]*Boundary{}
	within := map[string][]string{} // node ID → the boundaries it is inside
	for _, n := range b.graph.Nodes {
		if n.Type == ExternalEntity {
			internet.Members = append(internet.Members, n.ID)
			within[n.ID] = []string{InternetBoundaryID}
			continue
		}
		cluster.Members = append(cluster.Members, n.ID)
		within[n.ID] = []string{ClusterBoundaryID}
		if n.Namespace == "" {
			continue
		}
		nb := namespaces[n.Namespace]
		if nb == nil {
			nb = &Boundary{ID: NamespaceBoundaryID(n.Namespace), Type: BoundaryNamespace, Name: n.Namespace, Parent: ClusterBoundaryID, Members: []string{}}
			namespaces[n.Namespace] = nb
		}
		nb.Members = append(nb.Members, n.ID)
		within[n.ID] = append(within[n.ID], nb.ID)
	}
	// An edge crosses every boundary that holds exactly one of its ends.
	for i := range b.graph.Edges {
		e := &b.graph.Edges[i]
		from, to := within[e.From], within[e.To]
		for _, id := range from {
			if !slices.Contains(to, id) {
				e.Crosses = append(e.Crosses, id)
			}
		}
		for _, id := range to {
			if !slices.Contains(from, id) {
				e.Crosses = append(e.Crosses, id)
			}
		}
		sort.Strings(e.Crosses)
	}
	if len(internet.Members) > 0 {
		b.graph.Boundaries = append(b.graph.Boundaries, internet)
	}
	if len(cluster.Members) > 0 {
		b.graph.Boundaries = append(b.graph.Boundaries, cluster)
	}
	names := make([]string, 0, len(namespaces))
	for ns := range namespaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		b.graph.Boundaries = append(b.graph.Boundaries, *namespaces[ns])
	}
}
