package clustertest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Proxy stands between a client and the server as its administrator, so a
// test can make the server fail one request and answer the others.
type Proxy struct {
	*httptest.Server
	// Kubeconfig reaches the server through the proxy.
	Kubeconfig string
}

// FaultyProxy starts a Proxy to the server; fault sees each request
// first, and answers it itself when it returns true.
func (s *Server) FaultyProxy(t testing.TB, fault func(w http.ResponseWriter, r *http.Request) bool) *Proxy {
	t.Helper()
	config, err := s.Config()
	if err != nil {
		t.Fatal(err)
	}
	transport, err := rest.TransportFor(config)
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	forward.Transport = transport
	p := &Proxy{}
	p.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fault(w, r) {
			forward.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.Close)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["proxy"] = &clientcmdapi.Cluster{Server: p.URL, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{Token: "the-proxy-authenticates"}
	cfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy"}
	cfg.CurrentContext = "proxy"
	p.Kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p.Kubeconfig); err != nil {
		t.Fatal(err)
	}
	return p
}

// IsList reports whether r lists the resource ("services").
func IsList(r *http.Request, resource string) bool {
	return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/"+resource)
}
