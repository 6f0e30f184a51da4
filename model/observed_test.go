package model

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func observedTestGraph() *Graph {
	return &Graph{
		Nodes: []Node{
			{ID: "workload:shop/cart", Type: Process, Name: "cart", Namespace: "shop", Kind: "Deployment"},
			{ID: "workload:shop/frontend", Type: Process, Name: "frontend", Namespace: "shop", Kind: "Deployment"},
			{ID: "workload:shop/redis", Type: DataStore, Name: "redis", Namespace: "shop", Kind: "StatefulSet"},
		},
		Edges: []Edge{{
			ID: "workload:shop/frontend->workload:shop/cart:7070", From: "workload:shop/frontend", To: "workload:shop/cart", Port: 7070,
			Protocol: "grpc", Encryption: EncryptionUnknown, Declared: true, Evidence: []Evidence{{File: "cart.yaml", Line: 3}},
		}},
		Boundaries: []Boundary{
			{ID: ClusterBoundaryID, Type: BoundaryCluster, Name: "cluster", Members: []string{"workload:shop/cart", "workload:shop/frontend", "workload:shop/redis"}},
			{ID: NamespaceBoundaryID("shop"), Type: BoundaryNamespace, Name: "shop", Parent: ClusterBoundaryID, Members: []string{"workload:shop/cart", "workload:shop/frontend", "workload:shop/redis"}},
		},
		Controls: []Control{}, Dangling: []DanglingRef{},
	}
}

func observedWorkload(ns string, chain ...string) ObservedEndpoint {
	e := ObservedEndpoint{Namespace: ns}
	for i := 0; i+1 < len(chain); i += 2 {
		e.Owners = append(e.Owners, OwnerRef{Kind: chain[i], Name: chain[i+1]})
	}
	return e
}

var (
	obsT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	obsT1 = obsT0.Add(time.Minute)
)

func TestMergeObserved(t *testing.T) {
	g := observedTestGraph()
	frontend := observedWorkload("shop", "Deployment", "frontend", "ReplicaSet", "frontend-5d8f", "Pod", "frontend-5d8f-x2x")
	touched := MergeObserved(g, []ObservedFlow{
		// Declared and observed: the same edge, now observed.
		{From: frontend, To: observedWorkload("shop", "Deployment", "cart", "ReplicaSet", "cart-77", "Pod", "cart-77-a"), Port: 7070,
			Observation: Observation{Connections: 3, BytesSent: 30, BytesReceived: 300, FirstSeen: obsT0, LastSeen: obsT0, Sources: []string{"ebpf"}}},
		// A second observation of it (another replica) adds up.
		{From: frontend, To: observedWorkload("shop", "Deployment", "cart", "Pod", "cart-77-b"), Port: 7070,
			Observation: Observation{Connections: 2, Failed: 1, FirstSeen: obsT1, LastSeen: obsT1, Protocol: "http", Encryption: EncryptionPlaintext, Sources: []string{"ebpf"}}},
		// Observed only, between known nodes; Via a Service.
		{From: observedWorkload("shop", "Deployment", "cart"), To: observedWorkload("shop", "StatefulSet", "redis", "Pod", "redis-0"), Port: 6379, Via: "Service shop/redis",
			Observation: Observation{Connections: 1, FirstSeen: obsT0, LastSeen: obsT1, Protocol: "redis"},
			Evidence:    []Evidence{{Detail: "observed 1 connection"}}},
		// A workload the scan does not know, calling the internet.
		{From: observedWorkload("jobs", "CronJob", "report", "Job", "report-123", "Pod", "report-123-q"), To: ObservedEndpoint{External: "203.0.113.9"}, Port: 443,
			Observation: Observation{Connections: 1, FirstSeen: obsT0, LastSeen: obsT0, Encryption: EncryptionTLS}},
		// Inside one workload: not a flow of the diagram.
		{From: frontend, To: observedWorkload("shop", "Deployment", "frontend"), Port: 15001, Observation: Observation{Connections: 9}},
	})
	wantTouched := []string{
		"workload:jobs/report->external:203.0.113.9:443",
		"workload:shop/cart->workload:shop/redis:6379",
		"workload:shop/frontend->workload:shop/cart:7070",
	}
	if !slices.Equal(touched, wantTouched) {
		t.Errorf("touched %v\nwant %v", touched, wantTouched)
	}

	declared := edgeByID(t, g, "workload:shop/frontend->workload:shop/cart:7070")
	if !declared.Declared || !declared.Observed || declared.Protocol != "grpc" || declared.Encryption != EncryptionPlaintext || declared.EncryptionSource != "observed" {
		t.Errorf("declared edge %+v", declared)
	}
	if o := declared.Observation; o == nil || o.Connections != 5 || o.Failed != 1 || o.BytesSent != 30 || o.BytesReceived != 300 ||
		!o.FirstSeen.Equal(obsT0) || !o.LastSeen.Equal(obsT1) || o.Protocol != "http" || o.Encryption != EncryptionPlaintext || !slices.Equal(o.Sources, []string{"ebpf"}) {
		t.Errorf("declared edge observation %+v", declared.Observation)
	}

	redis := edgeByID(t, g, "workload:shop/cart->workload:shop/redis:6379")
	if redis.Declared || !redis.Observed || redis.Protocol != "redis" || redis.ProtocolSource != "observed" || redis.Via != "Service shop/redis" ||
		len(redis.Crosses) != 0 || len(redis.Evidence) != 1 {
		t.Errorf("observed-only edge %+v", redis)
	}

	egress := edgeByID(t, g, "workload:jobs/report->external:203.0.113.9:443")
	if want := []string{ClusterBoundaryID, InternetBoundaryID, NamespaceBoundaryID("jobs")}; !slices.Equal(egress.Crosses, want) {
		t.Errorf("egress crosses %v, want %v", egress.Crosses, want)
	}
	if n := g.Node("workload:jobs/report"); n == nil || n.Kind != "CronJob" || n.Type != Process || n.Namespace != "jobs" {
		t.Errorf("new workload node %+v", n)
	}
	if n := g.Node("external:203.0.113.9"); n == nil || n.Type != ExternalEntity {
		t.Errorf("new external node %+v", n)
	}
	var boundaries []string
	for _, b := range g.Boundaries {
		boundaries = append(boundaries, b.ID+"="+strings.Join(b.Members, ","))
	}
	want := []string{
		"boundary:internet=external:203.0.113.9",
		"boundary:cluster=workload:jobs/report,workload:shop/cart,workload:shop/frontend,workload:shop/redis",
		"boundary:namespace:jobs=workload:jobs/report",
		"boundary:namespace:shop=workload:shop/cart,workload:shop/frontend,workload:shop/redis",
	}
	if !slices.Equal(boundaries, want) {
		t.Errorf("boundaries\n got %v\nwant %v", boundaries, want)
	}
	if !slices.IsSortedFunc(g.Nodes, func(a, b Node) int { return strings.Compare(a.ID, b.ID) }) ||
		!slices.IsSortedFunc(g.Edges, func(a, b Edge) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("nodes and edges must stay sorted by ID")
	}

	// The observation is part of the graph's JSON.
	b, err := json.Marshal(redis)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"observation":{"connections":1,"bytesSent":0,"bytesReceived":0,"firstSeen":"2025-03-01T12:00:00Z","lastSeen":"2025-03-01T12:01:00Z","protocol":"redis"}`) {
		t.Errorf("JSON: %s", b)
	}
}

// TestMergeObservedFindsKindSuffixedNodes: when two kinds share a name the
// builder suffixes the second ID with its kind; the merger finds it.
func TestMergeObservedFindsKindSuffixedNodes(t *testing.T) {
	g := observedTestGraph()
	g.Nodes = append(g.Nodes, Node{ID: "workload:shop/cart~statefulset", Type: DataStore, Name: "cart", Namespace: "shop", Kind: "StatefulSet"})
	MergeObserved(g, []ObservedFlow{{From: observedWorkload("shop", "Deployment", "frontend"), To: observedWorkload("shop", "StatefulSet", "cart", "Pod", "cart-0"), Port: 5432}})
	edgeByID(t, g, "workload:shop/frontend->workload:shop/cart~statefulset:5432")
	if len(g.Nodes) != 4 {
		t.Errorf("no node should be added: %d nodes", len(g.Nodes))
	}
}

func edgeByID(t *testing.T, g *Graph, id string) *Edge {
	t.Helper()
	for i := range g.Edges {
		if g.Edges[i].ID == id {
			return &g.Edges[i]
		}
	}
	t.Fatalf("no edge %s", id)
	return nil
}

// TestMergeObservedByTargetPort: a flow seen between pods, on the pod port
// a Service forwards to (a mesh proxy dials endpoints directly; Hubble
// reports after the Service's translation), is the declared flow through
// that Service, not a new one; a pod port no Service reaches stays new.
func TestMergeObservedByTargetPort(t *testing.T) {
	g := observedTestGraph()
	g.Edges[0].ID, g.Edges[0].Port, g.Edges[0].TargetPort, g.Edges[0].Via = "workload:shop/frontend->workload:shop/cart:80", 80, 7070, "Service shop/cart"
	frontend, cart := observedWorkload("shop", "Deployment", "frontend"), observedWorkload("shop", "Deployment", "cart")
	touched := MergeObserved(g, []ObservedFlow{
		{From: frontend, To: cart, Port: 7070, Observation: Observation{Connections: 2, Encryption: EncryptionTLS}},
		{From: frontend, To: cart, Port: 80, Via: "Service shop/cart", Observation: Observation{Connections: 1}},
		{From: frontend, To: cart, Port: 9090, Observation: Observation{Connections: 1}},
	})
	want := []string{"workload:shop/frontend->workload:shop/cart:80", "workload:shop/frontend->workload:shop/cart:9090"}
	if !slices.Equal(touched, want) {
		t.Fatalf("touched %v, want %v", touched, want)
	}
	if e := edgeByID(t, g, want[0]); !e.Declared || !e.Observed || e.Observation.Connections != 3 || e.Encryption != EncryptionTLS {
		t.Errorf("declared edge %+v %+v", e, e.Observation)
	}
	if e := edgeByID(t, g, want[1]); e.Declared || !e.Observed {
		t.Errorf("a pod port no Service reaches: %+v", e)
	}
}
