package cluster

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes a kubeconfig with one context per server, named
// after it, the first one current.
func writeKubeconfig(t *testing.T, servers map[string]string, current string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for name, server := range servers {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, InsecureSkipTLSVerify: true}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "t"}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	cfg.CurrentContext = current
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestConfigErrors: every way of not getting to a server names what to fix.
func TestConfigErrors(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a pod, even when the tests run in one
	garbage := filepath.Join(t.TempDir(), "garbage.yaml")
	if err := os.WriteFile(garbage, []byte("clusters: [oops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dead := "https://" + closedPort(t)
	twoContexts := writeKubeconfig(t, map[string]string{"prod": dead, "staging": dead}, "prod")
	missing := filepath.Join(t.TempDir(), "nope.yaml")

	for _, tc := range []struct {
		name string
		req  Request
		env  string // $KUBECONFIG
		want []string
	}{
		{"no configuration at all", Request{}, "", []string{"no kubeconfig at " + clientcmd.RecommendedHomeFile, "not in a pod", "--kubeconfig"}},
		{"missing file", Request{Kubeconfig: missing}, "", []string{"kubeconfig " + missing, "no such file"}},
		{"not YAML", Request{Kubeconfig: garbage}, "", []string{garbage}},
		{"$KUBECONFIG names the file", Request{}, garbage, []string{"$KUBECONFIG (" + garbage + ")"}},
		{"unknown context", Request{Kubeconfig: twoContexts, Context: "dev"}, "", []string{`has no context "dev"; it has: prod, staging`}},
		{"server down", Request{Kubeconfig: twoContexts, Context: "staging"}, "", []string{"cannot reach the Kubernetes API server at " + dead, "context staging of kubeconfig " + twoContexts, "refused"}},
		{"current context used", Request{}, twoContexts, []string{"cannot reach the Kubernetes API server at " + dead, "context prod of kubeconfig $KUBECONFIG"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.env)
			if tc.req.Kubeconfig == "" && tc.env == "" {
				// client-go reads $HOME once, at start: this machine's own
				// kubeconfig cannot be hidden from it.
				if _, err := os.Stat(clientcmd.RecommendedHomeFile); err == nil {
					t.Skipf("%s exists", clientcmd.RecommendedHomeFile)
				}
			}
			_, err := Collect(context.Background(), tc.req)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestRateLimit: the client a scan reads with is held to the rate asked
// for, and to the defaults when none is.
func TestRateLimit(t *testing.T) {
	kubeconfig := writeKubeconfig(t, map[string]string{"c": "https://" + closedPort(t)}, "c")
	for _, tc := range []struct {
		name  string
		req   Request
		qps   float32
		burst int
	}{
		{"defaults", Request{Kubeconfig: kubeconfig}, DefaultQPS, DefaultBurst},
		{"both set", Request{Kubeconfig: kubeconfig, QPS: 2, Burst: 3}, 2, 3},
		{"rate only", Request{Kubeconfig: kubeconfig, QPS: 500}, 500, DefaultBurst},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := connect(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			client, err := rawClient(conn.config)
			if err != nil {
				t.Fatal(err)
			}
			if got := client.GetRateLimiter().QPS(); got != tc.qps {
				t.Errorf("client limited to %v requests a second, want %v", got, tc.qps)
			}
			if conn.config.Burst != tc.burst {
				t.Errorf("burst %d, want %d", conn.config.Burst, tc.burst)
			}
		})
	}
}
