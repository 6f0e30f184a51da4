package policy_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/cluster/clustertest"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/policy"
)

// kube is the API server the tests here share: it takes seconds to start.
var kube clustertest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	kube.Stop()
	os.Exit(code)
}

// ciliumCRD is Cilium's own CiliumNetworkPolicy CRD (testdata/cilium/README.md).
const ciliumCRD = "testdata/cilium/ciliumnetworkpolicies.yaml"

var ciliumPolicies = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies"}

// dryRun creates nothing: the server admits, defaults and validates the
// object as for a real create. Strict field validation refuses a field
// the schema does not know, which a CRD would otherwise drop in silence.
var dryRun = metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict}

// TestSuggestionAcceptedByAPIServer creates, with a server-side dry run on
// the real kube-apiserver with Cilium's CRD installed, every object the
// suggestion writes for every corpus app and the demo, in both formats.
// A refusal fails the test with the object and the server's message.
func TestSuggestionAcceptedByAPIServer(t *testing.T) {
	srv := kube.Get(t)
	crd, err := os.ReadFile(ciliumCRD)
	if err != nil {
		t.Fatal(err)
	}
	if _, skipped := srv.Apply(t, "", crd); len(skipped) > 0 {
		t.Fatalf("installing %s: %v", ciliumCRD, skipped)
	}
	cfg, err := srv.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// The check can fail: the schema refuses a name toFQDNs cannot hold.
	bad := &policy.CiliumNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "default"},
		Spec:       policy.CiliumRule{Egress: []policy.CiliumEgressRule{{ToFQDNs: []policy.CiliumFQDN{{MatchName: "no spaces allowed"}}}}},
	}
	if _, err := dyn.Resource(ciliumPolicies).Namespace("default").Create(ctx, unstructuredOf(t, bad), dryRun); !apierrors.IsInvalid(err) {
		t.Fatalf("a toFQDNs name with spaces: err = %v, want the schema to refuse it", err)
	}

	corpus := discovertest.CorpusDir(t)
	dirs := map[string]string{"demo": filepath.Join("..", "testdata", "demo")}
	for _, app := range discovertest.CorpusApps(t) {
		dirs[app] = filepath.Join(corpus, app)
	}
	checked := 0
	for _, app := range slices.Sorted(maps.Keys(dirs)) {
		t.Run(app, func(t *testing.T) {
			g := model.Build(collect(t, dirs[app]), controls.Detectors()...)
			s := policy.Suggest(g, policy.Options{From: policy.FromBoth})
			for _, ns := range s.Namespaces() {
				_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatalf("namespace %s: %v", ns, err)
				}
			}
			for _, p := range s.Policies {
				if _, err := client.NetworkingV1().NetworkPolicies(p.Namespace).Create(ctx, p, dryRun); err != nil {
					t.Errorf("NetworkPolicy %s/%s refused: %v\n%s", p.Namespace, p.Name, err, yamlOf(t, policy.YAML, p))
				}
			}
			cilium := s.CiliumPolicies()
			for _, p := range cilium {
				if _, err := dyn.Resource(ciliumPolicies).Namespace(p.Namespace).Create(ctx, unstructuredOf(t, p), dryRun); err != nil {
					t.Errorf("CiliumNetworkPolicy %s/%s refused: %v\n%s", p.Namespace, p.Name, err, yamlOf(t, policy.CiliumYAML, p))
				}
			}
			checked += len(s.Policies) + len(cilium)
			t.Logf("%d NetworkPolicies and %d CiliumNetworkPolicies in %s checked", len(s.Policies), len(cilium), strings.Join(s.Namespaces(), ", "))
		})
	}
	if checked == 0 {
		t.Error("no policy was checked")
	}
}

func unstructuredOf(t *testing.T, p *policy.CiliumNetworkPolicy) *unstructured.Unstructured {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	return u
}

// yamlOf renders one policy for a failure message.
func yamlOf[P any](t *testing.T, render func([]P) ([]byte, error), p P) string {
	t.Helper()
	data, err := render([]P{p})
	if err != nil {
		return err.Error()
	}
	return string(data)
}
