package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/manifests"
)

// Kind is a kind of object a live scan reads, by API group ("" for the
// core group) and kind. Versions are the server's choice: it serves each
// group's preferred version.
type Kind struct {
	Group string
	Kind  string
}

// String is the kind as kubectl names it: "Deployment.apps", "Service".
func (k Kind) String() string {
	if k.Group == "" {
		return k.Kind
	}
	return k.Kind + "." + k.Group
}

// ScanRequest says which cluster a live scan reads, and which kinds.
type ScanRequest struct {
	Request
	// Kinds are the kinds to read; AllKinds as a Kind reads every kind of
	// its group. Those whose API group the server does not serve are
	// skipped quietly: a cluster without Istio has no VirtualServices to
	// read.
	Kinds []Kind
	// Progress, when set, is called after each kind is read, with the
	// number of objects read so far. Calls never overlap, though lists run
	// concurrently, so the callback needs no lock of its own.
	Progress func(kind Kind, objects int)
	// Concurrency bounds the requests in flight; 0 means 4.
	Concurrency int
}

// served is a kind as the server serves it.
type served struct {
	kind       Kind
	version    string // "v1", the group's preferred version
	resource   string // "deployments"
	namespaced bool
}

func (r served) apiVersion() string {
	if r.kind.Group == "" {
		return r.version
	}
	return r.kind.Group + "/" + r.version
}

// path is the API path that lists the kind in ns ("" for all namespaces).
func (r served) path(ns string) string {
	p := "/apis/" + r.apiVersion()
	if r.kind.Group == "" {
		p = "/api/" + r.version
	}
	if ns != "" && r.namespaced {
		p += "/namespaces/" + ns
	}
	return p + "/" + r.resource
}

// secret reports whether the kind holds secret data: it is listed as
// metadata only, so no value ever leaves the server.
func (r served) secret() bool { return r.kind == Kind{Kind: "Secret"} }

// Scan reads every object of the kinds asked for from a live API server,
// read-only. It asks the server which kinds it serves, then whether this
// identity may list each of them, and lists those it may, a page at a time;
// Secrets are listed as metadata only, so their values are never sent.
// Kinds it may not list become Gaps; a kind that fails to list (a 500, an
// aggregated API that is down) becomes a Problem naming the server and the
// kind; the rest is read. Objects go through the same decoder as
// manifests, so they read exactly like objects from files, without what
// the server adds (status, managedFields, bookkeeping annotations). An
// error means nothing could be read: the server is unreachable or refused
// the credentials.
func Scan(ctx context.Context, req ScanRequest) (*discover.Inventory, error) {
	conn, err := connect(req.Request)
	if err != nil {
		return nil, err
	}
	client, err := rawClient(conn.config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", conn, err)
	}
	s := &scanner{conn: conn, client: client, req: req, inv: &discover.Inventory{}, maps: manifests.NewSharedMaps()}
	if s.req.PageSize <= 0 {
		s.req.PageSize = DefaultPageSize
	}
	if s.req.Concurrency <= 0 {
		s.req.Concurrency = 4
	}
	kinds, err := s.discover(ctx)
	if err != nil {
		return nil, err
	}
	targets := s.allowed(ctx, kinds)
	if len(targets) == 0 && len(kinds) > 0 {
		return nil, fmt.Errorf("%s: these credentials may list none of the %d kinds a scan reads (403 Forbidden): "+
			"bind them the ClusterRole stridemap-reader of deploy/stridemap-reader.yaml, or a Role with its rules in each namespace to scan", conn, len(kinds))
	}
	s.reading = map[Kind]bool{}
	for _, t := range targets {
		s.reading[t.kind] = true
	}
	s.running = newRunning()
	s.list(ctx, targets)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.running.attach(s.inv.Objects)
	s.inv.Sources = []discover.Source{{Kind: SourceAPI, Path: conn.server, Context: conn.context, Objects: len(s.inv.Objects)}}
	return s.inv, nil
}

// rawClient is a REST client that hands back response bodies: lists are
// decoded as plain JSON, so no API group's types are registered.
func rawClient(config *rest.Config) (*rest.RESTClient, error) {
	config = rest.CopyConfig(config)
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, metav1.SchemeGroupVersion)
	config.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	return rest.UnversionedRESTClientFor(config)
}

type scanner struct {
	conn   *connection
	client *rest.RESTClient
	req    ScanRequest
	mu     sync.Mutex // guards inv while lists run
	inv    *discover.Inventory
	// reading is the kinds being listed: what their controllers made is
	// read through them.
	reading map[Kind]bool
	// running gathers what the pods run, for their workloads.
	running *running
	// maps lets the objects read share the small maps they repeat.
	maps *manifests.SharedMaps
}

func (s *scanner) problem(where, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inv.Problems = append(s.inv.Problems, discover.Problem{
		Severity: discover.SeverityError, Code: "api", Location: discover.Location{File: s.conn.server + where}, Message: msg,
	})
}

func (s *scanner) gap(k Kind, ns, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inv.Gaps = append(s.inv.Gaps, discover.Gap{Group: k.Group, Kind: k.Kind, Namespace: ns, Reason: reason})
}

// get reads one API path. Server errors (5xx) and throttling (429) are
// tried again, with backoff; client-go already waits out a Retry-After.
func (s *scanner) get(ctx context.Context, path string, accept string, params map[string]string) ([]byte, error) {
	var err error
	for attempt, wait := 0, 500*time.Millisecond; ; attempt, wait = attempt+1, wait*2 {
		r := s.client.Get().AbsPath(path)
		if accept != "" {
			r.SetHeader("Accept", accept)
		}
		for k, v := range params {
			r.Param(k, v)
		}
		var body []byte
		body, err = r.Do(ctx).Raw()
		if err == nil || attempt == 2 || !retryable(err) {
			return body, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func retryable(err error) bool {
	return apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsUnexpectedServerError(err)
}

// slowServer is how many lists may time out before the server counts as
// not answering: one slow resource is its own problem, a hung server is
// everyone's.
const slowServer = 2

// timedOut reports whether a request got no answer in time.
func timedOut(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}

// unreachable reports whether err is no answer from the server at all:
// refused, unresolvable, a TLS failure, a timeout.
func unreachable(err error) bool {
	var status apierrors.APIStatus
	return !errors.As(err, &status) && !errors.Is(err, context.Canceled)
}

// discover asks the server which of the requested kinds it serves, and
// under which resource names. Only the groups asked for are looked into.
// A group that does not answer (an aggregated API that is down) becomes a
// problem and its kinds are not read.
func (s *scanner) discover(ctx context.Context) ([]served, error) {
	groups := map[string][]Kind{}
	var order []string
	for _, k := range s.req.Kinds {
		if _, ok := groups[k.Group]; !ok {
			order = append(order, k.Group)
		}
		groups[k.Group] = append(groups[k.Group], k)
	}
	// The core group first: if the server cannot be read at all, this is
	// where it shows, and nothing else is tried.
	core, err := s.resources(ctx, "/api/v1")
	if err != nil {
		return nil, s.conn.explainScan(err)
	}
	versions := map[string]string{"": "v1"}
	lists := map[string]*metav1.APIResourceList{"": core}
	if len(order) > 1 || order[0] != "" {
		body, err := s.get(ctx, "/apis", "", nil)
		if err != nil {
			return nil, s.conn.explainScan(err)
		}
		var groupList metav1.APIGroupList
		if err := json.Unmarshal(body, &groupList); err != nil {
			return nil, fmt.Errorf("%s: /apis: %w", s.conn, err)
		}
		for _, g := range groupList.Groups {
			versions[g.Name] = g.PreferredVersion.Version
		}
	}
	var out []served
	for _, group := range order {
		version, ok := versions[group]
		if !ok {
			continue // not served: nothing of it to read
		}
		list := lists[group]
		if list == nil {
			path := "/apis/" + group + "/" + version
			if list, err = s.resources(ctx, path); err != nil {
				if unreachable(err) {
					return nil, s.conn.explainScan(err)
				}
				for _, k := range groups[group] {
					s.gap(k, "", "API group "+group+" did not answer")
				}
				s.problem(path, fmt.Sprintf("API group %s/%s is served but did not answer (%v): its kinds were not read", group, version, shortError(err)))
				continue
			}
		}
		seen := map[string]bool{}
		for _, k := range groups[group] {
			for _, r := range list.APIResources {
				if (k.Kind != AllKinds && r.Kind != k.Kind) || seen[r.Kind] || strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") {
					continue
				}
				seen[r.Kind] = true
				out = append(out, served{kind: Kind{Group: group, Kind: r.Kind}, version: version, resource: r.Name, namespaced: r.Namespaced})
				if k.Kind != AllKinds {
					break
				}
			}
		}
	}
	return out, nil
}

func (s *scanner) resources(ctx context.Context, path string) (*metav1.APIResourceList, error) {
	body, err := s.get(ctx, path, "", nil)
	if err != nil {
		return nil, err
	}
	var list metav1.APIResourceList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.conn, path, err)
	}
	return &list, nil
}

// target is one list to make: a kind, in a namespace or all of them.
type target struct {
	served
	namespace string // "" for all namespaces, or a cluster-scoped kind
}

// scopes are the namespaces to list a kind in: those asked for, else all.
func (s *scanner) scopes(r served) []string {
	if !r.namespaced || len(s.req.Namespaces) == 0 {
		return []string{""}
	}
	return s.req.Namespaces
}

// allowed asks the server, for each kind and scope, whether this identity
// may list it (a SelfSubjectAccessReview, which every identity may make).
// Those it may not become gaps. An identity that may not list a kind in
// every namespace may still list it in the kubeconfig context's namespace,
// as kubectl would.
func (s *scanner) allowed(ctx context.Context, kinds []served) []target {
	var candidates []target
	for _, k := range kinds {
		for _, ns := range s.scopes(k) {
			candidates = append(candidates, target{served: k, namespace: ns})
		}
	}
	ok := make([]bool, len(candidates))
	s.parallel(len(candidates), func(i int) {
		ok[i] = s.mayList(ctx, candidates[i])
	})
	var out []target
	for i, t := range candidates {
		switch {
		case ok[i]:
			out = append(out, t)
		case t.namespaced && t.namespace == "" && s.conn.namespace != "" && s.mayList(ctx, target{served: t.served, namespace: s.conn.namespace}):
			out = append(out, target{served: t.served, namespace: s.conn.namespace})
			s.gap(t.kind, "", discover.GapForbidden+" in all namespaces: read in namespace "+s.conn.namespace+" only")
		default:
			s.gap(t.kind, t.namespace, discover.GapForbidden)
		}
	}
	return out
}

// mayList asks whether the identity may list the target. When the review
// itself fails, the list is tried and its answer counts.
func (s *scanner) mayList(ctx context.Context, t target) bool {
	review := authorizationv1.SelfSubjectAccessReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectAccessReview"},
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: t.namespace, Verb: "list", Group: t.kind.Group, Version: t.version, Resource: t.resource,
		}},
	}
	body, err := json.Marshal(review)
	if err != nil {
		return true
	}
	answer, err := s.client.Post().AbsPath("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").
		SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Raw()
	if err != nil {
		return true
	}
	if err := json.Unmarshal(answer, &review); err != nil {
		return true
	}
	return review.Status.Allowed
}

// parallel runs fn for 0..n-1 with at most Concurrency at once.
func (s *scanner) parallel(n int, fn func(i int)) {
	sem := make(chan struct{}, s.req.Concurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// list reads every target and adds its objects to the inventory, in the
// order of the targets, whatever order the lists finish in. Once the server
// stops answering, the targets not yet read are gaps, with one problem.
func (s *scanner) list(ctx context.Context, targets []target) {
	objects := make([][]*discover.Object, len(targets))
	var mu sync.Mutex
	var lost error
	read, timeouts := 0, 0
	s.parallel(len(targets), func(i int) {
		t := targets[i]
		mu.Lock()
		gone := lost != nil
		mu.Unlock()
		if gone || ctx.Err() != nil {
			s.gap(t.kind, t.namespace, "not read: the server stopped answering")
			return
		}
		objs, err := s.listOne(ctx, t)
		switch {
		case err == nil:
			objects[i] = objs
		case timedOut(err):
			mu.Lock()
			timeouts++
			gone := timeouts == slowServer && lost == nil
			if gone {
				lost = err
			}
			mu.Unlock()
			s.gap(t.kind, t.namespace, "not read: timed out")
			if gone {
				s.problem(t.path(t.namespace), fmt.Sprintf("%d lists timed out (the last: %s) after %s each: the server is too slow, so what was not read yet is missing from the scan; try again, or allow more time with --request-timeout", slowServer, t.resource, s.conn.config.Timeout))
			} else {
				s.problem(t.path(t.namespace), fmt.Sprintf("listing %s timed out after %s; the rest of the cluster was read (allow more time with --request-timeout)", t.resource, s.conn.config.Timeout))
			}
			return
		case unreachable(err):
			mu.Lock()
			first := lost == nil
			if first {
				lost = err
			}
			mu.Unlock()
			s.gap(t.kind, t.namespace, "not read: the server stopped answering")
			if first {
				s.problem(t.path(t.namespace), fmt.Sprintf("the server stopped answering while %s were read (%v): what was not read yet is missing from the scan", t.resource, shortError(err)))
			}
			return
		case apierrors.IsForbidden(err):
			s.gap(t.kind, t.namespace, discover.GapForbidden)
			return
		default:
			s.gap(t.kind, t.namespace, "not read: "+shortError(err))
			s.problem(t.path(t.namespace), fmt.Sprintf("listing %s failed (%v); the rest of the cluster was read", t.resource, shortError(err)))
			return
		}
		mu.Lock()
		defer mu.Unlock()
		read += len(objs)
		if s.req.Progress != nil {
			s.req.Progress(t.kind, read)
		}
	})
	for _, objs := range objects {
		s.inv.Objects = append(s.inv.Objects, objs...)
	}
}

// listPage is a list response, items left as JSON objects.
type listPage struct {
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []map[string]any `json:"items"`
}

// metadataOnly asks the server for a list of object metadata: what Secrets
// are listed as.
const metadataOnly = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

// listOne reads every page of one target. A continue token that expired
// while paging starts the list again once, as kubectl does.
func (s *scanner) listOne(ctx context.Context, t target) ([]*discover.Object, error) {
	var out []*discover.Object
	accept := ""
	if t.secret() {
		accept = metadataOnly
	}
	params := map[string]string{"limit": fmt.Sprint(s.req.PageSize)}
	restarted := false
	for {
		body, err := s.get(ctx, t.path(t.namespace), accept, params)
		if apierrors.IsResourceExpired(err) && !restarted {
			out, restarted = nil, true
			delete(params, "continue")
			continue
		}
		if err != nil {
			return nil, err
		}
		var page listPage
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("the answer is not a list: %w", err)
		}
		for _, item := range page.Items {
			if obj := s.object(t, item); obj != nil {
				out = append(out, obj)
			}
		}
		if page.Metadata.Continue == "" {
			return out, nil
		}
		params["continue"] = page.Metadata.Continue
	}
}

// serverAnnotations are set by the server or its controllers, not by
// whoever wrote the object: they would make a live scan differ from a scan
// of the same objects' manifests.
var serverAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"deployment.kubernetes.io/revision",
	"deprecated.daemonset.template.generation",
}

// object turns one listed item into an Object, through the manifests'
// decoder (DecodeValue, which reads the decoded item as Decode reads a
// file), so that it reads like one from a file. Its location is its API
// path; an item the decoder refuses becomes a problem naming it.
func (s *scanner) object(t target, item map[string]any) *discover.Object {
	item["apiVersion"], item["kind"] = t.apiVersion(), t.kind.Kind
	meta, _ := item["metadata"].(map[string]any)
	if meta == nil {
		return nil
	}
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	if s.readThroughController(t, item, meta) {
		return nil
	}
	delete(item, "status")
	if t.kind == (Kind{Kind: "Namespace"}) && len(s.req.Namespaces) > 0 && !slices.Contains(s.req.Namespaces, fmt.Sprint(meta["name"])) {
		return nil // a scan of some namespaces reads their Namespace objects only
	}
	version, _ := meta["resourceVersion"].(string)
	if t.kind == (Kind{Kind: "Service"}) {
		dropAllocatedNodePorts(item, meta)
	}
	for _, k := range []string{"managedFields", "uid", "resourceVersion", "generation", "creationTimestamp", "selfLink"} {
		delete(meta, k)
	}
	if annotations, ok := meta["annotations"].(map[string]any); ok {
		for _, k := range serverAnnotations {
			delete(annotations, k)
		}
		if len(annotations) == 0 {
			delete(meta, "annotations")
		}
	}
	if t.secret() {
		item = map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": meta}
	}
	where := s.conn.server + t.path(ns) + "/" + name
	objects, problems := manifests.DecodeValue(where, item, s.maps)
	s.mu.Lock()
	s.inv.Problems = append(s.inv.Problems, problems...)
	s.mu.Unlock()
	if len(objects) != 1 {
		return nil
	}
	obj := objects[0]
	obj.ResourceVersion = version
	return obj
}

// dropAllocatedNodePorts removes the node ports the server chose for a
// Service that asked for none, so the graph shows the ports that were
// declared, as a scan of the manifest would. A port someone set is owned
// by them in managedFields; one the server allocated is owned by no one.
func dropAllocatedNodePorts(item, meta map[string]any) {
	managed, _ := json.Marshal(meta["managedFields"])
	if strings.Contains(string(managed), `"f:nodePort"`) {
		return
	}
	spec, _ := item["spec"].(map[string]any)
	ports, _ := spec["ports"].([]any)
	for _, p := range ports {
		if port, ok := p.(map[string]any); ok {
			delete(port, "nodePort")
		}
	}
}

// readThroughController reports whether an object was made by a
// controller whose own kind is being read: the ReplicaSets of a
// Deployment, the Pods of a ReplicaSet, the Jobs of a CronJob. The owner
// stands for them, as it does in a repository, so they would only repeat
// it in the graph; what they show of the running workload (their pods'
// containers and images, the templates those were made from) is kept for
// the owner.
func (s *scanner) readThroughController(t target, item, meta map[string]any) bool {
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	key := objectKey(t.kind.Group, t.kind.Kind, ns, name)
	s.running.template(key, item)
	controller, controllerName, ok := controllerOf(meta)
	byRead := ok && s.reading[controller]
	if t.kind == (Kind{Kind: "Pod"}) {
		runner := key
		if byRead {
			runner = objectKey(controller.Group, controller.Kind, ns, controllerName)
		}
		s.running.pod(runner, item)
	}
	if byRead {
		s.running.controlled(key, objectKey(controller.Group, controller.Kind, ns, controllerName))
	}
	return byRead
}

// controllerOf is the kind and name of the object's controller, from its
// ownerReferences.
func controllerOf(meta map[string]any) (Kind, string, bool) {
	owners, _ := meta["ownerReferences"].([]any)
	for _, o := range owners {
		ref, _ := o.(map[string]any)
		if controller, _ := ref["controller"].(bool); !controller {
			continue
		}
		apiVersion, _ := ref["apiVersion"].(string)
		kind, _ := ref["kind"].(string)
		name, _ := ref["name"].(string)
		group, _, found := strings.Cut(apiVersion, "/")
		if !found {
			group = "" // the core group's apiVersion is just "v1"
		}
		return Kind{Group: group, Kind: kind}, name, true
	}
	return Kind{}, "", false
}

// shortError is an API error's message without the Status wrapping.
func shortError(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		st := status.Status()
		if st.Code != 0 {
			return fmt.Sprintf("%d %s: %s", st.Code, http.StatusText(int(st.Code)), st.Message)
		}
	}
	return err.Error()
}

// explainScan turns a failure to read the server at all into an error that
// says what to do.
func (c *connection) explainScan(err error) error {
	if explained, ok := c.explainUnread(err); ok {
		return explained
	}
	return fmt.Errorf("%s: %s", c, shortError(err))
}

// kubernetesDefaultNamespaces are the namespaces every cluster has.
var kubernetesDefaultNamespaces = []string{"default", "kube-node-lease", "kube-public", "kube-system"}

// MadeByKubernetes reports whether an object is one Kubernetes itself
// creates in every cluster: its default namespaces and RBAC policy. That a
// repository does not hold them is no difference between the two.
func MadeByKubernetes(o *discover.Object) bool {
	if o.Kind == "Namespace" && o.Group() == "" && slices.Contains(kubernetesDefaultNamespaces, o.Name) {
		return true
	}
	meta, ok := o.Typed.(metav1.Object)
	return ok && meta.GetLabels()["kubernetes.io/bootstrapping"] == "rbac-defaults"
}
