package discovertest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// BoutiqueCopies describes a generated scale input.
type BoutiqueCopies struct {
	Dir     string
	Files   int
	Objects int // the objects a scan of Dir should find
	Bytes   int64
}

var (
	topLevelMetadata = regexp.MustCompile(`(?m)^metadata:[ \t]*$`)
	serviceAddress   = regexp.MustCompile(`value: "([a-z][a-z0-9-]*):([0-9]+)"`)
	documentStart    = regexp.MustCompile(`(?m)^kind:`)
)

// WriteBoutiqueCopies writes the scale benchmark's input into dir: copies
// of the Online Boutique release manifest (base), one file and namespace
// per copy (shop-000, shop-001, …, with a Namespace object each), every
// "service:port" address rewritten to its cluster FQDN. 500 copies are about
// 18,000 objects and 12 MB.
func WriteBoutiqueCopies(dir string, base []byte, copies int) (BoutiqueCopies, error) {
	out := BoutiqueCopies{Dir: dir, Files: copies}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return out, err
	}
	perCopy := len(documentStart.FindAllIndex(base, -1)) + 1
	for i := 0; i < copies; i++ {
		ns := fmt.Sprintf("shop-%03d", i)
		var b bytes.Buffer
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n", ns)
		text := topLevelMetadata.ReplaceAll(base, []byte("metadata:\n  namespace: "+ns))
		text = serviceAddress.ReplaceAll(text, []byte(`value: "$1.`+ns+`.svc.cluster.local:$2"`))
		b.Write(text)
		if err := os.WriteFile(filepath.Join(dir, ns+".yaml"), b.Bytes(), 0o644); err != nil {
			return out, err
		}
		out.Bytes += int64(b.Len())
		out.Objects += perCopy
	}
	return out, nil
}

// CorpusDir returns the shared corpus of real manifests, which sits beside
// the repository as ../shared/corpus. Where it is missing the test is
// skipped with a message, except in CI (CI set), where it fails: corpus
// checks must never silently stop running.
func CorpusDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("discovertest: no go.mod above the test's directory")
		}
		dir = parent
	}
	corpus := filepath.Join(filepath.Dir(dir), "shared", "corpus")
	if _, err := os.Stat(corpus); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("corpus missing at %s (CI is set): %v", corpus, err)
		}
		t.Skipf("skipping: corpus not found at %s (it sits beside the repository as shared/corpus)", corpus)
	}
	return corpus
}

// CorpusApps lists the apps of the corpus: the name of each directory of
// CorpusDir, in order.
func CorpusApps(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(CorpusDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var apps []string
	for _, e := range entries {
		if e.IsDir() {
			apps = append(apps, e.Name())
		}
	}
	return apps
}

// BoutiqueInput writes the scale benchmark's input, copies of Online
// Boutique from the corpus, into a temporary directory of tb.
func BoutiqueInput(tb testing.TB, copies int) BoutiqueCopies {
	tb.Helper()
	base, err := os.ReadFile(filepath.Join(CorpusDir(tb), "online-boutique", "kubernetes-manifests.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	in, err := WriteBoutiqueCopies(tb.TempDir(), base, copies)
	if err != nil {
		tb.Fatal(err)
	}
	return in
}

var (
	objectName = regexp.MustCompile(`(?m)^  name: ([a-z][a-z0-9-]*)[ \t]*$`)
	nameToken  = regexp.MustCompile(`[a-z0-9][a-z0-9-]*`)
	deployment = regexp.MustCompile(`(?m)^kind: Deployment\nmetadata:\n(?:  .*\n)*?  name: ([a-z][a-z0-9-]*)`)
)

// WriteBoutiqueOneNamespace writes the other scale input into dir: copies
// of base all in one namespace, "shop", as a large application shares one.
// Copy i renames every object (cartservice becomes cartservice-0007) and
// each use of the name as a word (labels, selectors, service addresses,
// service accounts), and gives each Deployment a NetworkPolicy, a
// PodDisruptionBudget, an Istio AuthorizationPolicy and PeerAuthentication
// and a ServiceMonitor, each selecting by the "app" label, and one
// Prometheus scrapes what the ServiceMonitors select: every Service,
// policy, budget and monitor then selects one workload or Service among
// thousands in the namespace, which is where matching selectors against
// every workload of the namespace grows with its square.
func WriteBoutiqueOneNamespace(dir string, base []byte, copies int) (BoutiqueCopies, error) {
	out := BoutiqueCopies{Dir: dir, Files: copies}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return out, err
	}
	names := map[string]bool{}
	for _, m := range objectName.FindAllSubmatch(base, -1) {
		names[string(m[1])] = true
	}
	perCopy := len(documentStart.FindAllIndex(base, -1))
	for i := 0; i < copies; i++ {
		var b bytes.Buffer
		if i == 0 {
			// The namespace, and a Prometheus the operator runs that
			// scrapes what every ServiceMonitor selects.
			b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\n")
			b.WriteString("apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata:\n  name: k8s\n  namespace: shop\nspec:\n  serviceMonitorSelector: {}\n---\n")
			out.Objects += 2
		}
		suffix := fmt.Sprintf("-%04d", i)
		text := nameToken.ReplaceAllFunc(base, func(word []byte) []byte {
			if names[string(word)] {
				return append(word[:len(word):len(word)], suffix...)
			}
			return word
		})
		text = topLevelMetadata.ReplaceAll(text, []byte("metadata:\n  namespace: shop"))
		b.Write(text)
		out.Objects += perCopy
		for _, m := range deployment.FindAllSubmatch(text, -1) {
			name := m[1]
			fmt.Fprintf(&b, "\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: %s\n  namespace: shop\n"+
				"spec:\n  podSelector:\n    matchLabels:\n      app: %s\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - podSelector: {}\n", name, name)
			fmt.Fprintf(&b, "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: %s\n  namespace: shop\n"+
				"spec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: %s\n", name, name)
			fmt.Fprintf(&b, "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: %s\n  namespace: shop\n"+
				"spec:\n  selector:\n    matchLabels:\n      app: %s\n  rules:\n  - from:\n    - source:\n        namespaces: [shop]\n", name, name)
			fmt.Fprintf(&b, "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: %s\n  namespace: shop\n"+
				"spec:\n  selector:\n    matchLabels:\n      app: %s\n  mtls:\n    mode: STRICT\n", name, name)
			fmt.Fprintf(&b, "---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: %s\n  namespace: shop\n"+
				"spec:\n  selector:\n    matchLabels:\n      app: %s\n  endpoints:\n  - port: http\n", name, name)
			out.Objects += 5
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("shop-%04d.yaml", i)), b.Bytes(), 0o644); err != nil {
			return out, err
		}
		out.Bytes += int64(b.Len())
	}
	return out, nil
}
