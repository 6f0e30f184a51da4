package model

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Observation is what was seen of a flow on the wire, by the eBPF observer
// or in an imported flow log, summed over everything seen of the edge.
type Observation struct {
	Connections uint64 `json:"connections"`      // connections opened
	Failed      uint64 `json:"failed,omitempty"` // connection attempts that never opened
	// BytesSent went from the edge's From to its To, BytesReceived back;
	// payload of the connections that closed while observed.
	BytesSent     uint64    `json:"bytesSent"`
	BytesReceived uint64    `json:"bytesReceived"`
	FirstSeen     time.Time `json:"firstSeen"`
	LastSeen      time.Time `json:"lastSeen"`
	// Protocol and Encryption are what the first payload bytes showed,
	// "" when they were not classified.
	Protocol   string     `json:"protocol,omitempty"`
	Encryption Encryption `json:"encryption,omitempty"`
	// Unclassified says protocol and encryption are unknown because the
	// observer could not look (its kernel refused payload peeking), not
	// because the bytes said nothing.
	Unclassified bool `json:"unclassified,omitempty"`
	// Sources say where the observation came from: "ebpf", "hubble", …
	Sources []string `json:"sources,omitempty"`
}

// add folds another observation of the same edge in.
func (o *Observation) add(p Observation) {
	o.Connections += p.Connections
	o.Failed += p.Failed
	o.BytesSent += p.BytesSent
	o.BytesReceived += p.BytesReceived
	if o.FirstSeen.IsZero() || !p.FirstSeen.IsZero() && p.FirstSeen.Before(o.FirstSeen) {
		o.FirstSeen = p.FirstSeen
	}
	if p.LastSeen.After(o.LastSeen) {
		o.LastSeen = p.LastSeen
	}
	if o.Protocol == "" {
		o.Protocol = p.Protocol
	}
	// Plaintext seen once outweighs TLS seen elsewhere on the same edge.
	if o.Encryption == "" || p.Encryption == EncryptionPlaintext {
		if p.Encryption != "" {
			o.Encryption = p.Encryption
		}
	}
	o.Unclassified = o.Protocol == "" && o.Encryption == "" && (o.Unclassified || p.Unclassified)
	for _, s := range p.Sources {
		if !slices.Contains(o.Sources, s) {
			o.Sources = append(o.Sources, s)
		}
	}
	sort.Strings(o.Sources)
}

// OwnerRef is one link of a pod's ownership chain.
type OwnerRef struct {
	Kind string `json:"kind"` // "Deployment", "ReplicaSet", "Pod", …
	Name string `json:"name"`
}

// ObservedEndpoint is one end of an observed flow, resolved as far as the
// inventory allowed: a workload, given as its ownership chain, or a host
// outside the cluster.
type ObservedEndpoint struct {
	Namespace string
	// Owners goes from the top controller down to the pod, e.g.
	// Deployment shop/cart, ReplicaSet shop/cart-5d8f, Pod shop/cart-5d8f-x2x.
	// The first that is a node of the graph is the endpoint; when none is,
	// a node is added for the first.
	Owners []OwnerRef
	// External names the peer when it is no workload: an IP address or a
	// host name. It becomes the node "external:EXTERNAL".
	External string
}

func (e ObservedEndpoint) String() string {
	if len(e.Owners) == 0 {
		return "external " + e.External
	}
	return e.Owners[0].Kind + " " + e.Namespace + "/" + e.Owners[0].Name
}

// ObservedFlow is a flow seen on the wire between two endpoints, on the
// port the client dialled (the Service port when it dialled a ClusterIP).
type ObservedFlow struct {
	From, To ObservedEndpoint
	Port     int32
	Via      string // "Service shop/cart" when dialled through a ClusterIP
	Observation
	Evidence []Evidence
}

// MergeObserved adds observed flows to a graph: a flow on an edge that
// exists (same from, to and port) marks it observed and adds to its
// observation; any other becomes a new edge that is observed and not
// declared. Endpoints that are not nodes yet are added, with their trust
// boundaries. It returns the IDs of the edges it touched, sorted.
func MergeObserved(g *Graph, flows []ObservedFlow) []string {
	m := newMerger(g)
	touched := map[string]bool{}
	for _, f := range flows {
		from, to := m.endpoint(f.From), m.endpoint(f.To)
		if from == to {
			continue // inside one element: not a flow of the diagram
		}
		touched[m.edge(from, to, f)] = true
	}
	m.finish()
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

type merger struct {
	g     *Graph
	nodes map[string]int
	edges map[string]int
	// byTargetPort finds a declared edge through a Service by the pod port
	// it reaches ("FROM->TO:TARGETPORT"), for flows seen between pods.
	byTargetPort map[string]int
	within       map[string][]string // node ID → boundary IDs
	bounds       map[string]int
	// newBoundaries is set when a boundary was added, so the boundaries
	// need sorting again.
	newBoundaries bool
}

func newMerger(g *Graph) *merger {
	m := &merger{g: g, nodes: map[string]int{}, edges: map[string]int{}, byTargetPort: map[string]int{}, within: map[string][]string{}, bounds: map[string]int{}}
	for i, n := range g.Nodes {
		m.nodes[n.ID] = i
	}
	for i, e := range g.Edges {
		m.edges[e.ID] = i
		if e.TargetPort != 0 {
			m.byTargetPort[fmt.Sprintf("%s->%s:%d", e.From, e.To, e.TargetPort)] = i
		}
	}
	for i, b := range g.Boundaries {
		m.bounds[b.ID] = i
		for _, id := range b.Members {
			m.within[id] = append(m.within[id], b.ID)
		}
	}
	return m
}

// endpoint returns the node ID for an endpoint, adding the node if needed.
func (m *merger) endpoint(e ObservedEndpoint) string {
	if len(e.Owners) == 0 {
		id := "external:" + e.External
		if _, ok := m.nodes[id]; !ok {
			m.addNode(Node{ID: id, Type: ExternalEntity, Name: e.External, Kind: "Host",
				Evidence: []Evidence{{Detail: "observed on the wire"}}})
		}
		return id
	}
	for _, o := range e.Owners {
		if id, ok := m.workloadID(e.Namespace, o); ok {
			return id
		}
	}
	top := e.Owners[0]
	id := "workload:" + e.Namespace + "/" + top.Name
	if _, taken := m.nodes[id]; taken {
		id += "~" + strings.ToLower(top.Kind)
	}
	m.addNode(Node{ID: id, Type: Process, Name: top.Name, Namespace: e.Namespace, Kind: top.Kind,
		Evidence: []Evidence{{Object: top.Kind + " " + e.Namespace + "/" + top.Name, Detail: "observed on the wire; not in the scanned manifests"}}})
	return id
}

// workloadID finds the node of one owner: "workload:NS/NAME", or the same
// with "~kind" when another kind took the plain ID (see builder.addNode).
func (m *merger) workloadID(ns string, o OwnerRef) (string, bool) {
	id := "workload:" + ns + "/" + o.Name
	for _, candidate := range []string{id, id + "~" + strings.ToLower(o.Kind)} {
		if i, ok := m.nodes[candidate]; ok && m.g.Nodes[i].Kind == o.Kind {
			return candidate, true
		}
	}
	return "", false
}

func (m *merger) addNode(n Node) {
	m.nodes[n.ID] = len(m.g.Nodes)
	m.g.Nodes = append(m.g.Nodes, n)
	if n.Type == ExternalEntity {
		m.join(n.ID, Boundary{ID: InternetBoundaryID, Type: BoundaryInternet, Name: "internet"})
		return
	}
	m.join(n.ID, Boundary{ID: ClusterBoundaryID, Type: BoundaryCluster, Name: "cluster"})
	if n.Namespace != "" {
		m.join(n.ID, Boundary{ID: NamespaceBoundaryID(n.Namespace), Type: BoundaryNamespace, Name: n.Namespace, Parent: ClusterBoundaryID})
	}
}

// join puts a node in a boundary, creating the boundary if the graph has
// none of that ID.
func (m *merger) join(node string, b Boundary) {
	i, ok := m.bounds[b.ID]
	if !ok {
		i = len(m.g.Boundaries)
		m.bounds[b.ID] = i
		m.g.Boundaries = append(m.g.Boundaries, b)
		m.newBoundaries = true
	}
	m.g.Boundaries[i].Members = append(m.g.Boundaries[i].Members, node)
	m.within[node] = append(m.within[node], b.ID)
}

// edge merges f into the edge from → to on f's port and returns its ID. A
// flow dialled on a pod port merges into the declared edge through a
// Service that reaches that port, when there is no edge on the port itself.
func (m *merger) edge(from, to string, f ObservedFlow) string {
	id := fmt.Sprintf("%s->%s:%d", from, to, f.Port)
	i, ok := m.edges[id]
	if !ok {
		i, ok = m.byTargetPort[id]
		if ok {
			id = m.g.Edges[i].ID
		}
	}
	if !ok {
		i = len(m.g.Edges)
		m.edges[id] = i
		protocol := f.Protocol
		if protocol == "" {
			protocol = "tcp"
		}
		e := Edge{ID: id, From: from, To: to, Port: f.Port, Protocol: protocol, Encryption: EncryptionUnknown, Via: f.Via, Evidence: []Evidence{}}
		if f.Protocol != "" {
			e.ProtocolSource = "observed"
		}
		e.Crosses = m.crosses(from, to)
		m.g.Edges = append(m.g.Edges, e)
	}
	e := &m.g.Edges[i]
	e.Observed = true
	if e.Observation == nil {
		e.Observation = &Observation{}
	}
	e.Observation.add(f.Observation)
	if e.Protocol == "tcp" && f.Protocol != "" && f.Protocol != "tcp" {
		e.Protocol, e.ProtocolSource = f.Protocol, "observed"
	}
	if e.Encryption == EncryptionUnknown && f.Encryption != "" {
		e.Encryption, e.EncryptionSource = f.Encryption, "observed"
	}
	if e.Via == "" {
		e.Via = f.Via
	}
	for _, ev := range f.Evidence {
		if !slices.Contains(e.Evidence, ev) {
			e.Evidence = append(e.Evidence, ev)
		}
	}
	return id
}

// crosses lists the boundaries that hold exactly one of the two nodes, as
// the builder computes it for declared edges.
func (m *merger) crosses(from, to string) []string {
	var out []string
	a, b := m.within[from], m.within[to]
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	for _, id := range b {
		if !slices.Contains(a, id) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// finish restores the graph's canonical order.
func (m *merger) finish() {
	g := m.g
	sort.SliceStable(g.Nodes, func(i, j int) bool { return g.Nodes[i].ID < g.Nodes[j].ID })
	sort.SliceStable(g.Edges, func(i, j int) bool { return g.Edges[i].ID < g.Edges[j].ID })
	for i := range g.Boundaries {
		sort.Strings(g.Boundaries[i].Members)
	}
	if !m.newBoundaries {
		return
	}
	// The builder's order: internet, cluster, then namespaces by name.
	order := map[BoundaryType]int{BoundaryInternet: 0, BoundaryCluster: 1, BoundaryNamespace: 2}
	sort.SliceStable(g.Boundaries, func(i, j int) bool {
		a, b := g.Boundaries[i], g.Boundaries[j]
		if order[a.Type] != order[b.Type] {
			return order[a.Type] < order[b.Type]
		}
		return a.ID < b.ID
	})
}
