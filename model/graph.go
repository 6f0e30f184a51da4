package model

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stridemap/stridemap/discover"
)

// SchemaVersion is the version of the Graph's JSON form (docs/graph-json.md).
// Bump it when a field changes meaning or disappears; adding a field does not.
const SchemaVersion = 1

// NodeType follows data-flow-diagram conventions.
type NodeType string

const (
	// Process is a workload that runs code: Deployment, StatefulSet, Job …
	Process NodeType = "process"
	// DataStore is a workload recognised as holding data (a database, cache,
	// queue or object store).
	DataStore NodeType = "datastore"
	// ExternalEntity is something outside the cluster: the internet or a host.
	ExternalEntity NodeType = "external"
	// Gateway is where traffic enters the cluster: an Ingress, a Gateway API
	// Gateway or an Istio Gateway.
	Gateway NodeType = "gateway"
)

// InternetID is the ID of the node that stands for the internet.
const InternetID = "external:internet"

// Evidence says where a fact came from, precisely enough to go and look.
type Evidence struct {
	File string `json:"file,omitempty"` // a path as scanned, or an object's API URL
	Line int    `json:"line,omitempty"`
	// Version is the resourceVersion of an object read from an API
	// server: with File, exactly what was read.
	Version string `json:"resourceVersion,omitempty"`
	Object  string `json:"object,omitempty"` // "Deployment shop/cart"
	Field   string `json:"field,omitempty"`  // "spec.template.spec.containers[0].env[2].value"
	Detail  string `json:"detail,omitempty"` // what was seen there, never a secret value
}

// Location renders file:line, or an API object's URL at its version.
func (e Evidence) Location() string {
	at := discover.Location{File: e.File, Line: e.Line}.String()
	if e.Version != "" {
		at += " at resourceVersion " + e.Version
	}
	return at
}

// ElementIDs are the IDs of the graph's nodes, edges and boundaries: what
// a finding can be on.
func (g *Graph) ElementIDs() map[string]bool {
	ids := make(map[string]bool, len(g.Nodes)+len(g.Edges)+len(g.Boundaries))
	for _, n := range g.Nodes {
		ids[n.ID] = true
	}
	for _, e := range g.Edges {
		ids[e.ID] = true
	}
	for _, b := range g.Boundaries {
		ids[b.ID] = true
	}
	return ids
}

// EachEvidence calls fn with every piece of evidence in the graph, so a
// pass can add what the builder did not know.
func (g *Graph) EachEvidence(fn func(*Evidence)) {
	all := func(list []Evidence) {
		for i := range list {
			fn(&list[i])
		}
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		all(n.Evidence)
		for j := range n.Data {
			fn(&n.Data[j].Evidence)
		}
		for j := range n.Exposure {
			fn(&n.Exposure[j].Evidence)
		}
		if n.DataStore != nil {
			fn(&n.DataStore.Evidence)
		}
		if n.Workload != nil {
			for j := range n.Workload.Permissions {
				fn(&n.Workload.Permissions[j].Evidence)
			}
		}
	}
	for i := range g.Edges {
		all(g.Edges[i].Evidence)
		all(g.Edges[i].PolicyEvidence)
	}
	for i := range g.Controls {
		all(g.Controls[i].Evidence)
	}
	for i := range g.Dangling {
		fn(&g.Dangling[i].Evidence)
	}
}

// Node is one element of the data-flow diagram.
type Node struct {
	ID        string   `json:"id"`
	Type      NodeType `json:"type"`
	Name      string   `json:"name"`
	Namespace string   `json:"namespace,omitempty"`
	Kind      string   `json:"kind,omitempty"` // the Kubernetes kind, or "Internet" / "Host"
	// Origin is where the element's object was found when a scan read a
	// repository and a cluster: "repository", "cluster" or "both".
	Origin discover.Origin `json:"origin,omitempty"`

	Workload  *Workload      `json:"workload,omitempty"`
	DataStore *DataStoreInfo `json:"datastore,omitempty"`
	Services  []string       `json:"services,omitempty"` // "ns/name" of Services selecting this workload
	// Data are the classes of data the element holds or handles, as
	// declared (annotation, overlay) or guessed from names (heuristic).
	Data     []DataClass `json:"data,omitempty"`
	Exposure []Exposure  `json:"exposure,omitempty"`
	// GatewayPods are the labels an Istio Gateway's selector requires of
	// the proxy pods that serve it, in any namespace: who a policy must
	// admit for traffic the gateway forwards. Nil when the object does not
	// say (an Ingress or a Gateway API Gateway name a class, not pods).
	GatewayPods Labels      `json:"gatewayPods,omitempty"`
	Labels      Labels      `json:"labels,omitempty"`
	Annotations Annotations `json:"annotations,omitempty"`
	Evidence    []Evidence  `json:"evidence,omitempty"`
}

// Labels and Annotations are string maps; annotations that embed whole
// objects (kubectl's last-applied-configuration) are dropped on the way in.
type (
	Labels      map[string]string
	Annotations map[string]string
)

// DataClass is one class of data an element handles ("pii", "payment",
// "credentials") and how we know.
type DataClass struct {
	Class    string   `json:"class"`
	Source   string   `json:"source"` // "annotation", "overlay" or "heuristic"
	Evidence Evidence `json:"evidence"`
}

// Workload summarises a pod template: what a reviewer and the threat
// catalog ask about a process.
type Workload struct {
	Replicas *int32 `json:"replicas,omitempty"`
	// PodLabels are the labels of the pod template: what NetworkPolicies
	// and Services select, which the object's own labels need not be.
	PodLabels                    Labels      `json:"podLabels,omitempty"`
	ServiceAccount               string      `json:"serviceAccount,omitempty"`
	AutomountServiceAccountToken *bool       `json:"automountServiceAccountToken,omitempty"`
	HostNetwork                  bool        `json:"hostNetwork,omitempty"`
	HostPID                      bool        `json:"hostPID,omitempty"`
	HostIPC                      bool        `json:"hostIPC,omitempty"`
	Containers                   []Container `json:"containers"`
	Volumes                      []Volume    `json:"volumes,omitempty"`
	MeshSidecar                  string      `json:"meshSidecar,omitempty"` // "istio", "linkerd" when injection is declared or its proxy runs
	Schedule                     string      `json:"schedule,omitempty"`    // CronJob schedule
	// Running is what the workload's pods run, read from a live cluster:
	// one entry per distinct container and image, with the digest that
	// runs and the containers admission injected. Empty for manifests.
	Running []RunningContainer `json:"running,omitempty"`
	// Permissions are the RBAC rules granted to the workload's service
	// account through RoleBindings and ClusterRoleBindings in the manifests.
	Permissions []Permission `json:"permissions,omitempty"`
}

// Permission is one RBAC rule that applies to a workload's identity.
type Permission struct {
	Role          string   `json:"role"`    // "ClusterRole cluster-admin", "Role shop/reader"
	Binding       string   `json:"binding"` // "ClusterRoleBinding x", "RoleBinding shop/y"
	Scope         string   `json:"scope"`   // "cluster" or the namespace the binding grants in
	APIGroups     []string `json:"apiGroups,omitempty"`
	Resources     []string `json:"resources,omitempty"`
	ResourceNames []string `json:"resourceNames,omitempty"`
	Verbs         []string `json:"verbs,omitempty"`
	Evidence      Evidence `json:"evidence"`
}

// Container is one container (init containers included, marked).
type Container struct {
	Name      string          `json:"name"`
	Init      bool            `json:"init,omitempty"`
	Image     Image           `json:"image"`
	Ports     []ContainerPort `json:"ports,omitempty"`
	Env       []EnvVar        `json:"env,omitempty"`
	Security  Security        `json:"security"`
	Resources Resources       `json:"resources"`
	Probes    Probes          `json:"probes"`
	// Settings are the container's configuration as rules read it: env,
	// flags and mounted config files, credentials redacted. Rules see
	// them (the cel tag); the store and exports do not, since findings
	// carry what a setting proves and they would grow every node by half.
	Settings []Setting `json:"-" cel:"settings"`
	// UnreadConfig are config files the command line names that the input
	// does not hold ("/data/conf/redis.conf" written by an init container):
	// while one is unread, a setting's absence proves nothing.
	UnreadConfig []string `json:"-" cel:"unreadConfig"`
	// Evidence is the container's own line in the manifest, where a rule
	// about the container as a whole points (one with no probe at all).
	Evidence Evidence `json:"-" cel:"evidence"`
}

// RunningContainer is one container the pods of a workload run, as the
// live API reports it. The template's image may name a tag that moves;
// Digest says what the runtime actually pulled.
type RunningContainer struct {
	Name string `json:"name"`
	Init bool   `json:"init,omitempty"`
	// Injected marks a container the pod template does not declare: an
	// admission webhook added it (a mesh proxy, a secrets agent).
	Injected bool   `json:"injected,omitempty"`
	Image    string `json:"image"` // as the pod names it
	// Digest is the image's digest as the pod's status reports it
	// ("sha256:…"), or the runtime's image ID when it knows no
	// repository digest; empty before the container started.
	Digest string `json:"digest,omitempty"`
}

// Image is a container image reference split into its parts.
type Image struct {
	Ref        string `json:"ref"`
	Registry   string `json:"registry,omitempty"`
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`
}

// ContainerPort is a port a container declares.
type ContainerPort struct {
	Name     string `json:"name,omitempty"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol,omitempty"` // TCP/UDP/SCTP
	HostPort int32  `json:"hostPort,omitempty"`
}

// EnvSource says where an environment variable's value comes from.
type EnvSource string

const (
	EnvLiteral   EnvSource = "literal"
	EnvSecret    EnvSource = "secret"
	EnvConfigMap EnvSource = "configmap"
	EnvField     EnvSource = "field"
	EnvResource  EnvSource = "resource"
)

// EnvVar records an environment variable's name and source, never its value.
// Sensitive is set when the name looks like it holds a credential and the
// value is a literal in the manifest.
type EnvVar struct {
	Name      string    `json:"name"`
	Source    EnvSource `json:"source"`
	From      string    `json:"from,omitempty"` // "secret/NAME:KEY", "configmap/NAME:KEY"
	Sensitive bool      `json:"sensitive,omitempty"`
	Line      int       `json:"line,omitempty"`
}

// Security is a container's effective security context: the container's
// own settings over the pod's.
type Security struct {
	RunAsNonRoot             *bool    `json:"runAsNonRoot,omitempty"`
	RunAsUser                *int64   `json:"runAsUser,omitempty"`
	Privileged               bool     `json:"privileged,omitempty"`
	AllowPrivilegeEscalation *bool    `json:"allowPrivilegeEscalation,omitempty"`
	ReadOnlyRootFilesystem   bool     `json:"readOnlyRootFilesystem,omitempty"`
	CapabilitiesAdd          []string `json:"capabilitiesAdd,omitempty"`
	CapabilitiesDrop         []string `json:"capabilitiesDrop,omitempty"`
	SeccompProfile           string   `json:"seccompProfile,omitempty"`
}

// Resources records which requests and limits are set.
type Resources struct {
	CPURequest    string `json:"cpuRequest,omitempty"`
	CPULimit      string `json:"cpuLimit,omitempty"`
	MemoryRequest string `json:"memoryRequest,omitempty"`
	MemoryLimit   string `json:"memoryLimit,omitempty"`
}

// Probes records which health probes are declared.
type Probes struct {
	Liveness  bool `json:"liveness,omitempty"`
	Readiness bool `json:"readiness,omitempty"`
	Startup   bool `json:"startup,omitempty"`
}

// Volume is a pod volume, summarised by its source.
type Volume struct {
	Name     string `json:"name"`
	Type     string `json:"type"`             // "configMap", "secret", "hostPath", "persistentVolumeClaim", "emptyDir", …
	Source   string `json:"source,omitempty"` // the ConfigMap/Secret/claim name or host path
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// DataStoreInfo says what kind of data store a node is and why we think so.
type DataStoreInfo struct {
	Engine   string   `json:"engine"` // "postgres", "redis", …
	Evidence Evidence `json:"evidence"`
}

// Exposure is one way a node can be reached from outside the cluster.
type Exposure struct {
	Kind     string   `json:"kind"` // "LoadBalancer", "NodePort", "Ingress", "Gateway", "hostPort", "hostNetwork"
	Via      string   `json:"via"`  // the object that exposes it: "Service shop/frontend-external"
	Port     int32    `json:"port,omitempty"`
	Evidence Evidence `json:"evidence"`
}

// Encryption is what we know about whether a flow is encrypted.
type Encryption string

const (
	EncryptionUnknown   Encryption = "unknown"
	EncryptionPlaintext Encryption = "plaintext"
	EncryptionTLS       Encryption = "tls"
	EncryptionMTLS      Encryption = "mtls"
)

// Edge is a data flow from one node to another on one port.
type Edge struct {
	ID       string `json:"id"` // FROM->TO:PORT
	From     string `json:"from"`
	To       string `json:"to"`
	Port     int32  `json:"port,omitempty"` // the port dialled; 0 when the declaration names none and the target has several
	Protocol string `json:"protocol"`       // "http", "grpc", "redis", … or "tcp" when unknown
	// ProtocolSource says which clue decided the protocol: "url-scheme",
	// "otlp-protocol", "app-protocol", "port-name", "otlp-port",
	// "variable-name", "well-known-port", "image" (resolveProtocol weighs
	// them in that order), "route", "listener" or "observed".
	ProtocolSource   string     `json:"protocolSource,omitempty"`
	Encryption       Encryption `json:"encryption"`
	EncryptionSource string     `json:"encryptionSource,omitempty"`
	Via              string     `json:"via,omitempty"` // the Service or route the flow goes through
	// TargetPort is the pod port a flow through a Service (or to a
	// hostPort) reaches, when it is not Port: what a flow seen between
	// pods (a mesh proxy's, or one Hubble reports after the Service's
	// translation) is dialled on, and what NetworkPolicies name.
	TargetPort int32 `json:"targetPort,omitempty"`
	// Policy is what NetworkPolicies (and Cilium/Calico policies) say about
	// the flow: "allowed" (a policy selects the destination and admits the
	// source), "denied" (policies select it and none admits the source), or
	// "" when no policy selects the destination, so everything may connect.
	Policy         string     `json:"policy,omitempty"`
	PolicyEvidence []Evidence `json:"policyEvidence,omitempty"`
	Declared       bool       `json:"declared"`
	Observed       bool       `json:"observed"`
	Crosses        []string   `json:"crosses,omitempty"` // IDs of boundaries crossed
	Evidence       []Evidence `json:"evidence"`
	// Observation is what was seen on the wire (eBPF or an imported flow
	// log); set when Observed is (model/observed.go).
	Observation *Observation `json:"observation,omitempty"`
}

// Verdicts in Edge.Policy.
const (
	PolicyAllowed = "allowed"
	PolicyDenied  = "denied"
)

// BoundaryType classifies a trust boundary.
type BoundaryType string

const (
	BoundaryInternet  BoundaryType = "internet"
	BoundaryCluster   BoundaryType = "cluster"
	BoundaryNamespace BoundaryType = "namespace"
)

// Boundary is a trust boundary and the nodes inside it.
type Boundary struct {
	ID      string       `json:"id"` // "boundary:internet", "boundary:cluster", "boundary:namespace:NAME"
	Type    BoundaryType `json:"type"`
	Name    string       `json:"name"`
	Parent  string       `json:"parent,omitempty"`
	Members []string     `json:"members"`
}

// Control is a mitigation detected in the sources, attached to a node, edge
// or boundary.
type Control struct {
	ID       string     `json:"id"`     // TYPE@TARGET
	Type     string     `json:"type"`   // "run-as-non-root", "read-only-root-fs", "network-policy-default-deny", …
	Target   string     `json:"target"` // node, edge or boundary ID
	Evidence []Evidence `json:"evidence"`
}

// DanglingRef is a reference to something the inventory does not hold: a
// host name that matches no Service, a route to a missing backend.
type DanglingRef struct {
	From     string   `json:"from"`   // node ID of the referrer, or the route object ("HTTPRoute shop/web") when a route names a missing gateway
	Target   string   `json:"target"` // what was named: "cartservice:7070"
	Reason   string   `json:"reason"`
	Evidence Evidence `json:"evidence"`
	// Namespace is set when the reference would resolve had the objects
	// that name no namespace been scanned with -n Namespace.
	Namespace string `json:"namespace,omitempty"`
}

// Graph is the architecture of one scan.
type Graph struct {
	Nodes      []Node     `json:"nodes"`
	Edges      []Edge     `json:"edges"`
	Boundaries []Boundary `json:"boundaries"`
	// Controls are sorted by target, then ID: each element's controls sit
	// together, as the store keeps them (one row per element).
	Controls []Control     `json:"controls"`
	Dangling []DanglingRef `json:"dangling"`
	// Gaps are the kinds a live scan could not read: what depends on them
	// is not assessed rather than reported missing.
	Gaps []discover.Gap `json:"gaps,omitempty"`
	// namespaceHints counts, by namespace and by what names it
	// ("singular|plural"), references that the objects defined without a
	// namespace would satisfy had they been scanned with -n NAMESPACE
	// (Index.HintNamespace). Only the scan's warnings need them, so they
	// are not stored.
	namespaceHints map[string]map[string]int
}

// Node returns the node with id, or nil.
func (g *Graph) Node(id string) *Node {
	for i := range g.Nodes {
		if g.Nodes[i].ID == id {
			return &g.Nodes[i]
		}
	}
	return nil
}

// NamespaceHints says, one line per namespace, how many references would
// resolve had the objects that name no namespace been scanned with
// -n NAMESPACE: manifests written for "kubectl apply -n" name each other
// "svc.NAMESPACE" and bind roles to "NAMESPACE/service-account".
func NamespaceHints(g *Graph) []string {
	counts := map[string]map[string]int{}
	add := func(ns, what string, n int) {
		if counts[ns] == nil {
			counts[ns] = map[string]int{}
		}
		counts[ns][what] += n
	}
	for _, d := range g.Dangling {
		if d.Namespace != "" {
			add(d.Namespace, "dangling reference names a Service|dangling references name Services", 1)
		}
	}
	for ns, byWhat := range g.namespaceHints {
		for what, n := range byWhat {
			add(ns, what, n)
		}
	}
	var out []string
	for _, ns := range slices.Sorted(maps.Keys(counts)) {
		var parts []string
		for _, what := range slices.Sorted(maps.Keys(counts[ns])) {
			one, many, _ := strings.Cut(what, "|")
			if counts[ns][what] != 1 {
				one = many
			}
			parts = append(parts, fmt.Sprintf("%d %s", counts[ns][what], one))
		}
		out = append(out, fmt.Sprintf("%s in namespace %q that the manifests define without a namespace; scan with -n %s to resolve them", strings.Join(parts, " and "), ns, ns))
	}
	return out
}

// NamespaceImplied reports whether a file's object names no namespace, so
// the scan gave it the default (or -n's): a reference to it from another
// namespace may mean the manifests were written for "kubectl apply -n".
func NamespaceImplied(obj *discover.Object) bool {
	if obj == nil || obj.ResourceVersion != "" {
		return false
	}
	_, declared := obj.Lines.Lookup("metadata.namespace")
	return !declared
}
