package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover"
)

// fuzzSeeds are small inputs that reach every branch of the decoder: lists,
// Secrets, merge keys, aliases and the bad inputs of TestDecodeProblems.
var fuzzSeeds = []string{
	"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b}\n",
	`{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}]}`,
	"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: c2VjcmV0}\nstringData:\n  b: plain\n",
	"apiVersion: example.com/v1\nkind: Secret\nmetadata: {name: s}\ndata: &d {a: x}\nspec: {<<: *d}\n",
	"apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- metadata: {name: d}\n  spec: {replicas: 0x10}\n",
	"base: &b {apiVersion: v1, kind: Pod}\nobj:\n  <<: [*b]\n  metadata: {name: p}\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &x\n  a: *x\n",
	"a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
	"apiVersion: v1\nkind: Deploymnt\nmetadata: {name: d}\n",
	"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: \"abc\"}\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n",
	"- a\n- b\n",
	"just text\n",
	"\x00\x01binary",
	"%YAML 1.2\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n...\n",
	"--- !!map\n? [complex]\n: key\n",
	"apiVersion: v1\nkind: Service\nmetadata: {name: s, name: t}\nspec: {ports: [{port: !!float .inf}]}\n",
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	if dir := corpusSeedDir(); dir != "" {
		for _, rel := range []string{
			"kubernetes-goat/scenarios/hunger-check/deployment.yaml",
			"kubernetes-goat/scenarios/insecure-rbac/setup.yaml",
			"bookinfo/bookinfo-gateway.yaml",
			"online-boutique-policies/istio/istio-manifests.yaml",
			"sock-shop/complete-demo.yaml",
		} {
			if data, err := os.ReadFile(filepath.Join(dir, rel)); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		slow := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("SLOW INPUT %q", data)) })
		defer slow.Stop()
		straight := decoder{maps: NewSharedMaps()}
		objs, probs := straight.decode("fuzz.yaml", data, "")
		if straight.panicked != "" {
			t.Fatalf("the value emitter panicked: %s", straight.panicked)
		}
		// A large stream's documents are decoded in parallel: the same
		// objects and problems, in the same order.
		if !isBinary(data) {
			if msg := sameDecoding(decodeInParallel("fuzz.yaml", data, 3), &decoder{objs: objs, probs: probs}); msg != "" {
				t.Fatal(msg)
			}
		}
		// Objects decoded straight into their values are the ones
		// encoding/json makes of their JSON text, with the same problems.
		viaJSON := decoder{viaJSON: true}
		jsonObjs, jsonProbs := viaJSON.decode("fuzz.yaml", data, "")
		if msg := sameDecoding(&decoder{objs: objs, probs: probs}, &decoder{objs: jsonObjs, probs: jsonProbs}); msg != "" {
			t.Fatalf("straight into values, against through JSON: %s", msg)
		}
		for _, o := range objs {
			if o.APIVersion == "" || o.Kind == "" || o.Name == "" {
				t.Fatalf("object without identity: %+v", o)
			}
			if o.Location.File != "fuzz.yaml" || o.Location.Line < 1 {
				t.Fatalf("%s: location %v", o.Ref(), o.Location)
			}
			if (o.Typed == nil) == (o.Fields == nil) {
				t.Fatalf("%s: want exactly one of Typed (%T) and Fields", o.Ref(), o.Typed)
			}
			o.LineOf("spec.template.spec.containers[0].env[0].value")
			o.LineOf("metadata.annotations[a.b/c]")
			checkNoSecretValues(t, o)
		}
		for _, p := range probs {
			if p.Code == "" || p.Message == "" || p.Location.File != "fuzz.yaml" {
				t.Fatalf("incomplete problem: %+v", p)
			}
			if strings.ContainsAny(p.Message, "\n\r") {
				t.Fatalf("problem spans lines: %q", p.Message)
			}
		}
	})
}

// checkNoSecretValues fails when a Secret kept a value: decoding keeps
// keys, never values.
func checkNoSecretValues(t *testing.T, o *discover.Object) {
	t.Helper()
	if s, ok := o.Typed.(*corev1.Secret); ok {
		for k, v := range s.Data {
			if len(v) != 0 {
				t.Fatalf("%s: value kept for key %q", o.Ref(), k)
			}
		}
		if len(s.StringData) != 0 {
			t.Fatalf("%s: stringData kept", o.Ref())
		}
	}
	if o.Kind == "Secret" && o.Fields != nil {
		if _, ok := o.Fields["stringData"]; ok {
			t.Fatalf("%s: stringData kept", o.Ref())
		}
		if d, ok := o.Fields["data"].(map[string]any); ok {
			for k, v := range d {
				if v != nil {
					t.Fatalf("%s: value kept for key %q", o.Ref(), k)
				}
			}
		}
	}
}

// corpusSeedDir is the shared corpus if present; fuzzing works without it.
func corpusSeedDir() string {
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
