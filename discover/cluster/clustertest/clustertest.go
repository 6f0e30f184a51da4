// Package clustertest runs a real kube-apiserver, with its etcd, for tests
// of code that reads a live cluster, the way net/http/httptest runs an HTTP
// server. No controllers and no kubelet run: what a test creates stays as
// created, so a test sets pod status itself (CreatePod).
//
// The binaries are built by .ci/kube-apiserver.sh into $STRIDEMAP_KUBE_BIN,
// else ${XDG_CACHE_HOME:-~/.cache}/stridemap/kube-v1.37.1. Without them a
// test skips, or fails when $CI is set.
package clustertest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// BinEnv names the directory holding kube-apiserver and etcd.
const BinEnv = "STRIDEMAP_KUBE_BIN"

// ServiceCIDR is the range the server allocates ClusterIPs from.
const ServiceCIDR = "10.96.0.0/16"

// AdminGroup is the group RBAC lets do anything.
const AdminGroup = "system:masters"

// Server is a running kube-apiserver and its etcd.
type Server struct {
	// URL is the API server's address, https://127.0.0.1:PORT.
	URL string
	// Kubeconfig is a kubeconfig file for an administrator.
	Kubeconfig string

	dir   string
	ca    *authority
	procs []*process
}

// Start starts a server for one test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binaries(t)
	s, err := start(bin)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Shared is one server for a whole test package, started by the first test
// that asks for it; TestMain calls Stop after m.Run.
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Get returns the package's server, starting it the first time.
func (sh *Shared) Get(t testing.TB) *Server {
	t.Helper()
	bin := binaries(t)
	sh.once.Do(func() { sh.srv, sh.err = start(bin) })
	if sh.err != nil {
		t.Fatalf("clustertest: %v", sh.err)
	}
	return sh.srv
}

// Stop stops the server if one was started.
func (sh *Shared) Stop() {
	if sh.srv != nil {
		sh.srv.Stop()
	}
}

// binaries returns the directory holding kube-apiserver and etcd, or skips
// the test (fails it in CI) when they are not built.
func binaries(t testing.TB) string {
	t.Helper()
	dir, err := findBinaries()
	if errors.Is(err, ErrNoBinaries) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	return dir
}

// ErrNoBinaries is returned when kube-apiserver or etcd is not built.
var ErrNoBinaries = errors.New("kube-apiserver and etcd are not built")

// findBinaries returns the directory holding kube-apiserver and etcd.
func findBinaries() (string, error) {
	dir := os.Getenv(BinEnv)
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(cache, "stridemap", "kube-v1.37.1")
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("clustertest: no %s in %s: run .ci/kube-apiserver.sh to build kube-apiserver and etcd (minutes, once), or set $%s: %w", name, dir, BinEnv, ErrNoBinaries)
		}
	}
	return dir, nil
}

// New starts a server outside a test, for a benchmark or a tool; the
// caller stops it. Without the binaries the error wraps ErrNoBinaries.
func New() (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	return start(bin)
}

func start(bin string) (_ *Server, err error) {
	dir, err := os.MkdirTemp("", "clustertest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.ca, err = newAuthority(); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	s.URL = fmt.Sprintf("https://127.0.0.1:%d", ports[2])

	etcd, err := startProcess(filepath.Join(bin, "etcd"), filepath.Join(dir, "etcd.log"),
		"--name=test", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL, "--initial-cluster=test="+peerURL,
		"--log-level=error", "--unsafe-no-fsync")
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, etcd)

	files := map[string][]byte{"ca.crt": s.ca.certPEM, "audit-policy.yaml": []byte(auditPolicy)}
	if files["serving.crt"], files["serving.key"], err = s.ca.issue("127.0.0.1", nil, true, time.Now().Add(24*time.Hour)); err != nil {
		return nil, err
	}
	if files["sa.key"], files["sa.pub"], err = newKeyPair(); err != nil {
		return nil, err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	port := s.URL[strings.LastIndexByte(s.URL, ':')+1:]
	api, err := startProcess(filepath.Join(bin, "kube-apiserver"), filepath.Join(dir, "kube-apiserver.log"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+port,
		"--cert-dir="+dir,
		"--tls-cert-file="+filepath.Join(dir, "serving.crt"), "--tls-private-key-file="+filepath.Join(dir, "serving.key"),
		"--client-ca-file="+filepath.Join(dir, "ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range="+ServiceCIDR,
		"--authorization-mode=RBAC",
		// Privileged containers are what many manifests ask for, and
		// what a scan must see.
		"--allow-privileged=true",
		// No controller creates the default ServiceAccount a pod would
		// be admitted with.
		"--disable-admission-plugins=ServiceAccount",
		"--endpoint-reconciler-type=none",
		"--audit-policy-file="+filepath.Join(dir, "audit-policy.yaml"),
		"--audit-log-path="+s.auditLog(), "--audit-log-mode=blocking",
		"--profiling=false")
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, api)

	if s.Kubeconfig, err = s.WriteKubeconfig("admin", AdminGroup); err != nil {
		return nil, err
	}
	return s, s.waitReady(api, 2*time.Minute)
}

// waitReady polls /readyz as the administrator until the server is ready,
// the process exits or the time is up.
func (s *Server) waitReady(api *process, limit time.Duration) error {
	cfg, err := s.Config()
	if err != nil {
		return err
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-api.exited:
			return fmt.Errorf("kube-apiserver exited: %v\n%s", api.err, s.logs())
		case <-time.After(250 * time.Millisecond):
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err != nil {
			last = err.Error()
			continue
		}
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = fmt.Sprintf("%s: %s", resp.Status, body)
	}
	return fmt.Errorf("kube-apiserver not ready after %s: %s\n%s", limit, last, s.logs())
}

// logs is the end of both processes' logs, for failures.
func (s *Server) logs() string {
	var b strings.Builder
	for _, name := range []string{"etcd.log", "kube-apiserver.log"} {
		data, _ := os.ReadFile(filepath.Join(s.dir, name))
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", name, strings.Join(lines, "\n"))
	}
	return b.String()
}

// Stop kills the processes and removes their files.
func (s *Server) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
	s.procs = nil
	os.RemoveAll(s.dir)
}

// Config is a client configuration for the administrator.
func (s *Server) Config() (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
}

// KubeconfigFor writes a kubeconfig for a user in the given groups,
// authenticated by a client certificate, and returns its path. Without
// groups the user may do nothing until a test grants it something.
func (s *Server) KubeconfigFor(t testing.TB, user string, groups ...string) string {
	t.Helper()
	path, err := s.WriteKubeconfig(user, groups...)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	return path
}

// WriteKubeconfig is KubeconfigFor outside a test.
func (s *Server) WriteKubeconfig(user string, groups ...string) (string, error) {
	return s.writeKubeconfig(user, groups, time.Now().Add(24*time.Hour), s.ca.certPEM)
}

// ExpiredKubeconfigFor is KubeconfigFor with a certificate that expired an
// hour ago, as a kubeconfig left unused too long has.
func (s *Server) ExpiredKubeconfigFor(t testing.TB, user string) string {
	t.Helper()
	path, err := s.writeKubeconfig(user, nil, time.Now().Add(-time.Hour), s.ca.certPEM)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	return path
}

// UntrustingKubeconfigFor is KubeconfigFor trusting another certificate
// authority than the one that signed the server's certificate: a
// kubeconfig of another cluster at this one's address.
func (s *Server) UntrustingKubeconfigFor(t testing.TB, user string) string {
	t.Helper()
	other, err := newAuthority()
	if err == nil {
		var path string
		if path, err = s.writeKubeconfig(user, nil, time.Now().Add(24*time.Hour), other.certPEM); err == nil {
			return path
		}
	}
	t.Fatalf("clustertest: %v", err)
	return ""
}

func (s *Server) writeKubeconfig(user string, groups []string, notAfter time.Time, trusted []byte) (string, error) {
	cert, key, err := s.ca.issue(user, groups, false, notAfter)
	if err != nil {
		return "", err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["clustertest"] = &clientcmdapi.Cluster{Server: s.URL, CertificateAuthorityData: trusted}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[user] = &clientcmdapi.Context{Cluster: "clustertest", AuthInfo: user}
	cfg.CurrentContext = user
	f, err := os.CreateTemp(s.dir, "kubeconfig-"+user+"-*")
	if err != nil {
		return "", err
	}
	f.Close()
	return f.Name(), clientcmd.WriteToFile(*cfg, f.Name())
}

// process is a started binary whose exit is watched.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

func startProcess(bin, log string, args ...string) (*process, error) {
	out, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// freePorts asks the kernel for n loopback ports nobody uses. They are free
// when returned; a process started right after takes them.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
