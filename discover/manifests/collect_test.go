package manifests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover"
)

func serviceAccount(name string) string {
	return "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: " + name + "\n"
}

// writeTree writes files (slash-separated relative names) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func names(objs []*discover.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Name
	}
	return out
}

func TestCollectSources(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"app/b.yaml":           serviceAccount("b1") + "---\n" + serviceAccount("b2"),
		"app/a.yml":            serviceAccount("a"),
		"app/nested/c.json":    `{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "c"}}`,
		"app/nested/Z.YAML":    serviceAccount("z"),
		"app/README.md":        "# not a manifest",
		"app/.git/config.yaml": serviceAccount("hidden"),
		"app/.hidden.yaml":     serviceAccount("hidden2"),
		"single.txt":           serviceAccount("explicit"),
	})
	if err := os.Symlink(filepath.Join(dir, "app", "a.yml"), filepath.Join(dir, "app", "nested", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	var progress []string
	req := Request{
		Paths:            []string{filepath.Join(dir, "app"), "-", filepath.Join(dir, "single.txt")},
		Stdin:            strings.NewReader(serviceAccount("stdin")),
		DefaultNamespace: "shop",
		Progress:         func(p string) { progress = append(progress, p) },
	}
	inv, err := Collect(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Problems) > 0 {
		t.Errorf("problems: %v", inv.Problems)
	}
	want := []string{"a", "b1", "b2", "z", "c", "stdin", "explicit"}
	if got := names(inv.Objects); !slices.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
	for _, o := range inv.Objects {
		if o.Namespace != "shop" {
			t.Errorf("%s: namespace %q", o.Ref(), o.Namespace)
		}
	}
	if len(inv.Sources) != 3 {
		t.Fatalf("sources: %+v", inv.Sources)
	}
	s := inv.Sources
	if s[0].Kind != discover.SourceDir || s[0].Files != 4 || s[0].Objects != 5 {
		t.Errorf("dir source: %+v", s[0])
	}
	if s[1].Kind != discover.SourceStdin || s[1].Path != "-" || s[1].Files != 1 || s[1].Objects != 1 {
		t.Errorf("stdin source: %+v", s[1])
	}
	sum := sha256.Sum256([]byte(serviceAccount("stdin")))
	if s[1].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("stdin digest %s", s[1].SHA256)
	}
	if s[2].Kind != discover.SourceFile || s[2].Objects != 1 {
		t.Errorf("file source: %+v", s[2])
	}
	if inv.Objects[5].Location.File != "-" {
		t.Errorf("stdin object location %v", inv.Objects[5].Location)
	}
	wantProgress := []string{
		filepath.Join(dir, "app", "a.yml"), filepath.Join(dir, "app", "b.yaml"),
		filepath.Join(dir, "app", "nested", "Z.YAML"), filepath.Join(dir, "app", "nested", "c.json"),
		"-", filepath.Join(dir, "single.txt"),
	}
	if !slices.Equal(progress, wantProgress) {
		t.Errorf("progress %v, want %v", progress, wantProgress)
	}

	// The digest changes when a file does, and not otherwise.
	again, _ := Collect(context.Background(), Request{Paths: []string{filepath.Join(dir, "app")}})
	if again.Sources[0].SHA256 != s[0].SHA256 {
		t.Errorf("digest not stable")
	}
	writeTree(t, dir, map[string]string{"app/a.yml": serviceAccount("a") + "# changed\n"})
	changed, _ := Collect(context.Background(), Request{Paths: []string{filepath.Join(dir, "app")}})
	if changed.Sources[0].SHA256 == s[0].SHA256 {
		t.Errorf("digest did not change")
	}
}

func TestCollectErrors(t *testing.T) {
	if _, err := Collect(context.Background(), Request{}); !errors.Is(err, ErrNoSources) {
		t.Errorf("empty request: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Collect(ctx, Request{Paths: []string{t.TempDir()}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestCollectProblems(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) Request
		code  string
		file  string // file the problem names, relative to dir
		line  int
		good  []string
		// severity, when set, is what the problem must have: one that
		// leaves objects unread is an error, and the scan partial.
		severity discover.Severity
	}{
		{
			name: "missing path",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{"ok.yaml": serviceAccount("good")})
				return Request{Paths: []string{filepath.Join(dir, "nope.yaml"), filepath.Join(dir, "ok.yaml")}}
			},
			code: CodeRead, file: "nope.yaml", good: []string{"good"},
		},
		{
			name: "file over the size limit",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{
					"m/big.yaml":  serviceAccount("big") + "# " + strings.Repeat("x", 200) + "\n",
					"m/good.yaml": serviceAccount("good"),
				})
				return Request{Paths: []string{filepath.Join(dir, "m")}, MaxFileBytes: 100}
			},
			code: CodeTooLarge, file: "m/big.yaml", good: []string{"good"},
		},
		{
			name: "stdin over the size limit",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{"good.yaml": serviceAccount("good")})
				return Request{
					Paths:        []string{"-", filepath.Join(dir, "good.yaml")},
					Stdin:        strings.NewReader(strings.Repeat("# filler\n", 1000)),
					MaxFileBytes: 100,
				}
			},
			code: CodeTooLarge, file: "-", good: []string{"good"},
		},
		{
			name: "symlink loop",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{"m/sub/good.yaml": serviceAccount("good")})
				if err := os.Symlink("..", filepath.Join(dir, "m", "sub", "up")); err != nil {
					t.Fatal(err)
				}
				return Request{Paths: []string{filepath.Join(dir, "m")}}
			},
			code: CodeSymlinkLoop, file: "m/sub/up", good: []string{"good"},
		},
		{
			name: "symlinks that loop between themselves",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{"m/good.yaml": serviceAccount("good")})
				for _, link := range [][2]string{{"b.yaml", "a.yaml"}, {"a.yaml", "b.yaml"}} {
					if err := os.Symlink(link[0], filepath.Join(dir, "m", link[1])); err != nil {
						t.Fatal(err)
					}
				}
				return Request{Paths: []string{filepath.Join(dir, "m")}}
			},
			code: CodeRead, file: "m/b.yaml", good: []string{"good"}, severity: discover.SeverityError,
		},
		{
			name: "broken symbolic link",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{"m/good.yaml": serviceAccount("good")})
				if err := os.Symlink("gone.yaml", filepath.Join(dir, "m", "link.yaml")); err != nil {
					t.Fatal(err)
				}
				return Request{Paths: []string{filepath.Join(dir, "m")}}
			},
			// Not a file changing under the scan: it stays broken.
			code: CodeRead, file: "m/link.yaml", good: []string{"good"}, severity: discover.SeverityError,
		},
		{
			name: "file removed after its directory was listed",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{"m/a.yaml": serviceAccount("gone"), "m/b.yaml": serviceAccount("good")})
				return Request{Paths: []string{filepath.Join(dir, "m")}, Progress: func(path string) {
					// Called as each file starts: a.yaml goes just before.
					if filepath.Base(path) == "a.yaml" {
						if err := os.Remove(path); err != nil {
							t.Error(err)
						}
					}
				}}
			},
			code: discover.CodeChangedWhileRead, file: "m/a.yaml", good: []string{"good"}, severity: discover.SeverityError,
		},
		{
			name: "duplicate object across files",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{
					"m/a.yaml": serviceAccount("dup"),
					"m/b.yaml": serviceAccount("good") + "---\n" + serviceAccount("dup"),
				})
				return Request{Paths: []string{filepath.Join(dir, "m")}}
			},
			code: CodeDuplicate, file: "m/b.yaml", line: 6, good: []string{"dup", "good"},
		},
		{
			name: "malformed YAML in one file",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{
					"m/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n",
					"m/b.yaml": serviceAccount("good"),
				})
				return Request{Paths: []string{filepath.Join(dir, "m")}}
			},
			code: CodeYAML, file: "m/a.yaml", line: 5, good: []string{"good"},
		},
		{
			name: "binary file",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{
					"m/a.yaml": "\x00\x01\x02garbage",
					"m/b.yaml": serviceAccount("good"),
				})
				return Request{Paths: []string{filepath.Join(dir, "m")}}
			},
			code: CodeNotObject, file: "m/a.yaml", good: []string{"good"},
		},
		{
			name: "kustomize build error",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{
					"k/kustomization.yaml": "resources:\n- missing.yaml\n",
					"good.yaml":            serviceAccount("good"),
				})
				return Request{Paths: []string{filepath.Join(dir, "good.yaml")}, Kustomize: []string{filepath.Join(dir, "k")}}
			},
			code: CodeKustomize, file: "k", good: []string{"good"},
		},
		{
			name: "kustomize on a file",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{"good.yaml": serviceAccount("good")})
				return Request{Paths: []string{filepath.Join(dir, "good.yaml")}, Kustomize: []string{filepath.Join(dir, "good.yaml")}}
			},
			code: CodeKustomize, file: "good.yaml", good: []string{"good"},
		},
	}
	if os.Geteuid() != 0 { // root reads anything
		tests = append(tests, struct {
			name     string
			setup    func(t *testing.T, dir string) Request
			code     string
			file     string
			line     int
			good     []string
			severity discover.Severity
		}{
			name: "unreadable file",
			setup: func(t *testing.T, dir string) Request {
				writeTree(t, dir, map[string]string{"m/a.yaml": serviceAccount("x"), "m/b.yaml": serviceAccount("good")})
				if err := os.Chmod(filepath.Join(dir, "m", "a.yaml"), 0); err != nil {
					t.Fatal(err)
				}
				return Request{Paths: []string{filepath.Join(dir, "m")}}
			},
			code: CodeRead, file: "m/a.yaml", good: []string{"good"},
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			inv, err := Collect(context.Background(), tc.setup(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			var found *discover.Problem
			for i, p := range inv.Problems {
				if p.Code == tc.code {
					found = &inv.Problems[i]
				}
			}
			if found == nil {
				t.Fatalf("no %s problem in %v", tc.code, inv.Problems)
			}
			file := filepath.Join(dir, filepath.FromSlash(tc.file))
			if tc.file == "-" {
				file = "-"
			}
			wantPrefix := file
			if tc.line > 0 {
				wantPrefix = fmt.Sprintf("%s:%d: ", file, tc.line)
			}
			if s := found.String(); !strings.HasPrefix(s, wantPrefix) {
				t.Errorf("problem %q does not start with %q", s, wantPrefix)
			}
			if strings.Contains(found.Message, "\n") {
				t.Errorf("message spans lines: %q", found.Message)
			}
			if got := names(inv.Objects); !slices.Equal(got, tc.good) {
				t.Errorf("objects %v, want %v", got, tc.good)
			}
			if tc.severity != "" && found.Severity != tc.severity {
				t.Errorf("problem %q is a %s, want an %s", found, found.Severity, tc.severity)
			}
			t.Log(found)
		})
	}
}

func TestCollectDuplicateNamesBoth(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"a.yaml": serviceAccount("dup"),
		"b.yaml": "# comment\n" + serviceAccount("dup"),
	})
	inv, err := Collect(context.Background(), Request{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Problems) != 1 || len(inv.Objects) != 1 {
		t.Fatalf("objects %v, problems %v", names(inv.Objects), inv.Problems)
	}
	s := inv.Problems[0].String()
	for _, loc := range []string{filepath.Join(dir, "a.yaml") + ":1", filepath.Join(dir, "b.yaml") + ":2"} {
		if !strings.Contains(s, loc) {
			t.Errorf("%q does not name %s", s, loc)
		}
	}
	if inv.Objects[0].Location.File != filepath.Join(dir, "a.yaml") {
		t.Errorf("kept %v, want the first", inv.Objects[0].Location)
	}
	if !inv.Partial() {
		t.Errorf("a duplicate should make the scan partial")
	}
}

func TestCollectKustomize(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"base/kustomization.yaml": "resources:\n- deploy.yaml\n- svc.yaml\n",
		"base/deploy.yaml": `# a comment first
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:1
        env:
        - name: MODE
          value: plain
`,
		"base/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 80}]\n---\n" + serviceAccount("web"),
		"overlay/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: prod
namePrefix: prod-
resources:
- ../base
configMapGenerator:
- name: settings
  literals: [LEVEL=debug]
secretGenerator:
- name: creds
  literals: [password=kustomize-secret-value]
`,
	})
	overlay := filepath.Join(dir, "overlay")
	inv, err := Collect(context.Background(), Request{Kustomize: []string{overlay}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Problems) > 0 {
		t.Fatalf("problems: %v", inv.Problems)
	}
	got := map[string]string{}
	for _, o := range inv.Objects {
		got[o.Ref()] = o.Location.String()
	}
	want := map[string]string{
		"Deployment prod/prod-web":           filepath.Join(overlay, "../base/deploy.yaml") + ":2",
		"Service prod/prod-web":              filepath.Join(overlay, "../base/svc.yaml") + ":1",
		"ServiceAccount prod/prod-web":       filepath.Join(overlay, "../base/svc.yaml") + ":8",
		"ConfigMap prod/prod-settings-" + "": "",
	}
	for ref, loc := range want {
		if strings.HasPrefix(ref, "ConfigMap") {
			continue
		}
		if got[ref] != loc {
			t.Errorf("%s at %q, want %q (all: %v)", ref, got[ref], loc, got)
		}
	}
	if len(inv.Objects) != 5 {
		t.Errorf("objects: %v", got)
	}
	for _, o := range inv.Objects {
		if o.Kind == "ConfigMap" || o.Kind == "Secret" {
			if o.Location.File != filepath.Join(overlay, "kustomization.yaml") {
				t.Errorf("generated %s at %v, want the kustomization", o.Ref(), o.Location)
			}
		}
		if o.Kind == "Deployment" {
			if line := o.LineOf("spec.template.spec.containers[0].env[0].value"); line != 16 {
				t.Errorf("env value line %d, want 16", line)
			}
			if _, ok := o.Typed.(interface{ GetAnnotations() map[string]string }).GetAnnotations()[originAnnotation]; ok {
				t.Errorf("origin annotation left on %s", o.Ref())
			}
		}
		if s, ok := o.Typed.(*corev1.Secret); ok {
			if _, ok := s.Data["password"]; !ok || len(s.Data["password"]) != 0 {
				t.Errorf("secret data: %v", s.Data)
			}
		}
	}
	dump, _ := json.Marshal(inv)
	if strings.Contains(string(dump), "kustomize-secret-value") || strings.Contains(string(dump), originAnnotation) {
		t.Errorf("inventory leaks the secret or the origin annotation: %s", dump)
	}
	if s := inv.Sources[0]; s.Kind != discover.SourceKustomize || s.Files != 4 || s.Objects != 5 || len(s.SHA256) != 64 {
		t.Errorf("source: %+v", s)
	}
	// The kustomization on disk is untouched.
	data, _ := os.ReadFile(filepath.Join(overlay, "kustomization.yaml"))
	if strings.Contains(string(data), "buildMetadata") {
		t.Errorf("kustomization.yaml was modified")
	}
}

// corpusDir is the shared corpus of real manifests. Outside CI a checkout
// without it skips the corpus tests; in CI its absence is a failure.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("corpus missing at %s (CI is set): %v", dir, err)
		}
		t.Skipf("corpus not found at %s; set it up next to the repository to run this test", dir)
	}
	return dir
}

func TestCorpus(t *testing.T) {
	corpus := corpusDir(t)
	// Object counts from the table in corpus/README.md.
	want := map[string]int{
		"online-boutique":                 35,
		"bookinfo":                        24,
		"sock-shop":                       29,
		"deathstarbench-hotelreservation": 50,
		"deathstarbench-socialnetwork":    63,
		"train-ticket":                    128,
		"kubernetes-goat":                 32,
		"online-boutique-policies":        18, // 13 NetworkPolicies, 5 Istio and Gateway API objects
	}
	for app, n := range want {
		t.Run(app, func(t *testing.T) {
			inv, err := Collect(context.Background(), Request{Paths: []string{filepath.Join(corpus, app)}})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range inv.Problems {
				if p.Severity == discover.SeverityError {
					t.Errorf("problem: %s", p)
				}
			}
			if len(inv.Objects) != n {
				t.Errorf("%d objects, want %d", len(inv.Objects), n)
			}
			for _, o := range inv.Objects {
				if o.Location.Line == 0 || o.Lines.Len() == 0 {
					t.Errorf("%s has no lines: %v", o.Ref(), o.Location)
				}
			}
		})
	}
}

func TestCorpusLines(t *testing.T) {
	corpus := corpusDir(t)
	file := filepath.Join(corpus, "online-boutique", "kubernetes-manifests.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	objs, _ := Decode(file, data, "")
	var frontend *discover.Object
	for _, o := range objs {
		if o.Kind == "Deployment" && o.Name == "frontend" {
			frontend = o
		}
	}
	if frontend == nil {
		t.Fatal("no Deployment frontend")
	}
	for path, want := range map[string]int{
		"spec.template.spec.containers[0].env[1].value": 76,
		"spec.template.spec.containers[0].env[1]":       75,
		"spec.template.spec.containers[0].image":        53,
		"spec.template.spec.containers[0]":              45,
	} {
		if got := frontend.LineOf(path); got != want {
			t.Errorf("LineOf(%s) = %d (%q), want %d", path, got, lines[got-1], want)
		}
	}
	// Every object's first line is its apiVersion or kind line.
	for _, o := range objs {
		l := lines[o.Location.Line-1]
		if !strings.HasPrefix(l, "apiVersion:") && !strings.HasPrefix(l, "kind:") {
			t.Errorf("%s starts at line %d: %q", o.Ref(), o.Location.Line, l)
		}
	}
}

func TestCorpusSecretsStayOut(t *testing.T) {
	corpus := corpusDir(t)
	inv, err := Collect(context.Background(), Request{Paths: []string{filepath.Join(corpus, "kubernetes-goat")}})
	if err != nil {
		t.Fatal(err)
	}
	dump, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	secrets := 0
	for _, o := range inv.Objects {
		if s, ok := o.Typed.(*corev1.Secret); ok {
			secrets++
			for k, v := range s.Data {
				if len(v) != 0 {
					t.Errorf("%s: value kept for %s", o.Ref(), k)
				}
			}
		}
	}
	if secrets != 3 {
		t.Errorf("%d Secrets, want 3", secrets)
	}
	// The base64 prefix of every kubernetes-goat flag ("k8s-goat-").
	if strings.Contains(string(dump), "azhzLWdvYXQt") {
		t.Errorf("a secret value reached the inventory")
	}
}

func TestCorpusKustomizeComponent(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "online-boutique-policies", "network-policies")
	inv, err := Collect(context.Background(), Request{Kustomize: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Problems) > 0 {
		t.Errorf("problems: %v", inv.Problems)
	}
	if len(inv.Objects) != 13 {
		t.Fatalf("%d objects, want 13", len(inv.Objects))
	}
	for _, o := range inv.Objects {
		if o.Kind != "NetworkPolicy" || o.Typed == nil {
			t.Errorf("%s typed %T", o.Ref(), o.Typed)
		}
		if filepath.Dir(o.Location.File) != dir || !strings.HasPrefix(filepath.Base(o.Location.File), "network-policy-") {
			t.Errorf("%s at %v", o.Ref(), o.Location)
			continue
		}
		data, err := os.ReadFile(o.Location.File)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		if o.Location.Line < 1 || !strings.HasPrefix(lines[o.Location.Line-1], "apiVersion:") {
			t.Errorf("%s at %v, not an apiVersion line", o.Ref(), o.Location)
		}
		if !strings.Contains(string(data), "name: "+o.Name+"\n") {
			t.Errorf("%s placed in %s, which does not define it", o.Ref(), o.Location.File)
		}
		if line := o.LineOf("spec.podSelector"); line <= o.Location.Line {
			t.Errorf("%s: spec.podSelector at line %d", o.Ref(), line)
		}
	}
}

func TestCollectDeterministic(t *testing.T) {
	corpus := corpusDir(t)
	var first []string
	for i := 0; i < 3; i++ {
		inv, err := Collect(context.Background(), Request{Paths: []string{corpus}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range inv.Objects {
			got = append(got, o.Location.String()+" "+o.Ref())
		}
		for _, p := range inv.Problems {
			got = append(got, p.String())
		}
		if i == 0 {
			first = got
		} else if !slices.Equal(got, first) {
			t.Fatalf("run %d differs from the first", i)
		}
	}
}

func TestCollectCRDScope(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: meshpolicies.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: MeshPolicy, plural: meshpolicies}
`,
		"policies.yaml": "apiVersion: example.com/v1\nkind: MeshPolicy\nmetadata: {name: strict}\n---\n" +
			"apiVersion: example.com/v1\nkind: Other\nmetadata: {name: o}\n",
	})
	inv, err := Collect(context.Background(), Request{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range inv.Objects {
		got[o.Kind] = o.Ref()
	}
	if got["MeshPolicy"] != "MeshPolicy strict" || got["Other"] != "Other default/o" || got["CustomResourceDefinition"] != "CustomResourceDefinition meshpolicies.example.com" {
		t.Errorf("refs: %v", got)
	}
}
