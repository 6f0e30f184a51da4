package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
)

// Apply applies manifests (multi-document YAML or JSON, "kind: List"
// expanded) with server-side apply, as "kubectl apply --server-side" does:
// CustomResourceDefinitions first, then, once they are served, everything
// else. Namespaced objects without a namespace go to namespace, created
// when missing. It returns what was applied, "Kind namespace/name"; the
// objects of kinds the server does not serve, and those it refuses, are
// returned as skipped with the reason.
func (s *Server) Apply(t testing.TB, namespace string, manifests []byte) (applied, skipped []string) {
	t.Helper()
	applied, skipped, err := s.ApplyManifests(context.Background(), namespace, manifests)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	return applied, skipped
}

// ApplyManifests is Apply outside a test. Calls may run concurrently. An
// error means the manifests or the server could not be read at all.
func (s *Server) ApplyManifests(ctx context.Context, namespace string, manifests []byte) (applied, skipped []string, err error) {
	cfg, err := s.Config()
	if err != nil {
		return nil, nil, err
	}
	cfg.QPS, cfg.Burst = 200, 400 // client-go's 5 a second would make a corpus app take minutes
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	cache := memory.NewMemCacheClient(disco)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cache)

	objects, err := decodeAll(manifests)
	if err != nil {
		return nil, nil, err
	}
	var crds, rest []*unstructured.Unstructured
	for _, o := range objects {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
		} else {
			rest = append(rest, o)
		}
	}
	namespaces := map[string]bool{}
	apply := func(o *unstructured.Unstructured) error {
		gvk := o.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s %s: %v", o.GetKind(), o.GetName(), err))
			return nil
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		ref := o.GetKind() + " " + o.GetName()
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				o.SetNamespace(namespace)
			}
			if !namespaces[o.GetNamespace()] {
				namespaces[o.GetNamespace()] = true
				if err := ensureNamespace(ctx, client, o.GetNamespace()); err != nil {
					return err
				}
			}
			ri = dyn.Resource(mapping.Resource).Namespace(o.GetNamespace())
			ref = o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
		}
		if _, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "stridemap-test", Force: true}); err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", ref, err))
			return nil
		}
		applied = append(applied, ref)
		return nil
	}
	crds = append(crds, permissiveCRDs(crds, rest, mapper)...)
	for _, crd := range crds {
		if err := apply(crd); err != nil {
			return applied, skipped, err
		}
	}
	if len(crds) > 0 {
		if err := waitServed(cache, crds); err != nil {
			return applied, skipped, err
		}
		mapper.Reset()
	}
	for _, o := range rest {
		if err := apply(o); err != nil {
			return applied, skipped, err
		}
	}
	return applied, skipped, nil
}

// decodeAll reads every object of a YAML or JSON stream, Lists expanded.
func decodeAll(manifests []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if m == nil {
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		if o.IsList() {
			list, err := o.ToList()
			if err != nil {
				return nil, err
			}
			for i := range list.Items {
				out = append(out, &list.Items[i])
			}
			continue
		}
		out = append(out, o)
	}
}

// ensureNamespace creates a namespace unless it exists.
func ensureNamespace(ctx context.Context, client kubernetes.Interface, name string) error {
	_, err := client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		_, err = client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // applied at the same time by another call
		}
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return nil
}

// waitServed waits until the server serves the kinds the CRDs define.
func waitServed(cache discovery.CachedDiscoveryInterface, crds []*unstructured.Unstructured) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			name, _, _ := unstructured.NestedString(v.(map[string]any), "name")
			gv := schema.GroupVersion{Group: group, Version: name}.String()
			for {
				cache.Invalidate()
				list, err := cache.ServerResourcesForGroupVersion(gv)
				if err == nil && served(list, kind) {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s %s is not served 30 s after its CRD was applied: %v", gv, kind, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	return nil
}

func served(list *metav1.APIResourceList, kind string) bool {
	for _, r := range list.APIResources {
		if r.Kind == kind {
			return true
		}
	}
	return false
}

// permissiveCRDs defines, for each custom kind among objects that neither
// the server nor the given CRDs define, a namespaced CRD that accepts any
// content: Istio's or Cilium's objects can be applied without their
// operators' CRDs, as a repository often holds them. Namespaced, as the
// manifests' decoder takes a custom kind to be when no CRD says otherwise.
func permissiveCRDs(crds, objects []*unstructured.Unstructured, mapper meta.RESTMapper) []*unstructured.Unstructured {
	defined := map[schema.GroupKind]bool{}
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		defined[schema.GroupKind{Group: group, Kind: kind}] = true
	}
	versions := map[schema.GroupKind][]string{}
	var order []schema.GroupKind
	for _, o := range objects {
		gvk := o.GroupVersionKind()
		gk := gvk.GroupKind()
		if gk.Group == "" || defined[gk] || slices.Contains(versions[gk], gvk.Version) {
			continue
		}
		if _, err := mapper.RESTMapping(gk, gvk.Version); err == nil || !meta.IsNoMatchError(err) {
			continue
		}
		if versions[gk] == nil {
			order = append(order, gk)
		}
		versions[gk] = append(versions[gk], gvk.Version)
	}
	var out []*unstructured.Unstructured
	for _, gk := range order {
		plural, singular := meta.UnsafeGuessKindToResource(gk.WithVersion(""))
		var vs []any
		for i, v := range versions[gk] {
			vs = append(vs, map[string]any{
				"name": v, "served": true, "storage": i == 0,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			})
		}
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{
				"name": plural.Resource + "." + gk.Group,
				// Groups under k8s.io are Kubernetes' own: the server
				// wants them approved, and a test's stand-in is not.
				"annotations": map[string]any{"api-approved.kubernetes.io": "unapproved, a clustertest stand-in"},
			},
			"spec": map[string]any{
				"group": gk.Group, "scope": "Namespaced", "versions": vs,
				"names": map[string]any{"kind": gk.Kind, "listKind": gk.Kind + "List", "plural": plural.Resource, "singular": singular.Resource},
			},
		}})
	}
	return out
}
