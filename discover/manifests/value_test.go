package manifests

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/stridemap/stridemap/discover"
)

// decodedAs compares what DecodeValue gives for a value with what Decode
// gives for the value printed as JSON, which is what a live scan did
// before DecodeValue: the same objects, to the last field, and the same
// problems but for their lines, which a value has none of. It returns
// false, comparing nothing, when Decode refused the printed value as YAML:
// go-yaml refuses some of what JSON allows (control characters, say).
func decodedAs(t *testing.T, value map[string]any) bool {
	t.Helper()
	data, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	wantObjs, wantProbs := Decode("api", data, "")
	for _, p := range wantProbs {
		if p.Code == CodeYAML {
			return false
		}
	}
	gotObjs, gotProbs := DecodeValue("api", value, nil)
	if len(gotObjs) != len(wantObjs) {
		t.Fatalf("%s: %d objects, Decode gives %d (problems %v / %v)", data, len(gotObjs), len(wantObjs), gotProbs, wantProbs)
	}
	for i, got := range gotObjs {
		want := wantObjs[i]
		if got.Lines.Len() != 0 || got.Location != (discover.Location{File: "api"}) {
			t.Errorf("%s: line index of %d paths, location %v: a value has no lines", got.Ref(), got.Lines.Len(), got.Location)
		}
		got.Lines, want.Lines, want.Location = discover.LineIndex{}, discover.LineIndex{}, got.Location
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Fatalf("%s differs from Decode's:\n got %s\nwant %s", got.Ref(), g, w)
		}
	}
	strip := func(ps []discover.Problem) string {
		var out []string
		for _, p := range ps {
			p.Location.Line = 0
			out = append(out, fmt.Sprintf("%+v", p))
		}
		return strings.Join(out, "\n")
	}
	if g, w := strip(gotProbs), strip(wantProbs); g != w {
		t.Fatalf("%s: problems\n%s\nwant\n%s", data, g, w)
	}
	return true
}

// TestDecodeValueAgreesWithDecode takes every object of the corpus as an
// API server would hand it over (its JSON decoded into a map) and checks
// that DecodeValue reads it as Decode reads the JSON; then values Decode
// refuses or rewrites: a Secret's data, strings that YAML would read as
// booleans or numbers, integral and fractional and huge numbers, a
// cluster-scoped object with a namespace, missing names, unknown kinds, a
// list.
func TestDecodeValueAgreesWithDecode(t *testing.T) {
	cases := []string{
		`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"shop"},"data":{"password":"aHVudGVyMg==","ca.crt":"LS0tLS1CRUdJTg=="},"stringData":{"token":"abc"}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"on":"yes","n":"0x10","e":"1e3","z":"null","t":"~"}},"data":{"a":"true","b":"","c":"multi\nline"}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":8080}],"resources":{"limits":{"cpu":0.5,"memory":"64Mi"}}}]}}}}`,
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"x"},"spec":{"ratio":1.5,"big":1e22,"neg":-7,"zero":0,"none":null,"list":[1,"a",true,null,{"k":[]}]}}`,
		`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"r","namespace":"oops"},"rules":[]}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"c-"}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}`,
		`{"apiVersion":"v1","kind":"Deploymnt","metadata":{"name":"d"}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":"abc"}}`,
		`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}},{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"b"}}]}`,
		`{"apiVersion":"kustomize.config.k8s.io/v1beta1","kind":"Kustomization","metadata":{"name":"k"}}`,
		`{"kind":"ConfigMap","metadata":{"name":"c"}}`,
	}
	for _, c := range cases {
		var value map[string]any
		if err := json.Unmarshal([]byte(c), &value); err != nil {
			t.Fatal(err)
		}
		if !decodedAs(t, value) {
			t.Fatalf("Decode refused %s", c)
		}
	}

	n := 0
	err := filepath.WalkDir(corpusDir(t), func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || (!strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml")) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		objs, _ := Decode(path, data, "")
		for _, obj := range objs {
			var content any = obj.Fields
			if obj.Typed != nil {
				content = obj.Typed
			}
			printed, err := json.Marshal(content)
			if err != nil {
				t.Fatalf("%s: %v", obj.Ref(), err)
			}
			var value map[string]any
			if err := json.Unmarshal(printed, &value); err != nil {
				t.Fatalf("%s: %v", obj.Ref(), err)
			}
			value["apiVersion"], value["kind"] = obj.APIVersion, obj.Kind
			if decodedAs(t, value) {
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 500 {
		t.Fatalf("only %d corpus objects compared", n)
	}
}

// FuzzDecodeValue reads any JSON object as a value: no panic, nothing
// located, no secret value kept, and the same objects and problems as
// Decode gives for the value printed as JSON.
func FuzzDecodeValue(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"a":"c2VjcmV0"}}`))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"yes"}}]}`))
	f.Add([]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":1e400}}`))
	f.Add([]byte(`{"apiVersion":"example.com/v1","kind":"W","metadata":{"name":"w"},"spec":{"a":[1.5,-0,null,{"":""}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var value map[string]any
		if json.Unmarshal(data, &value) != nil {
			return
		}
		objs, probs := DecodeValue("api", value, nil)
		for _, o := range objs {
			if o.Location.Line != 0 || o.Lines.Len() != 0 {
				t.Fatalf("%s: located at %v with %d lines", o.Ref(), o.Location, o.Lines.Len())
			}
			checkNoSecretValues(t, o)
		}
		for _, p := range probs {
			if p.Location.Line != 0 || p.Code == "" {
				t.Fatalf("problem %+v", p)
			}
		}
		decodedAs(t, value)
	})
}

// BenchmarkDecodeValue reads the Deployments of Online Boutique as a live
// scan does, from decoded JSON: with DecodeValue, and as before it, printed
// as JSON and parsed again by Decode.
func BenchmarkDecodeValue(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(corpusDir(b), "online-boutique", "kubernetes-manifests.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	objs, _ := Decode("boutique.yaml", data, "")
	var values []map[string]any
	for _, o := range objs {
		if o.Kind != "Deployment" {
			continue
		}
		printed, _ := json.Marshal(o.Typed)
		var v map[string]any
		if err := json.Unmarshal(printed, &v); err != nil {
			b.Fatal(err)
		}
		v["apiVersion"], v["kind"] = o.APIVersion, o.Kind
		values = append(values, v)
	}
	b.Run("value", func(b *testing.B) {
		for b.Loop() {
			for _, v := range values {
				DecodeValue("api", v, nil)
			}
		}
	})
	b.Run("printed-and-parsed", func(b *testing.B) {
		for b.Loop() {
			for _, v := range values {
				data, _ := json.Marshal(v)
				Decode("api", data, "")
			}
		}
	})
}

// TestDecodeValueSharesMapsAcrossCalls: objects a live scan decodes one by
// one with the same SharedMaps share the maps they repeat; without one,
// each keeps its own.
func TestDecodeValueSharesMapsAcrossCalls(t *testing.T) {
	deployment := func(name string) map[string]any {
		labels := map[string]any{"app": "web", "tier": "front"}
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": name, "namespace": "shop", "labels": labels},
			"spec":     map[string]any{"selector": map[string]any{"matchLabels": labels}}}
	}
	labelsOf := func(shared *SharedMaps, name string) map[string]string {
		objs, probs := DecodeValue("api", deployment(name), shared)
		if len(objs) != 1 || len(probs) != 0 {
			t.Fatalf("%d objects, problems %v", len(objs), probs)
		}
		return objs[0].Typed.(*appsv1.Deployment).Labels
	}
	same := func(a, b map[string]string) bool {
		return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	}
	shared := NewSharedMaps()
	if a, b := labelsOf(shared, "a"), labelsOf(shared, "b"); !same(a, b) || a["tier"] != "front" {
		t.Errorf("two objects decoded with one SharedMaps have two label maps: %v %v", a, b)
	}
	if a, b := labelsOf(nil, "a"), labelsOf(nil, "b"); same(a, b) {
		t.Error("objects decoded without a SharedMaps share a map")
	}
}
