// Package cluster reads a live Kubernetes API server, read-only: Scan
// reads every kind a scan understands, as a repository's manifests would
// hold them, and Collect reads only the Pods and Services that name the
// ends of observed flows.
//
// The kubeconfig is found the way kubectl finds it (see Request), so a
// user who can run "kubectl get pods -A" can run stridemap. Lists are read
// a page at a time so a big cluster never has to send one huge response.
//
// Each object's Location names it by its API URL, for example
// https://10.0.0.1:6443/api/v1/namespaces/shop/pods/cart-5d8f-x2x (line 0):
// the path part is what "kubectl get --raw" takes to show it again.
package cluster

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	"github.com/stridemap/stridemap/discover"
)

// DefaultPageSize is how many objects one list call asks for: kubectl's
// own page size.
const DefaultPageSize = 500

// SourceAPI is the kind of Source a live API server is.
const SourceAPI = discover.SourceAPIKind

// Request says which cluster to read, and which part of it.
type Request struct {
	// Kubeconfig is the kubeconfig file. Empty loads what kubectl would:
	// the files in $KUBECONFIG, else ~/.kube/config, else the pod's own
	// service account when running in a cluster.
	Kubeconfig string
	// Context is the kubeconfig context to use; empty for its current one.
	Context string
	// Namespaces to read; none reads all namespaces.
	Namespaces []string
	// PageSize is the number of objects per list call; 0 means
	// DefaultPageSize.
	PageSize int64
	// Timeout bounds each request to the server; 0 means DefaultTimeout.
	Timeout time.Duration
	// QPS and Burst are the client's own rate limit: requests a second
	// on average, and how many may go at once after a pause. 0 means
	// DefaultQPS and DefaultBurst. A shared or busy API server may
	// deserve less than a scan would otherwise ask of it.
	QPS   float32
	Burst int
}

// DefaultQPS and DefaultBurst are the rate a live scan asks of a server
// unless told otherwise: ten times client-go's own 5 a second, which would
// make paging through a big cluster slow for no one's benefit, and still
// far below what the API server's priority and fairness admits from one
// client.
const (
	DefaultQPS   = 50
	DefaultBurst = 100
)

// DefaultTimeout bounds each request: kubectl waits forever on a silent
// server, and an inventory read should not.
const DefaultTimeout = 30 * time.Second

// Collect lists the Pods and Services the request names. Objects are typed
// (*corev1.Pod, *corev1.Service) like those read from manifests; the
// Inventory's one Source is the API server.
func Collect(ctx context.Context, req Request) (*discover.Inventory, error) {
	conn, err := connect(req)
	if err != nil {
		return nil, err
	}
	client, params, err := coreClient(conn.config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", conn, err)
	}
	namespaces := req.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	pageSize := req.PageSize
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	c := &collector{conn: conn, client: client, params: params, pageSize: pageSize}
	for _, ns := range namespaces {
		pods, err := list(ctx, c, "pods", ns, func(l *corev1.PodList) []corev1.Pod { return l.Items })
		if err != nil {
			return nil, err
		}
		for i := range pods {
			c.add(&pods[i], "Pod", "pods")
		}
		services, err := list(ctx, c, "services", ns, func(l *corev1.ServiceList) []corev1.Service { return l.Items })
		if err != nil {
			return nil, err
		}
		for i := range services {
			c.add(&services[i], "Service", "services")
		}
	}
	return &discover.Inventory{
		Sources: []discover.Source{{Kind: SourceAPI, Path: conn.server, Objects: len(c.objects)}},
		Objects: c.objects,
	}, nil
}

// coreClient is a client of the core API group that knows only its types:
// client-go's typed clientset would register every API group when the
// program starts, a cost every stridemap command would pay.
func coreClient(config *rest.Config) (*rest.RESTClient, runtime.ParameterCodec, error) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	config = rest.CopyConfig(config)
	config.APIPath = "/api"
	config.GroupVersion = &corev1.SchemeGroupVersion
	config.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	client, err := rest.RESTClientFor(config)
	return client, runtime.NewParameterCodec(scheme), err
}

type collector struct {
	conn     *connection
	client   *rest.RESTClient
	params   runtime.ParameterCodec
	pageSize int64
	objects  []*discover.Object
}

// add makes an Object of a listed item. List items carry no apiVersion and
// kind; they are set so the typed value reads like one from a manifest.
func (c *collector) add(obj interface {
	metav1.Object
	runtime.Object
}, kind, resource string) {
	obj.GetObjectKind().SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	obj.SetManagedFields(nil) // server bookkeeping, often the bulk of an object
	ns, name := obj.GetNamespace(), obj.GetName()
	c.objects = append(c.objects, &discover.Object{
		APIVersion: "v1",
		Kind:       kind,
		Namespace:  ns,
		Name:       name,
		Location:   discover.Location{File: c.conn.server + "/api/v1/namespaces/" + ns + "/" + resource + "/" + name},
		Typed:      obj,
	})
}

// list reads every page of one resource in one namespace (all when ns is
// empty). A continue token that expired while paging (the cluster changed
// too much in between) starts the list again once, as kubectl does.
func list[T, L any, PL interface {
	*L
	runtime.Object
	GetContinue() string
}](ctx context.Context, c *collector, resource, ns string, items func(PL) []T) ([]T, error) {
	var all []T
	opts := metav1.ListOptions{Limit: c.pageSize}
	restarted := false
	for {
		page := PL(new(L))
		err := c.client.Get().Namespace(ns).Resource(resource).VersionedParams(&opts, c.params).Do(ctx).Into(page)
		if apierrors.IsResourceExpired(err) && !restarted {
			all, opts, restarted = nil, metav1.ListOptions{Limit: c.pageSize}, true
			continue
		}
		if err != nil {
			return nil, c.conn.explain(err, resource, ns)
		}
		all = append(all, items(page)...)
		if page.GetContinue() == "" {
			return all, nil
		}
		opts.Continue = page.GetContinue()
	}
}

// explain turns a failed list into an error that says what to do.
func (c *connection) explain(err error, resource, ns string) error {
	where := "in all namespaces"
	if ns != "" {
		where = "in namespace " + ns
	}
	if explained, ok := c.explainUnread(err); ok {
		return explained
	}
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%s: not allowed to list %s %s (403 Forbidden): stridemap needs the verb list on the resources pods and services %s "+
			"(kubectl create clusterrole stridemap-inventory --verb=list --resource=pods,services, then a clusterrolebinding, or a rolebinding per namespace, to it): %w",
			c, resource, where, where, err)
	}
	return fmt.Errorf("%s: list %s %s: %w", c, resource, where, err)
}

// explainUnread says what to do when the server could not be read at all:
// it refused the credentials, did not answer, or the caller gave up. ok is
// false for other errors.
func (c *connection) explainUnread(err error) (_ error, ok bool) {
	var status apierrors.APIStatus
	switch {
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%s did not accept the credentials (401 Unauthorized): log in again or renew the token or certificate in the kubeconfig: %w", c, err), true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", c, err), true
	case errors.As(err, new(x509.UnknownAuthorityError)):
		return fmt.Errorf("%s: its certificate is not signed by the certificate authority the kubeconfig trusts: check that the context is the right cluster's, "+
			"or get the kubeconfig anew (its certificate-authority-data may be another cluster's, or the cluster's may have been rotated): %w", c, err), true
	case errors.As(err, new(x509.HostnameError)), errors.As(err, new(x509.CertificateInvalidError)):
		return fmt.Errorf("%s: its certificate is not valid for this address, or has expired: check the server URL in the kubeconfig, "+
			"or ask the cluster's administrator to renew the certificate: %w", c, err), true
	case !errors.As(err, &status):
		// No answer from the server at all: refused, unresolvable, TLS.
		return fmt.Errorf("cannot reach the Kubernetes API server at %s (%s): %w; check that the cluster is running and that the kubeconfig names the right server",
			c.server, c.describe(), err), true
	}
	return nil, false
}

// String names the server and how it was found, for errors.
func (c *connection) String() string {
	return "the Kubernetes API server at " + c.server + " (" + c.describe() + ")"
}

func (c *connection) describe() string {
	var parts []string
	if c.context != "" {
		parts = append(parts, "context "+c.context)
	}
	parts = append(parts, c.source)
	return strings.Join(parts, " of ")
}
