package manifests

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/stridemap/stridemap/discover"
)

// refs renders objects as "Kind ns/name@line" for compact comparison.
func refs(objs []*discover.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = fmt.Sprintf("%s@%d", o.Ref(), o.Location.Line)
	}
	return out
}

func errorsOf(probs []discover.Problem) []discover.Problem {
	var out []discover.Problem
	for _, p := range probs {
		if p.Severity == discover.SeverityError {
			out = append(out, p)
		}
	}
	return out
}

func TestDecodeForms(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		input     string
		want      []string
	}{
		{
			name: "multi-document YAML with comments and empty documents",
			input: `# leading comment
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: a
---
---
# only a comment
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: b, namespace: shop}
...
`,
			want: []string{"ServiceAccount default/a@3", "ServiceAccount shop/b@11"},
		},
		{
			name:      "default namespace",
			namespace: "team",
			input:     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
			want:      []string{"ConfigMap team/c@1"},
		},
		{
			name: "JSON object",
			input: `{
  "apiVersion": "v1",
  "kind": "Service",
  "metadata": {"name": "web"},
  "spec": {"ports": [{"port": 80}]}
}`,
			want: []string{"Service default/web@1"},
		},
		{
			name:  "JSON with tab indentation",
			input: "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Namespace\",\n\t\"metadata\": {\"name\": \"shop\"}\n}\n",
			want:  []string{"Namespace shop@1"},
		},
		{
			name: "kind List keeps each item's line",
			input: `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: a
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: d
    namespace: shop
`,
			want: []string{"ServiceAccount default/a@4", "Deployment shop/d@8"},
		},
		{
			name: "typed list items may omit apiVersion and kind",
			input: `apiVersion: apps/v1
kind: DeploymentList
items:
- metadata:
    name: d1
- metadata:
    name: d2
`,
			want: []string{"Deployment default/d1@4", "Deployment default/d2@6"},
		},
		{
			name:  "empty List",
			input: "apiVersion: v1\nkind: List\nitems: []\n",
			want:  []string{},
		},
		{
			name: "cluster-scoped kinds lose their namespace",
			input: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
  namespace: ignored
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: deny
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-labels
`,
			want: []string{"ClusterRole reader@1", "CiliumClusterwideNetworkPolicy deny@7", "ClusterPolicy require-labels@12"},
		},
		{
			name: "CRDs and untyped built-in kinds",
			input: `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: vs
---
apiVersion: v1
kind: LimitRange
metadata:
  name: lr
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: hpa
---
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: restricted
`,
			want: []string{"VirtualService default/vs@1", "LimitRange default/lr@6", "HorizontalPodAutoscaler default/hpa@11", "PodSecurityPolicy restricted@16"},
		},
		{
			name:  "empty stream",
			input: "",
			want:  []string{},
		},
		{
			name:  "only separators and comments",
			input: "---\n# nothing\n---\n{}\n---\n",
			want:  []string{},
		},
		{
			name:  "CRLF line endings",
			input: "apiVersion: v1\r\nkind: ServiceAccount\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: v1\r\nkind: ServiceAccount\r\nmetadata:\r\n  name: b\r\n",
			want:  []string{"ServiceAccount default/a@1", "ServiceAccount default/b@6"},
		},
		{
			name:  "document starting on the separator line",
			input: "--- {apiVersion: v1, kind: ServiceAccount, metadata: {name: a}}\n--- {apiVersion: v1, kind: ServiceAccount, metadata: {name: b}}\n",
			want:  []string{"ServiceAccount default/a@1", "ServiceAccount default/b@2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, probs := Decode("in.yaml", []byte(tc.input), tc.namespace)
			if len(probs) > 0 {
				t.Fatalf("unexpected problems: %v", probs)
			}
			got := refs(objs)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("objects:\n got %q\nwant %q", got, tc.want)
			}
			for _, o := range objs {
				if o.Location.File != "in.yaml" {
					t.Errorf("%s: file %q", o.Ref(), o.Location.File)
				}
				if (o.Typed == nil) == (o.Fields == nil) {
					t.Errorf("%s: want exactly one of Typed and Fields, got %T and %v", o.Ref(), o.Typed, o.Fields)
				}
			}
		})
	}
}

func TestDecodeTypes(t *testing.T) {
	objs, probs := Decode("in.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    example.com/team: payments
    kubectl.kubernetes.io/last-applied-configuration: '{"kind":"Deployment"}'
defaults: &defaults
  restartPolicy: Always
  enableServiceLinks: yes
spec:
  replicas: 0x3
  template:
    spec:
      <<: *defaults
      automountServiceAccountToken: off
      volumes:
      - name: cfg
        configMap:
          name: cfg
          defaultMode: 0644
      containers:
      - name: app
        image: app:1
        env:
        - name: A
          value: "1"
        - name: B
          value: "two"
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: crb
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: sa, namespace: shop}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: r
spec:
  rules:
  - backendRefs: [{name: web, port: 8080, weight: 1.5}]
`), "")
	if len(errorsOf(probs)) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	if len(objs) != 3 {
		t.Fatalf("got %d objects: %v", len(objs), refs(objs))
	}
	d, ok := objs[0].Typed.(*appsv1.Deployment)
	if !ok {
		t.Fatalf("Deployment typed as %T", objs[0].Typed)
	}
	spec := d.Spec.Template.Spec
	switch {
	case d.Spec.Replicas == nil || *d.Spec.Replicas != 3:
		t.Errorf("replicas from 0x3: %v", d.Spec.Replicas)
	case spec.RestartPolicy != corev1.RestartPolicyAlways:
		t.Errorf("merge key: restartPolicy %q", spec.RestartPolicy)
	case spec.EnableServiceLinks == nil || !*spec.EnableServiceLinks:
		t.Errorf("yes as a YAML 1.1 boolean: %v", spec.EnableServiceLinks)
	case spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken:
		t.Errorf("off as a YAML 1.1 boolean: %v", spec.AutomountServiceAccountToken)
	case *spec.Volumes[0].ConfigMap.DefaultMode != 0o644:
		t.Errorf("0644 as octal: %d", *spec.Volumes[0].ConfigMap.DefaultMode)
	case d.Namespace != "default":
		t.Errorf("default namespace not written into the typed object: %q", d.Namespace)
	case d.Annotations["example.com/team"] != "payments":
		t.Errorf("annotations: %v", d.Annotations)
	}
	if _, ok := d.Annotations[lastAppliedAnnotation]; ok {
		t.Errorf("last-applied-configuration kept")
	}
	if _, ok := objs[1].Typed.(*rbacv1.ClusterRoleBinding); !ok || objs[1].Namespace != "" {
		t.Errorf("ClusterRoleBinding: %T in %q", objs[1].Typed, objs[1].Namespace)
	}
	route := objs[2].Fields
	if route == nil || objs[2].Typed != nil {
		t.Fatalf("HTTPRoute should stay unstructured: %T", objs[2].Typed)
	}
	if md := route["metadata"].(map[string]any); md["namespace"] != "default" {
		t.Errorf("HTTPRoute metadata: %v", md)
	}
}

func TestDecodeLines(t *testing.T) {
	objs, probs := Decode("in.yaml", []byte(`apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    example.com/x: "1"
spec:
  containers:
  - name: a
    image: a:1
    env:
    - name: X
      value: x
    - name: "Y"
      value: >-
        folded
  - name: b
    image: b:1
`), "")
	if len(probs) > 0 || len(objs) != 1 {
		t.Fatalf("objects %v, problems %v", refs(objs), probs)
	}
	o := objs[0]
	for path, want := range map[string]int{
		"kind":                                2,
		"metadata.name":                       4,
		"metadata.annotations":                5,
		"metadata.annotations[example.com/x]": 6,
		"spec.containers":                     8,
		"spec.containers[0]":                  9,
		"spec.containers[0].env[1]":           14,
		"spec.containers[0].env[1].value":     15,
		"spec.containers[1].image":            18,
		"spec.containers[1].ports[0].name":    17, // missing: falls back to containers[1]
		"nowhere":                             1,  // missing: falls back to the object
	} {
		if got := o.LineOf(path); got != want {
			t.Errorf("LineOf(%q) = %d, want %d", path, got, want)
		}
	}
	if got := o.At("spec.containers[0].image").String(); got != "in.yaml:10" {
		t.Errorf("At = %s", got)
	}
	if got := discover.PathKey("metadata.annotations", "example.com/x"); got != "metadata.annotations[example.com/x]" {
		t.Errorf("PathKey = %s", got)
	}
}

func TestDecodeProblems(t *testing.T) {
	good := "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: good\n"
	tests := []struct {
		name     string
		input    string
		code     string
		severity discover.Severity
		line     int
		object   string   // Problem.Object, when one is named
		good     []string // objects that must still be read
	}{
		{
			name:  "malformed YAML",
			input: good + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [1, 2\n  b: c\n---\n" + strings.ReplaceAll(good, "good", "after"),
			code:  CodeYAML, severity: discover.SeverityError, line: 11,
			good: []string{"ServiceAccount default/good@1", "ServiceAccount default/after@14"},
		},
		{
			name:  "tab indentation",
			input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n---\n" + good,
			code:  CodeYAML, severity: discover.SeverityError, line: 4,
			good: []string{"ServiceAccount default/good@6"},
		},
		{
			name:  "plain text",
			input: "This is a README, not a manifest.\n---\n" + good,
			code:  CodeNotObject, severity: discover.SeverityError, line: 1,
			good: []string{"ServiceAccount default/good@3"},
		},
		{
			name:  "a list document",
			input: good + "---\n- a\n- b\n",
			code:  CodeNotObject, severity: discover.SeverityError, line: 6,
			good: []string{"ServiceAccount default/good@1"},
		},
		{
			name:  "binary",
			input: "\x7fELF\x02\x01\x01\x00\x00\x00",
			code:  CodeNotObject, severity: discover.SeverityError, line: 0,
		},
		{
			name:  "invalid UTF-8",
			input: "apiVersion: v1\nkind: \xff\xfe\n",
			code:  CodeNotObject, severity: discover.SeverityError, line: 0,
		},
		{
			name:  "missing apiVersion and kind",
			input: "name: x\nreplicas: 3\n---\n" + good,
			code:  CodeNotObject, severity: discover.SeverityError, line: 1,
			good: []string{"ServiceAccount default/good@4"},
		},
		{
			name:  "missing apiVersion",
			input: good + "---\nkind: Deployment\nmetadata:\n  name: d\n",
			code:  CodeNotObject, severity: discover.SeverityError, line: 6, object: "Deployment",
			good: []string{"ServiceAccount default/good@1"},
		},
		{
			name:  "missing kind",
			input: good + "---\napiVersion: v1\nmetadata:\n  name: d\n",
			code:  CodeNotObject, severity: discover.SeverityError, line: 6,
			good: []string{"ServiceAccount default/good@1"},
		},
		{
			name:  "unknown kind",
			input: good + "---\napiVersion: v1\nkind: Deploymnt\nmetadata:\n  name: d\n",
			code:  CodeUnknownKind, severity: discover.SeverityWarning, line: 6, object: "Deploymnt default/d",
			good: []string{"ServiceAccount default/good@1"},
		},
		{
			name:  "kind in the wrong group",
			input: "apiVersion: v1\nkind: Deployment\nmetadata:\n  name: d\n---\n" + good,
			code:  CodeUnknownKind, severity: discover.SeverityWarning, line: 1, object: "Deployment default/d",
			good: []string{"ServiceAccount default/good@6"},
		},
		{
			name:  "typed decode failure",
			input: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: \"abc\"\n---\n" + good,
			code:  CodeInvalid, severity: discover.SeverityError, line: 6, object: "Deployment default/d",
			good: []string{"ServiceAccount default/good@8"},
		},
		{
			name:  "no name",
			input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n---\n" + good,
			code:  CodeNoName, severity: discover.SeverityError, line: 1, object: "ConfigMap",
			good: []string{"ServiceAccount default/good@6"},
		},
		{
			name:  "generateName only",
			input: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n---\n" + good,
			code:  CodeNoName, severity: discover.SeverityWarning, line: 1, object: "Job migrate-*",
			good: []string{"ServiceAccount default/good@6"},
		},
		{
			name:  "name that is not a string",
			input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 123\n---\n" + good,
			code:  CodeInvalid, severity: discover.SeverityError, line: 1, object: "ConfigMap",
			good: []string{"ServiceAccount default/good@6"},
		},
		{
			name: "alias bomb",
			input: `apiVersion: v1
kind: ConfigMap
metadata: {name: bomb}
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]
---
` + good,
			code: CodeAlias, severity: discover.SeverityError, object: "ConfigMap default/bomb",
			good: []string{"ServiceAccount default/good@15"},
		},
		{
			name:  "recursive alias",
			input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata: &x\n  a: *x\n---\n" + good,
			code:  CodeAlias, severity: discover.SeverityError, object: "ConfigMap default/loop",
			good: []string{"ServiceAccount default/good@7"},
		},
		{
			name:  "undefined alias",
			input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: *nope\n---\n" + good,
			code:  CodeYAML, severity: discover.SeverityError, line: 5,
			good: []string{"ServiceAccount default/good@7"},
		},
		{
			name:  "duplicate key",
			input: "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: first\n  name: second\n",
			code:  CodeDuplicateKey, severity: discover.SeverityWarning, line: 5, object: "ServiceAccount default/second",
			good: []string{"ServiceAccount default/second@1"},
		},
		{
			name:  "List items that are not objects",
			input: "apiVersion: v1\nkind: List\nitems:\n- just text\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: good}\n",
			code:  CodeNotObject, severity: discover.SeverityError, line: 4,
			good: []string{"ServiceAccount default/good@5"},
		},
		{
			name:  "value tagged with the wrong type",
			input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: !!int seven\n---\n" + good,
			code:  CodeYAML, severity: discover.SeverityError, line: 5, object: "ConfigMap default/x",
			good: []string{"ServiceAccount default/good@7"},
		},
		{
			name:  "kustomization in a plain scan",
			input: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n---\n" + good,
			code:  CodeKustomization, severity: discover.SeverityWarning, line: 1, object: "Kustomization",
			good: []string{"ServiceAccount default/good@5"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, probs := Decode("bad.yaml", []byte(tc.input), "")
			if len(probs) != 1 {
				t.Fatalf("want one problem, got %d: %v", len(probs), probs)
			}
			p := probs[0]
			if p.Code != tc.code || p.Severity != tc.severity {
				t.Errorf("got %s %s, want %s %s: %s", p.Severity, p.Code, tc.severity, tc.code, p)
			}
			if tc.line > 0 && p.Location.Line != tc.line {
				t.Errorf("line %d, want %d: %s", p.Location.Line, tc.line, p)
			}
			s := p.String()
			if !strings.HasPrefix(s, "bad.yaml") || (tc.line > 0 && !strings.HasPrefix(s, fmt.Sprintf("bad.yaml:%d: ", tc.line))) {
				t.Errorf("String() does not start with file:line: %s", s)
			}
			if p.Object != tc.object {
				t.Errorf("object %q, want %q", p.Object, tc.object)
			}
			if strings.Contains(p.Message, "\n") || p.Message == "" {
				t.Errorf("message is not one line: %q", p.Message)
			}
			got := refs(objs)
			if strings.Join(got, ",") != strings.Join(tc.good, ",") {
				t.Errorf("objects %v, want %v", got, tc.good)
			}
			t.Log(s)
		})
	}
}

func TestDecodeAliasBombIsCheap(t *testing.T) {
	// Nine levels of ten: 10^9 nodes if expanded.
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	b.WriteString("- &a0 {apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {k: v}}\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "- &a%d [", i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	_, probs := Decode("bomb.yaml", []byte(b.String()), "") // expanded, it would not end: the test timeout catches that
	if len(probs) == 0 {
		t.Fatal("no problem reported")
	}
}

func TestDecodeSecretValues(t *testing.T) {
	const plain = "hunter2-plain-value"
	const encoded = "aHVudGVyMi1lbmNvZGVkLXZhbHVl"
	input := `apiVersion: v1
kind: Secret
metadata:
  name: creds
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","kind":"Secret","data":{"password":"` + encoded + `"}}
type: Opaque
data:
  password: ` + encoded + `
  token: !!binary ` + encoded + `
stringData:
  extra: ` + plain + `
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: in-list}
  stringData: {key: ` + plain + `}
---
apiVersion: v1
kind: Secret
metadata: {name: bad-type}
type: [` + plain + `]
data: {a: ` + encoded + `}
---
apiVersion: v1
kind: Secret
metadata: {name: bad-data}
data: ` + plain + `
---
apiVersion: example.com/v1
kind: Secret
metadata: {name: crd}
data: {a: ` + plain + `}
`
	objs, probs := Decode("secret.yaml", []byte(input), "")
	all, err := json.Marshal(struct {
		Objects  []*discover.Object
		Problems []discover.Problem
	}{objs, probs})
	if err != nil {
		t.Fatal(err)
	}
	dump := string(all) + fmt.Sprintf("%#v %+v", probs, objs)
	for _, o := range objs {
		dump += fmt.Sprintf("%#v %#v", o.Typed, o.Fields)
	}
	for _, secret := range []string{plain, encoded, "hunter2"} {
		if strings.Contains(dump, secret) {
			t.Errorf("secret value %q leaked:\n%s", secret, dump)
		}
	}
	if got := refs(objs); strings.Join(got, ",") != "Secret default/creds@1,Secret default/in-list@18,Secret default/crd@34" {
		t.Errorf("objects %v; problems %v", got, probs)
	}
	s := objs[0].Typed.(*corev1.Secret)
	if len(s.Data) != 3 || len(s.StringData) != 0 {
		t.Errorf("want keys password, token, extra in Data: %v / %v", s.Data, s.StringData)
	}
	for k, v := range s.Data {
		if len(v) != 0 {
			t.Errorf("Data[%s] kept a value", k)
		}
	}
	if len(s.Annotations) != 0 {
		t.Errorf("annotations kept: %v", s.Annotations)
	}
	if got := objs[0].LineOf("data.password"); got != 10 {
		t.Errorf("line of data.password = %d", got)
	}
	if len(errorsOf(probs)) != 2 {
		t.Errorf("want problems for bad-type and bad-data: %v", probs)
	}
}

// TestDecodeSecretPublicMaterial: a value that is only public material (a
// certificate, a public key) is marked as such; every other value, a
// private key next to a certificate included, stays nil, and no value
// reaches the object.
func TestDecodeSecretPublicMaterial(t *testing.T) {
	const cert = "-----BEGIN CERTIFICATE-----\nMIIBizCCATGgAwIBAgIUHoNWMF3FCfPGkuCBgY2if86Qq2Aw\n-----END CERTIFICATE-----\n"
	const key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIDoNotUseThisKey\n-----END EC PRIVATE KEY-----\n"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	input := `apiVersion: v1
kind: Secret
metadata: {name: tls}
data:
  ca.crt: ` + b64(cert) + `
  tls.crt: ` + b64(cert) + `
  tls.key: ` + b64(key) + `
  both.pem: ` + b64(cert+key) + `
  id.pub: ` + b64("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx user@host") + `
  broken.crt: "not base64!"
stringData:
  tls.crt: hunter2
`
	objs, probs := Decode("tls.yaml", []byte(input), "")
	if len(objs) != 1 || len(probs) != 0 {
		t.Fatalf("objects %v, problems %v", refs(objs), probs)
	}
	s := objs[0].Typed.(*corev1.Secret)
	for k, want := range map[string]bool{"ca.crt": true, "id.pub": true, "tls.crt": false, "tls.key": false, "both.pem": false, "broken.crt": false} {
		v, ok := s.Data[k]
		if !ok {
			t.Errorf("key %s lost", k)
		}
		if public := string(v) == discover.PublicSecretValue; public != want || (!public && v != nil) {
			t.Errorf("Data[%s] = %q, want public %v", k, v, want)
		}
	}
	if got := objs[0].LineOf(discover.PathKey("data", "tls.key")); got != 7 {
		t.Errorf("line of data[tls.key] = %d, want 7", got)
	}
}

// TestDecodeAdversarial feeds inputs built to exhaust time, memory or stack
// and checks each is refused or read, the good object beside it kept.
func TestDecodeAdversarial(t *testing.T) {
	repeat := func(n int, f func(b *strings.Builder, i int)) string {
		var b strings.Builder
		for i := range n {
			f(&b, i)
		}
		return b.String()
	}
	mergeBomb := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\nl0: &l0 {a: 1, b: 2, c: 3}\n" +
		repeat(11, func(b *strings.Builder, i int) {
			fmt.Fprintf(b, "l%d: &l%d\n  <<: [%s]\n", i+1, i+1, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i), 10), ", "))
		})
	tests := []struct {
		name  string
		input string
		code  string
	}{
		{"merge key bomb", mergeBomb, CodeAlias},
		{"deep flow sequence", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), CodeYAML},
		{"deep flow mapping", strings.Repeat("{a: ", 20000) + strings.Repeat("}", 20000), CodeYAML},
		{"deep object", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: " + strings.Repeat("[", 2000) + strings.Repeat("]", 2000), CodeYAML},
		{"deep block mapping", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata:\n" + repeat(3000, func(b *strings.Builder, i int) {
			b.WriteString(strings.Repeat(" ", i+1) + "a:\n")
		}), CodeYAML},
		{"long alias chain", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\na0: &a0 x\n" + repeat(3000, func(b *strings.Builder, i int) {
			fmt.Fprintf(b, "a%d: &a%d [*a%d]\n", i+1, i+1, i)
		}), CodeAlias},
		{"many keys", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k}\ndata:\n" + repeat(50000, func(b *strings.Builder, i int) {
			fmt.Fprintf(b, "  k%d: v\n", i)
		}), ""},
		{"many empty documents", strings.Repeat("---\n", 100000), ""},
	}
	good := "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: good\n"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A bomb that got through would not end: the test's timeout
			// catches it. Speed is measured by BenchmarkCollect, not here.
			objs, probs := Decode("x.yaml", []byte(tc.input+"\n"+good), "")
			if tc.code == "" {
				if len(probs) > 0 {
					t.Errorf("problems: %v", probs)
				}
				return
			}
			if len(probs) != 1 || probs[0].Code != tc.code {
				t.Errorf("want one %s problem, got %v", tc.code, probs)
			}
			if len(objs) == 0 || objs[len(objs)-1].Name != "good" {
				t.Errorf("the good object after it was lost: %v", refs(objs))
			}
		})
	}
}

func TestDecodeErrorsDoNotQuoteValues(t *testing.T) {
	const v = "quoted-value-7"
	for _, in := range []string{
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, creationTimestamp: " + v + "}\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: {limits: {cpu: " + v + "}}}]}\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: " + v + "}]}]}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 4294967296}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: !!int " + v + "}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: {" + v + ": 1}\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: " + v + "\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: " + v + "\n",
	} {
		_, probs := Decode("t.yaml", []byte(in), "")
		if len(probs) != 1 {
			t.Errorf("want one problem for %q, got %v", in, probs)
			continue
		}
		if s := probs[0].String(); strings.Contains(s, v) || strings.Contains(s, "4294967296") {
			t.Errorf("problem quotes the value: %s", s)
		}
	}
}

// TestDecodeProblemPathsDoNotCarryOver decodes a document whose root is at
// fault after one that failed deep inside a field: the second problem
// names the document, not the field the first failed in.
func TestDecodeProblemPathsDoNotCarryOver(t *testing.T) {
	data := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &x\n  a: *x\n--- !!map\n? [complex]\n: key\n"
	_, probs := Decode("m.yaml", []byte(data), "")
	if len(probs) != 2 {
		t.Fatalf("want 2 problems, got %v", probs)
	}
	if want := "m.yaml:7: mapping at the document has a key that is not a scalar"; !strings.HasPrefix(probs[1].String(), want) {
		t.Errorf("second problem %q, want it to start %q", probs[1], want)
	}
}

// TestDecodeProblemsQuoteLineBreaks decodes kinds written over several
// lines (a plain scalar folds a blank line into a line feed): the problems
// quote them with Go's escapes and stay one line each.
func TestDecodeProblemsQuoteLineBreaks(t *testing.T) {
	for data, want := range map[string]string{
		"kind: 0\n\n 0": `m.yaml:1: "0\n0": document has a kind but no apiVersion; add the apiVersion of "0\n0"`,
		"apiVersion: v1\nkind: a\n\n b\nmetadata: {name: x}": `m.yaml:1: "a\nb default/x": apiVersion v1 has no kind "a\nb", so the object is skipped; check the spelling of kind and apiVersion`,
	} {
		_, probs := Decode("m.yaml", []byte(data), "")
		if len(probs) != 1 || probs[0].String() != want {
			t.Errorf("%q: problems %q, want one: %s", data, probs, want)
		}
	}

	// A custom kind is kept whatever it holds; defined twice, it is the
	// duplicate's object.
	file := filepath.Join(t.TempDir(), "twice.yaml")
	object := "apiVersion: example.com/v1\nkind: a\n\n b\nmetadata: {name: x}\n"
	if err := os.WriteFile(file, []byte(object+"---\n"+object), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := Collect(context.Background(), Request{Paths: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Problems) != 1 || inv.Problems[0].Code != CodeDuplicate || inv.Problems[0].Object != `"a\nb default/x"` {
		t.Errorf("problems %q, want one duplicate of \"a\\nb default/x\"", inv.Problems)
	}
}
