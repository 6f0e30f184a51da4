package cluster_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/cluster/clustertest"
)

func problemsOf(inv *discover.Inventory) string {
	var lines []string
	for _, p := range inv.Problems {
		lines = append(lines, p.Location.File+": "+p.Message)
	}
	return strings.Join(lines, "\n")
}

// TestScanLiveFaults: a resource that fails, one that is too slow, and a
// server that goes away mid-scan each cost what they could not give, with
// one line naming the server and the resource; the rest is read.
func TestScanLiveFaults(t *testing.T) {
	srv := kube.Get(t)
	srv.Apply(t, "faults", []byte(liveManifests))
	request := func(kubeconfig string) cluster.ScanRequest {
		return cluster.ScanRequest{
			Request: cluster.Request{Kubeconfig: kubeconfig, Namespaces: []string{"faults"}, Timeout: 2 * time.Second},
			Kinds:   liveKinds, Concurrency: 1,
		}
	}

	t.Run("500 for one resource", func(t *testing.T) {
		var mu sync.Mutex
		tries := 0
		proxy := srv.FaultyProxy(t, func(w http.ResponseWriter, r *http.Request) bool {
			if !clustertest.IsList(r, "networkpolicies") {
				return false
			}
			mu.Lock()
			tries++
			mu.Unlock()
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcd is sad","reason":"InternalError","code":500}`, http.StatusInternalServerError)
			return true
		})
		inv, err := cluster.Scan(context.Background(), request(proxy.Kubeconfig))
		if err != nil {
			t.Fatal(err)
		}
		if got := refsOf(inv.Objects); !slices.Equal(got, []string{"Deployment faults/web", "Service faults/web", "Secret faults/db"}) {
			t.Errorf("objects: %v", got)
		}
		if len(inv.Problems) != 1 || !strings.HasPrefix(inv.Problems[0].Location.File, proxy.URL+"/apis/networking.k8s.io/v1/namespaces/faults/networkpolicies") ||
			!strings.Contains(inv.Problems[0].Message, "listing networkpolicies failed") || !strings.Contains(inv.Problems[0].Message, "etcd is sad") {
			t.Errorf("problems:\n%s", problemsOf(inv))
		}
		if len(inv.Gaps) != 1 || inv.Gaps[0].Kind != "NetworkPolicy" || inv.Gaps[0].Forbidden() {
			t.Errorf("gaps: %v", inv.Gaps)
		}
		if tries != 3 {
			t.Errorf("a 500 was asked %d times, want 3 (two retries)", tries)
		}
	})

	t.Run("one slow resource", func(t *testing.T) {
		proxy := srv.FaultyProxy(t, func(w http.ResponseWriter, r *http.Request) bool {
			if !clustertest.IsList(r, "services") {
				return false
			}
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return true
		})
		inv, err := cluster.Scan(context.Background(), request(proxy.Kubeconfig))
		if err != nil {
			t.Fatal(err)
		}
		if got := refsOf(inv.Objects); !slices.Equal(got, []string{"Deployment faults/web", "Secret faults/db", "NetworkPolicy faults/deny-all"}) {
			t.Errorf("objects: %v", got)
		}
		if len(inv.Problems) != 1 || !strings.Contains(inv.Problems[0].Message, "listing services timed out after 2s") ||
			!strings.HasPrefix(inv.Problems[0].Location.File, proxy.URL+"/api/v1/namespaces/faults/services") {
			t.Errorf("problems:\n%s", problemsOf(inv))
		}
	})

	t.Run("server gone mid-scan", func(t *testing.T) {
		var proxy *clustertest.Proxy
		proxy = srv.FaultyProxy(t, func(w http.ResponseWriter, r *http.Request) bool {
			if !clustertest.IsList(r, "secrets") {
				return false
			}
			// The server goes away: this and every later connection is cut.
			proxy.Listener.Close()
			proxy.CloseClientConnections()
			return true
		})
		start := time.Now()
		inv, err := cluster.Scan(context.Background(), request(proxy.Kubeconfig))
		if err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed > 20*time.Second {
			t.Errorf("a scan of a server that is gone took %s", elapsed)
		}
		// Deployments and Services were read before; Secrets and
		// NetworkPolicies are gaps, with one problem between them.
		if got := refsOf(inv.Objects); !slices.Equal(got, []string{"Deployment faults/web", "Service faults/web"}) {
			t.Errorf("objects: %v", got)
		}
		if len(inv.Problems) != 1 || !strings.Contains(inv.Problems[0].Message, "the server stopped answering while secrets were read") {
			t.Errorf("problems:\n%s", problemsOf(inv))
		}
		gaps := gapsOf(inv)
		if want := []string{
			"NetworkPolicy.networking.k8s.io in namespace faults: not read: the server stopped answering",
			"Secret in namespace faults: not read: the server stopped answering",
		}; !slices.Equal(gaps, want) {
			t.Errorf("gaps:\n got %q\nwant %q", gaps, want)
		}
		for _, g := range inv.Gaps {
			if g.Forbidden() {
				t.Errorf("gap %s is Forbidden: a re-scan would store it as coverage", g)
			}
		}
	})
}

// TestScanLiveCredentials: credentials the server refuses and a server the
// kubeconfig does not trust are each one error naming the server and what
// to do; nothing is read.
func TestScanLiveCredentials(t *testing.T) {
	srv := kube.Get(t)
	for _, tc := range []struct {
		name       string
		kubeconfig string
		want       string
	}{
		{"expired client certificate", srv.ExpiredKubeconfigFor(t, "expired"), "did not accept the credentials (401 Unauthorized): log in again or renew"},
		{"another cluster's certificate authority", srv.UntrustingKubeconfigFor(t, "elsewhere"), "its certificate is not signed by the certificate authority the kubeconfig trusts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := cluster.Scan(context.Background(), cluster.ScanRequest{Request: cluster.Request{Kubeconfig: tc.kubeconfig}, Kinds: liveKinds})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error: %v\nwant one line with %q", err, tc.want)
			}
			if inv != nil {
				t.Errorf("read %d objects", len(inv.Objects))
			}
		})
	}
}

// TestScanLiveBadAnswers: a list that is not JSON, an object that does not
// decode, and an API group that does not answer (an aggregated API that is
// down) each cost only what they hold, with one line naming the resource.
func TestScanLiveBadAnswers(t *testing.T) {
	srv := kube.Get(t)
	srv.Apply(t, "answers", []byte(liveManifests))
	request := func(kubeconfig string) cluster.ScanRequest {
		return cluster.ScanRequest{Request: cluster.Request{Kubeconfig: kubeconfig, Namespaces: []string{"answers"}}, Kinds: liveKinds}
	}
	for _, tc := range []struct {
		name    string
		fault   func(w http.ResponseWriter, r *http.Request) bool
		objects []string
		problem string // in the one problem's location and message
	}{
		{
			name: "garbage for one resource",
			fault: func(w http.ResponseWriter, r *http.Request) bool {
				if !clustertest.IsList(r, "networkpolicies") {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, "<html>\x1b[2Jnot a list</html>")
				return true
			},
			objects: []string{"Deployment answers/web", "Service answers/web", "Secret answers/db"},
			problem: "networkpolicies",
		},
		{
			name: "an object that does not decode",
			fault: func(w http.ResponseWriter, r *http.Request) bool {
				if !clustertest.IsList(r, "networkpolicies") {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"kind":"NetworkPolicyList","apiVersion":"networking.k8s.io/v1","metadata":{},"items":[{"metadata":{"name":"bad","namespace":"answers"},"spec":{"podSelector":"everything"}}]}`)
				return true
			},
			objects: []string{"Deployment answers/web", "Service answers/web", "Secret answers/db"},
			problem: "bad",
		},
		{
			name: "an API group that does not answer",
			fault: func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/apis/networking.k8s.io/v1" {
					return false
				}
				http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"service unavailable","reason":"ServiceUnavailable","code":503}`, http.StatusServiceUnavailable)
				return true
			},
			objects: []string{"Deployment answers/web", "Service answers/web", "Secret answers/db"},
			problem: "API group networking.k8s.io/v1 is served but did not answer",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := srv.FaultyProxy(t, tc.fault)
			inv, err := cluster.Scan(context.Background(), request(proxy.Kubeconfig))
			if err != nil {
				t.Fatal(err)
			}
			if got := refsOf(inv.Objects); !slices.Equal(got, tc.objects) {
				t.Errorf("objects: %v", got)
			}
			if len(inv.Problems) != 1 || !strings.Contains(inv.Problems[0].Location.File+" "+inv.Problems[0].Message, tc.problem) ||
				!strings.HasPrefix(inv.Problems[0].Location.File, proxy.URL) || strings.ContainsAny(inv.Problems[0].Message, "\x1b\n") {
				t.Errorf("problems, want one naming %q:\n%s", tc.problem, problemsOf(inv))
			}
		})
	}
}
