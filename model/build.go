package model

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
	"github.com/stridemap/stridemap/internal/parallel"
)

// Annotations stridemap reads from the manifests themselves.
const (
	// annotationDataStore declares a workload a data store of the given
	// engine when its image and ports don't show it ("postgres").
	annotationDataStore = "stridemap.io/datastore"
	// lastApplied embeds a whole object (possibly a Secret); never kept.
	lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
)

// Build derives the architecture graph from an inventory, then runs the
// detectors in order on it (controls.Detectors lists them). It never fails:
// what it cannot resolve is reported in Graph.Dangling.
func Build(inv *discover.Inventory, detectors ...Detector) *Graph {
	b := newBuilder()
	b.index(inv.Objects)
	b.selectBackends()
	b.addWorkloadNodes()
	b.classifyData()
	b.addDeclaredFlows()
	b.addMonitoringFlows()
	b.addServiceExposure()
	b.addHostExposure()
	b.addIngresses()
	b.addGatewayAPI()
	b.addIstioGateways()
	b.applyMeshEncryption()
	b.addBoundaries()
	b.addTargetPorts()
	b.applyLinkerdEncryption()
	ix := &Index{b}
	for _, detect := range detectors {
		detect(ix)
	}
	b.graph.Gaps = slices.Clone(inv.Gaps)
	g := b.finish()
	stampVersions(g, inv.Objects)
	g.EachEvidence(b.text.shareEvidence)
	return g
}

// sharedText makes the evidence that names the same object, field or
// detail share one string. Detectors write them per control ("Deployment
// shop/cart" once for each control of the workload, the same field path in
// every copy of a workload): at 500 copies of Online Boutique the copies
// were a tenth of the graph, and the graph outlives the decoded objects.
// Controls share theirs as they are added, so the copies do not pile up
// while the graph is built, beside the decoded objects; the rest of the
// evidence is shared once the graph is done.
type sharedText map[string]string

func (t sharedText) share(s *string) {
	if *s == "" {
		return
	}
	if v, ok := t[*s]; ok {
		*s = v
		return
	}
	t[*s] = *s
}

func (t sharedText) shareEvidence(e *Evidence) {
	t.share(&e.File)
	t.share(&e.Object)
	t.share(&e.Field)
	t.share(&e.Detail)
}

// stampVersions adds the resourceVersion of each object read from an API
// server to the evidence that points at it.
func stampVersions(g *Graph, objects []*discover.Object) {
	versions := map[string]string{}
	for _, o := range objects {
		if o.ResourceVersion != "" {
			versions[o.Location.File] = o.ResourceVersion
		}
	}
	if len(versions) == 0 {
		return
	}
	g.EachEvidence(func(e *Evidence) {
		if v, ok := versions[e.File]; ok {
			e.Version = v
		}
	})
}

type nsName struct{ ns, name string }

func (k nsName) String() string { return k.ns + "/" + k.name }

type builder struct {
	graph        *Graph
	nodeIndex    map[string]int
	edgeIndex    map[string]int
	controlIndex map[string]int
	text         sharedText
	dangling     map[string]bool
	workloads    []*IndexedWorkload
	workloadsIn  map[string][]*IndexedWorkload // by namespace, in inventory order
	// workloadsLabelled lists the workloads by a label their pod template
	// sets, in inventory order (see selectionCandidates).
	workloadsLabelled map[labelPair][]*IndexedWorkload
	services          map[nsName]*IndexedService
	// servicesSorted lists the Services in namespace and name order;
	// servicesIn and servicesLabelled list them by namespace and by a
	// label of theirs, each list in name order (see indexServices).
	servicesSorted   []*IndexedService
	servicesIn       map[string][]*IndexedService
	servicesLabelled map[labelPair][]*IndexedService
	serviceIPs       map[string]*IndexedService
	configMaps       map[nsName]*corev1.ConfigMap
	// configMapObjects are the same ConfigMaps with where they were read,
	// for evidence that points at a key; configMapObjectsIn lists them by
	// namespace, for loaders that pick them by label.
	configMapObjects   map[nsName]*discover.Object
	configMapObjectsIn map[string][]*discover.Object
	namespaces         map[string]bool
	// namespaceObjects are the Namespace objects read, by name, for
	// selectors that pick namespaces by label.
	namespaceObjects map[string]*discover.Object
	// byKind holds unstructured objects by "group/Kind" for routes and mesh.
	byKind map[string][]*discover.Object
	typed  []*discover.Object
}

func newBuilder() *builder {
	return &builder{
		graph: &Graph{
			Nodes: []Node{}, Edges: []Edge{}, Boundaries: []Boundary{}, Controls: []Control{}, Dangling: []DanglingRef{},
		},
		nodeIndex:          map[string]int{},
		edgeIndex:          map[string]int{},
		controlIndex:       map[string]int{},
		text:               sharedText{},
		dangling:           map[string]bool{},
		workloadsIn:        map[string][]*IndexedWorkload{},
		workloadsLabelled:  map[labelPair][]*IndexedWorkload{},
		services:           map[nsName]*IndexedService{},
		serviceIPs:         map[string]*IndexedService{},
		configMaps:         map[nsName]*corev1.ConfigMap{},
		configMapObjects:   map[nsName]*discover.Object{},
		configMapObjectsIn: map[string][]*discover.Object{},
		namespaces:         map[string]bool{},
		namespaceObjects:   map[string]*discover.Object{},
		byKind:             map[string][]*discover.Object{},
	}
}

// index sorts objects into the lookups the later steps need, so that every
// step is one pass over the objects it concerns.
func (b *builder) index(objects []*discover.Object) {
	var operated []*discover.Object
	operator := defaultOperatorSettings()
	for _, obj := range objects {
		if obj.Namespace != "" {
			b.namespaces[obj.Namespace] = true
		}
		switch o := obj.Typed.(type) {
		case *corev1.Service:
			s := &IndexedService{Object: obj, Service: o}
			b.services[nsName{obj.Namespace, obj.Name}] = s
			if ip := o.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
				b.serviceIPs[ip] = s
			}
		case *corev1.ConfigMap:
			b.configMaps[nsName{obj.Namespace, obj.Name}] = o
			b.configMapObjects[nsName{obj.Namespace, obj.Name}] = obj
			b.configMapObjectsIn[obj.Namespace] = append(b.configMapObjectsIn[obj.Namespace], obj)
		case *corev1.Namespace:
			b.namespaces[obj.Name] = true
			b.namespaceObjects[obj.Name] = obj
		}
		if obj.Typed != nil {
			b.typed = append(b.typed, obj)
		} else {
			b.byKind[obj.Group()+"/"+obj.Kind] = append(b.byKind[obj.Group()+"/"+obj.Kind], obj)
		}
		if tmpl, ok := podTemplateOf(obj); ok {
			b.addWorkload(tmpl)
			for _, c := range tmpl.Spec.Containers {
				operator.read(c)
			}
		} else if isOperated(obj) {
			operated = append(operated, obj)
		}
	}
	// An operator's custom resource stands for the StatefulSet it creates,
	// unless that StatefulSet was read too (a live scan lists both).
	statefulSets := map[nsName]bool{}
	for _, w := range b.workloads {
		if w.Template.Object.Kind == "StatefulSet" {
			statefulSets[nsName{w.Template.Object.Namespace, w.Template.Object.Name}] = true
		}
	}
	for _, obj := range operated {
		if tmpl, ok := operatedTemplate(obj, operator); ok && !statefulSets[nsName{tmpl.Object.Namespace, tmpl.Name()}] {
			b.addWorkload(tmpl)
		}
	}
	b.indexServices()
}

// indexServices lists the Services by namespace and by each of their
// labels, in namespace and name order as Index.Services does, for
// selectors that pick Services by label (a ServiceMonitor's).
func (b *builder) indexServices() {
	b.servicesSorted = sortedServices(b.services)
	b.servicesIn = map[string][]*IndexedService{}
	b.servicesLabelled = map[labelPair][]*IndexedService{}
	for _, s := range b.servicesSorted {
		ns := s.Object.Namespace
		b.servicesIn[ns] = append(b.servicesIn[ns], s)
		for k, v := range s.Service.Labels {
			key := labelPair{ns, k, v}
			b.servicesLabelled[key] = append(b.servicesLabelled[key], s)
		}
	}
}

// serviceCandidates is selectionCandidates for selectors of Services by
// their labels: the Services of a namespace carrying the rarest of its
// labels, in name order, or all of the namespace's.
func (b *builder) serviceCandidates(namespace string, matchLabels map[string]string) []*IndexedService {
	return rarestLabel(b.servicesLabelled, b.servicesIn[namespace], namespace, matchLabels, func(string) bool { return true })
}

func (b *builder) addWorkload(tmpl PodTemplate) {
	tmpl.containers = tmpl.listContainers()
	w := &IndexedWorkload{Template: tmpl}
	b.workloads = append(b.workloads, w)
	b.workloadsIn[tmpl.Object.Namespace] = append(b.workloadsIn[tmpl.Object.Namespace], w)
	for k, v := range tmpl.Labels {
		key := labelPair{tmpl.Object.Namespace, k, v}
		b.workloadsLabelled[key] = append(b.workloadsLabelled[key], w)
	}
}

// labelPair is one label of a pod template or a Service in one namespace.
type labelPair struct{ namespace, key, value string }

// selectionCandidates narrows the workloads of a namespace to those a
// selector's matchLabels may select: the ones whose pod template sets the
// rarest of its labels that a template must set (any but those controllers
// add to pods). A selector without such a label gets every workload of the
// namespace. Callers still match the whole selector: this keeps matching
// linear where a namespace holds thousands of workloads, each selected by
// its own Service, NetworkPolicy or PodDisruptionBudget. The candidates come
// in inventory order, as the namespace's list does.
func (b *builder) selectionCandidates(namespace string, matchLabels map[string]string) []*IndexedWorkload {
	return rarestLabel(b.workloadsLabelled, b.workloadsIn[namespace], namespace, matchLabels, func(key string) bool { return !IsControllerLabel(key) })
}

// rarestLabel is the shortest of the lists byLabel holds for the labels of
// matchLabels that usable accepts, or all when none is usable.
func rarestLabel[T any](byLabel map[labelPair][]T, all []T, namespace string, matchLabels map[string]string, usable func(key string) bool) []T {
	var best []T
	found := false
	for k, v := range matchLabels {
		if !usable(k) {
			continue
		}
		list := byLabel[labelPair{namespace, k, v}]
		if !found || len(list) < len(best) {
			best, found = list, true
		}
	}
	if !found {
		return all
	}
	return best
}

// selectBackends matches each Service's selector against pod template
// labels in its namespace, and the labels controllers add to pods.
func (b *builder) selectBackends() {
	for _, s := range b.services {
		if len(s.Service.Spec.Selector) == 0 {
			continue
		}
		selector := labels.SelectorFromSet(s.Service.Spec.Selector)
		byController := hasControllerLabel(s.Service.Spec.Selector)
		for _, w := range b.selectionCandidates(s.Object.Namespace, s.Service.Spec.Selector) {
			if byController && selectsPodsOf(s.Service.Spec.Selector, w) || !byController && selector.Matches(labels.Set(w.Template.Labels)) {
				s.Backends = append(s.Backends, w)
			}
		}
	}
}

func (b *builder) addWorkloadNodes() {
	nodes := parallel.Map(len(b.workloads), func(i int) Node {
		t := b.workloads[i].Template
		obj := t.Object
		ref := obj.Ref() // made once: the node's and each container's evidence name it
		n := Node{
			ID:          "workload:" + obj.Namespace + "/" + t.Name(),
			Type:        Process,
			Name:        t.Name(),
			Namespace:   obj.Namespace,
			Kind:        obj.Kind,
			Origin:      obj.Origin,
			Workload:    t.summarise(),
			Labels:      screenedLabels(LabelsOf(obj)),
			Annotations: keptAnnotations(AnnotationsOf(obj)),
			Evidence:    []Evidence{{File: obj.Location.File, Line: obj.Location.Line, Object: ref}},
		}
		for c, settings := range b.settingsOf(t) {
			n.Workload.Containers[c].Settings = settings
		}
		for c, cr := range t.Containers() {
			n.Workload.Containers[c].UnreadConfig = b.unreadConfigFiles(t, cr)
			n.Workload.Containers[c].Evidence = Evidence{File: obj.Location.File, Line: obj.LineOf(cr.Path), Object: ref, Field: cr.Path}
		}
		if ds := recogniseDataStore(t); ds != nil {
			n.Type, n.DataStore = DataStore, ds
		}
		return n
	})
	for i, w := range b.workloads {
		w.ID = b.addNode(nodes[i], w.Template.Object.Kind)
	}
	for _, s := range b.services {
		for _, w := range s.Backends {
			n := b.node(w.ID)
			n.Services = append(n.Services, s.Object.Namespace+"/"+s.Object.Name)
		}
	}
}

// addNode adds n, keeping IDs unique: two objects of different kinds with the
// same name get the kind appended ("workload:shop/x~statefulset"). It
// returns the ID used.
func (b *builder) addNode(n Node, kind string) string {
	if _, taken := b.nodeIndex[n.ID]; taken {
		n.ID += "~" + strings.ToLower(kind)
	}
	b.nodeIndex[n.ID] = len(b.graph.Nodes)
	b.graph.Nodes = append(b.graph.Nodes, n)
	return n.ID
}

func (b *builder) node(id string) *Node {
	if i, ok := b.nodeIndex[id]; ok {
		return &b.graph.Nodes[i]
	}
	return nil
}

// externalNode returns the node for a host outside the cluster, adding it
// on first use.
func (b *builder) externalNode(host string) string {
	id := "external:" + host
	if host == "internet" {
		id = InternetID
	}
	if b.node(id) == nil {
		kind := "Host"
		if id == InternetID {
			kind = "Internet"
		}
		b.addNode(Node{ID: id, Type: ExternalEntity, Name: host, Kind: kind}, kind)
	}
	return id
}

// flow is an edge about to be added or merged.
type flow struct {
	from, to         string
	port             int32
	protocol         string
	protocolSource   string
	encryption       Encryption
	encryptionSource string
	via              string
	evidence         []Evidence
}

// addFlow adds an edge, or merges evidence into the edge already there for
// the same from, to and port.
func (b *builder) addFlow(f flow) {
	if f.from == f.to {
		return // a workload calling its own Service is not a flow between elements
	}
	if f.protocol == "" {
		f.protocol = "tcp"
	}
	if f.encryption == "" {
		f.encryption = EncryptionUnknown
	}
	id := fmt.Sprintf("%s->%s:%d", f.from, f.to, f.port)
	if i, ok := b.edgeIndex[id]; ok {
		e := &b.graph.Edges[i]
		for _, ev := range f.evidence {
			if !slices.Contains(e.Evidence, ev) {
				e.Evidence = append(e.Evidence, ev)
			}
		}
		if e.Protocol == "tcp" && f.protocol != "tcp" {
			e.Protocol, e.ProtocolSource = f.protocol, f.protocolSource
		}
		if e.Encryption == EncryptionUnknown && f.encryption != EncryptionUnknown {
			e.Encryption, e.EncryptionSource = f.encryption, f.encryptionSource
		}
		return
	}
	b.edgeIndex[id] = len(b.graph.Edges)
	b.graph.Edges = append(b.graph.Edges, Edge{
		ID: id, From: f.from, To: f.to, Port: f.port,
		Protocol: f.protocol, ProtocolSource: f.protocolSource,
		Encryption: f.encryption, EncryptionSource: f.encryptionSource,
		Via: f.via, Declared: true, Evidence: f.evidence,
	})
}

func (b *builder) addDangling(d DanglingRef) {
	key := d.From + "|" + d.Target + "|" + d.Evidence.Location() + "|" + d.Evidence.Field
	if b.dangling[key] {
		return
	}
	b.dangling[key] = true
	b.graph.Dangling = append(b.graph.Dangling, d)
}

// finish sorts everything so the same input always gives the same graph.
func (b *builder) finish() *Graph {
	g := b.graph
	sort.SliceStable(g.Nodes, func(i, j int) bool { return g.Nodes[i].ID < g.Nodes[j].ID })
	sort.SliceStable(g.Edges, func(i, j int) bool { return g.Edges[i].ID < g.Edges[j].ID })
	sort.SliceStable(g.Controls, func(i, j int) bool {
		a, c := &g.Controls[i], &g.Controls[j]
		if a.Target != c.Target {
			return a.Target < c.Target
		}
		return a.ID < c.ID
	})
	sort.SliceStable(g.Dangling, func(i, j int) bool {
		a, c := g.Dangling[i], g.Dangling[j]
		if a.From != c.From {
			return a.From < c.From
		}
		if a.Evidence.File != c.Evidence.File {
			return a.Evidence.File < c.Evidence.File
		}
		return a.Evidence.Line < c.Evidence.Line
	})
	for i := range g.Nodes {
		sort.Strings(g.Nodes[i].Services)
	}
	for i := range g.Boundaries {
		sort.Strings(g.Boundaries[i].Members)
	}
	return g
}

// LabelsOf returns the labels of a typed or unstructured object.
func LabelsOf(obj *discover.Object) map[string]string {
	if m, ok := obj.Typed.(interface{ GetLabels() map[string]string }); ok {
		return m.GetLabels()
	}
	return fields.StringMap(obj.Fields, "metadata", "labels")
}

// AnnotationsOf returns the annotations of a typed or unstructured object.
func AnnotationsOf(obj *discover.Object) map[string]string {
	if m, ok := obj.Typed.(interface{ GetAnnotations() map[string]string }); ok {
		return m.GetAnnotations()
	}
	return fields.StringMap(obj.Fields, "metadata", "annotations")
}

// annotation returns one annotation of a typed or unstructured object.
func annotation(obj *discover.Object, key string) string {
	return AnnotationsOf(obj)[key]
}

// keptAnnotations drops annotations that embed whole objects and
// fingerprints values that look like credentials (see screened).
func keptAnnotations(in map[string]string) Annotations {
	if len(in) == 0 {
		return nil
	}
	out := Annotations{}
	for k, v := range in {
		if k != lastApplied {
			out[k] = screened(k, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func sortStrings(s []string) { sort.Strings(s) }

// sortedServices lists Services in namespace/name order, so edges and
// dangling references come out in the same order on every run.
func sortedServices(m map[nsName]*IndexedService) []*IndexedService {
	out := make([]*IndexedService, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Object.Namespace != out[j].Object.Namespace {
			return out[i].Object.Namespace < out[j].Object.Namespace
		}
		return out[i].Object.Name < out[j].Object.Name
	})
	return out
}
