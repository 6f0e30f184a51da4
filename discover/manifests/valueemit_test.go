package manifests

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type emitInner struct {
	A string `json:"a"`
	B int32  `json:"b"`
}

type EmitEmbedded struct {
	C string `json:"c"`
	A string `json:"a"` // hidden by emitSample.A, which is shallower
	D string `json:"d"`
}

type EmitPointed struct {
	E string `json:"e"`
	D string // untagged: the tagged EmitEmbedded.D at the same depth wins
}

type emitSample struct {
	EmitEmbedded `json:",inline"`
	*EmitPointed
	A        string                        `json:"a"`
	Quoted   int                           `json:"q,string"`
	Skipped  string                        `json:"-"`
	Untagged string                        //
	Map      map[string]emitInner          `json:"map"`
	PtrMap   map[string]*emitInner         `json:"ptrMap"`
	Bytes    map[string][]byte             `json:"bytes"`
	Ptr      *emitInner                    `json:"ptr"`
	List     []emitInner                   `json:"list"`
	Strings  []string                      `json:"strings"`
	Any      any                           `json:"any"`
	Quantity resource.Quantity             `json:"quantity"`
	Limits   map[string]resource.Quantity  `json:"limits"`
	Time     metav1.Time                   `json:"time"`
	PtrTime  *metav1.Time                  `json:"ptrTime"`
	Port     intstr.IntOrString            `json:"port"`
	Raw      runtime.RawExtension          `json:"raw"`
	Float    float32                       `json:"float"`
	Small    uint8                         `json:"small"`
	Number   json.Number                   `json:"number"`
	Named    map[emitKey]string            `json:"named"`
	Nested   map[string]map[string][]int64 `json:"nested"`
}

type emitKey string

// decodeStraight decodes the YAML or JSON text into v with the value
// emitter, reporting whether it did without giving up, and returns the
// JSON text the converter makes of it, which the decoder would otherwise
// hand to encoding/json.
func decodeStraight(t *testing.T, text string, v any) (bool, []byte) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	var c converter
	c.startDocument(&doc, 0)
	c.typed.start(reflect.ValueOf(v))
	c.startObject(objectRules{}, &c.typed)
	if err := c.value(doc.Content[0]); err != nil {
		t.Fatal(err)
	}
	c.startObject(objectRules{}, &c.json)
	if err := c.value(doc.Content[0]); err != nil {
		t.Fatal(err)
	}
	return c.typed.ok(), c.json.out
}

// TestValueEmitterDecodesAsEncodingJSON decodes JSON documents into a
// struct that has every shape the value emitter handles (embedded structs
// with names that clash, pointers, maps, slices, empty interfaces,
// Unmarshalers), with the emitter and with encoding/json: the same value.
// Where encoding/json has a rule the emitter leaves to it, or an error,
// the emitter gives up.
func TestValueEmitterDecodesAsEncodingJSON(t *testing.T) {
	straight := []string{
		`{}`,
		`{"a": "outer", "c": "embedded", "d": "tagged", "e": "pointed", "Untagged": "u"}`,
		`{"map": {"x": {"a": "1", "b": 2}, "y": {}}, "ptrMap": {"p": {"a": "q"}, "n": null}}`,
		`{"bytes": {"k": "c2VjcmV0", "n": null}, "list": [{"a": "x"}, {"b": -3}], "strings": []}`,
		`{"ptr": {"a": "x", "unknown": [1, {"deep": true}]}, "ptrTime": null, "Skipped": "no"}`,
		`{"any": {"n": 1.5, "l": [1, "two", null, true, {"x": []}], "s": "str"}}`,
		`{"any": [1, 2]}`, `{"any": "text"}`, `{"any": 7}`, `{"any": null}`, `{"any": false}`,
		`{"quantity": "250m", "limits": {"cpu": "2", "memory": "1Gi"}, "time": "2024-01-31T12:00:00Z"}`,
		`{"time": null, "quantity": 3, "port": 8080, "raw": {"kind": "X", "n": [1, 2]}}`,
		`{"port": "http", "float": 1.25, "small": 255, "number": 12.5e3}`,
		`{"named": {"k": "v"}, "nested": {"a": {"b": [1, -2, 9007199254740993]}}}`,
		`{"list": null, "map": null, "strings": ["a", "b\u00e9", "\u2028"]}`,
	}
	for _, text := range straight {
		var got, want emitSample
		ok, converted := decodeStraight(t, text, &got)
		if !ok {
			t.Errorf("%s: the value emitter gave up", text)
			continue
		}
		if err := json.Unmarshal(converted, &want); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", text, got, want)
		}
	}

	givesUp := []string{
		`{"untagged": "a name that matches only ignoring case"}`,
		`{"A": "the same"}`,
		`{"q": "5"}`,
		`{"small": 256}`, `{"small": -1}`, `{"small": 1.5}`,
		`{"float": 1e39}`,
		`{"a": 5}`, `{"a": ["list"]}`, `{"map": []}`, `{"list": {}}`,
		`{"bytes": {"k": "not base64!"}}`,
		`{"quantity": "lots"}`, `{"time": "yesterday"}`,
		`{"number": "12"}`,
	}
	for _, text := range givesUp {
		var got, want emitSample
		if ok, converted := decodeStraight(t, text, &got); ok {
			t.Errorf("%s: the value emitter decoded what it should leave to encoding/json (%v)", text, json.Unmarshal(converted, &want))
		}
	}
}

// TestValueEmitterDecodesEveryTypedKind fills objects of every typed kind
// with random values, as deep as their types go, writes them as JSON and
// decodes that both ways: straight into a value and through encoding/json.
// The objects must be the same, and none may need encoding/json.
func TestValueEmitterDecodesEveryTypedKind(t *testing.T) {
	keys := make([]string, 0, len(typedKinds))
	for k := range typedKinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rng := rand.New(rand.NewPCG(17, 4))
	total := 0
	for _, key := range keys {
		apiVersion, kind, _ := strings.Cut(key, " ")
		for i := range 40 {
			obj := typedKinds[key]()
			fill(rng, reflect.ValueOf(obj).Elem(), 0)
			text, err := json.Marshal(obj)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			// The object's identity, whatever the filler chose.
			var doc map[string]any
			if err := json.Unmarshal(text, &doc); err != nil {
				t.Fatal(err)
			}
			doc["apiVersion"], doc["kind"] = apiVersion, kind
			meta, _ := doc["metadata"].(map[string]any)
			if meta == nil {
				meta = map[string]any{}
				doc["metadata"] = meta
			}
			meta["name"] = fmt.Sprintf("o%d", i)
			if text, err = json.Marshal(doc); err != nil {
				t.Fatal(err)
			}

			total += len(text)
			straight := decoder{}
			objs, probs := straight.decode("random.json", text, "")
			viaJSON := decoder{viaJSON: true}
			jsonObjs, jsonProbs := viaJSON.decode("random.json", text, "")
			if msg := sameDecoding(&decoder{objs: objs, probs: probs}, &decoder{objs: jsonObjs, probs: jsonProbs}); msg != "" {
				t.Fatalf("%s: %s\n%s", key, msg, text)
			}
			if len(objs) != 1 || straight.gaveUp != 0 {
				t.Fatalf("%s: %d objects, %v, the value emitter gave up on %d (%s)\n%s", key, len(objs), probs, straight.gaveUp, straight.panicked, text)
			}
		}
	}
	if total < 500_000 {
		t.Fatalf("the random objects came to only %d bytes of JSON", total)
	}
}

// fill sets v, a zero value, to random content: every field of a struct
// about half the time, up to three entries in maps and slices, nil
// pointers now and then. Types that decode themselves get valid values.
func fill(rng *rand.Rand, v reflect.Value, depth int) {
	if depth > 14 {
		return
	}
	switch x := v.Addr().Interface().(type) {
	case *resource.Quantity:
		*x = resource.MustParse([]string{"100m", "2", "1Gi", "512Mi", "0"}[rng.IntN(5)])
		return
	case *intstr.IntOrString:
		if rng.IntN(2) == 0 {
			*x = intstr.FromInt32(rng.Int32N(65536))
		} else {
			*x = intstr.FromString(randomString(rng))
		}
		return
	case *metav1.Time:
		*x = metav1.NewTime(time.Unix(rng.Int64N(2e9), 0).UTC())
		return
	case *metav1.MicroTime:
		*x = metav1.NewMicroTime(time.Unix(rng.Int64N(2e9), rng.Int64N(1e6)*1000).UTC())
		return
	case *metav1.Duration:
		x.Duration = time.Duration(rng.Int64N(1e12))
		return
	case *runtime.RawExtension:
		x.Raw = []byte(`{"kind":"Raw","n":[1,2]}`)
		return
	case *metav1.FieldsV1:
		x.SetRawString(`{"f:metadata":{}}`)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() && rng.IntN(3) > 0 {
				fill(rng, f, depth+1)
			}
		}
	case reflect.Pointer:
		if rng.IntN(4) > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			fill(rng, v.Elem(), depth+1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(randomString(rng)))
			return
		}
		n := rng.IntN(4)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(rng, v.Index(i), depth+1)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range rng.IntN(4) {
			k := reflect.New(v.Type().Key()).Elem()
			fill(rng, k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(rng, e, depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.String:
		v.SetString(randomString(rng))
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		v.SetInt(rng.Int64() >> (64 - bits))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		v.SetUint(rng.Uint64() >> (64 - bits))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(rng.IntN(1e6)) / 64)
	}
}

// randomString draws from words YAML reads as other types when plain, and
// text JSON must escape.
func randomString(rng *rand.Rand) string {
	words := []string{"a", "yes", "0x10", "1e3", "null", "~", "true", "-", "é", "a\"b\\c", "line\nbreak", "\u2028", "<tag>", "", "2024-01-31", "  spaced  "}
	return words[rng.IntN(len(words))] + words[rng.IntN(len(words))]
}

// TestDecodeSharesRepeatedMaps: the labels a Deployment repeats in its
// selector and pod template, the Service's selector of them, and resource
// lists two containers have alike are one map each; maps that differ, or
// are too large to be worth it, are not shared.
func TestDecodeSharesRepeatedMaps(t *testing.T) {
	var data strings.Builder
	data.WriteString(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}, annotations: {app: web, other: x}}
    spec:
      nodeSelector: {app: db}
      containers:
      - {name: a, resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: "1"}}}
      - {name: b, resources: {requests: {memory: 64Mi, cpu: 100m}, limits: {cpu: "2"}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: big, labels: {app: web}}
data:
`)
	for i := range maxSharedEntries + 1 {
		fmt.Fprintf(&data, "  k%d: v\n", i)
	}
	data.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: big2}\ndata:\n")
	for i := range maxSharedEntries + 1 {
		fmt.Fprintf(&data, "  k%d: v\n", i)
	}
	objs, probs := Decode("shared.yaml", []byte(data.String()), "")
	if len(objs) != 4 || len(probs) != 0 {
		t.Fatalf("%d objects, problems %v", len(objs), probs)
	}
	d := objs[0].Typed.(*appsv1.Deployment)
	svc := objs[1].Typed.(*corev1.Service)
	big, big2 := objs[2].Typed.(*corev1.ConfigMap), objs[3].Typed.(*corev1.ConfigMap)
	same := func(a, b any) bool { return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer() }
	pod := &d.Spec.Template.Spec
	for what, m := range map[string]any{
		"the selector":          d.Spec.Selector.MatchLabels,
		"the template's labels": d.Spec.Template.Labels,
		"the Service selector":  svc.Spec.Selector,
		"a ConfigMap's labels":  big.Labels,
	} {
		if !same(d.Labels, m) {
			t.Errorf("%s is not the map of the Deployment's labels", what)
		}
	}
	if !same(pod.Containers[0].Resources.Requests, pod.Containers[1].Resources.Requests) {
		t.Error("equal requests written in another order are two maps")
	}
	for what, pair := range map[string][2]any{
		"other annotations": {d.Labels, d.Spec.Template.Annotations},
		"another value":     {d.Labels, pod.NodeSelector},
		"other limits":      {pod.Containers[0].Resources.Limits, pod.Containers[1].Resources.Limits},
		"large maps":        {big.Data, big2.Data},
	} {
		if same(pair[0], pair[1]) {
			t.Errorf("maps with %s are shared", what)
		}
	}
	if !reflect.DeepEqual(big.Data, big2.Data) || d.Spec.Template.Annotations["other"] != "x" || pod.NodeSelector["app"] != "db" {
		t.Error("maps decoded wrong")
	}
}

// TestDecodeThroughJSONKeepsTheAliasBudget: an object the value emitter
// leaves to encoding/json is walked twice, and the second walk must not
// count the aliases the first one expanded: a document within its budget
// is decoded, not refused as an alias bomb.
func TestDecodeThroughJSONKeepsTheAliasBudget(t *testing.T) {
	var doc strings.Builder
	// "Data" names ConfigMap.data only ignoring case, which the emitter
	// leaves to encoding/json; "extra" expands aliases to about 6,000
	// nodes, more than half of the budget of a small document (10,000).
	doc.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nData: {k: v}\nitems: &i [")
	for i := range 100 {
		if i > 0 {
			doc.WriteString(", ")
		}
		doc.WriteString("x")
	}
	doc.WriteString("]\nextra: [")
	for i := range 58 {
		if i > 0 {
			doc.WriteString(", ")
		}
		doc.WriteString("*i")
	}
	doc.WriteString("]\n")
	d := decoder{maps: NewSharedMaps()}
	objs, probs := d.decode("aliases.yaml", []byte(doc.String()), "")
	if len(objs) != 1 || len(probs) != 0 || d.gaveUp != 1 {
		t.Fatalf("%d objects, %d left to encoding/json, problems %v", len(objs), d.gaveUp, probs)
	}
	if cm := objs[0].Typed.(*corev1.ConfigMap); cm.Data["k"] != "v" {
		t.Errorf("data %v", cm.Data)
	}
}
