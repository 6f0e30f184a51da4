//go:build linux

// Package flowstest builds small networks of "pods" for tests that observe
// real connections: each pod is a network namespace with one veth link to a
// bridge, which lives in a namespace of its own, so no address or link of
// the test ever exists in the host's namespace. Everything is removed by
// name when the test ends, failed or not.
//
// Sockets are created inside a pod's namespace from the test process
// itself (Pod.Listen, Pod.DialContext), so servers and clients are
// goroutines, not processes to reap; they all share the test's cgroup.
//
// A pod can also have a cgroup v2 directory of its own, named as kubelet
// names a container's (Pod.UseCgroup, SystemdCgroup, CgroupfsCgroup), and
// run its servers and clients as processes in it (Pod.StartServer,
// Pod.RunClient, and their HTTP kin), so that the sockets' owners tell the
// pods apart by cgroup as on a node. A pod can run a mesh sidecar too
// (Pod.StartMeshSidecar): iptables rules that capture its connections, as
// Istio's do, and a proxy process named envoy. Those processes are the test
// binary run again, started inside the pod's namespace; the test package's
// TestMain hands them to Main. Processes are killed, and cgroup
// directories removed, when the test ends; iptables rules go with the
// pod's namespace.
package flowstest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stridemap/stridemap/discover/flows"
)

// NeedRoot skips the test when it cannot create namespaces: not root and
// not in CI. In CI (env CI set) the test runs and fails loudly instead.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv("CI") == "" {
		t.Skip("needs root for namespaces, cgroups and eBPF (runs in CI)")
	}
	for _, tool := range []string{"ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install iproute2 (.ci/deps.sh)", tool)
		}
	}
}

// Lab is a bridge and the pods attached to it.
type Lab struct {
	// Subnet and Subnet6 are the pods' subnets, drawn at random for each
	// lab (from 10.128.0.0/9 and fd00:200::/48). They exist only inside
	// the lab's namespaces, but an observer sees every namespace of the
	// machine: distinct addresses keep the connections of labs that run
	// at the same time (tests of other packages, other runs) apart.
	Subnet, Subnet6 netip.Prefix

	t      testing.TB
	id     string
	bridge string // namespace holding the bridge
	pods   []*Pod
	cgroup string // the lab's parent cgroup directory, once a pod needs one
	envoy  string // the test binary named as a mesh proxy, once a pod runs one
}

// Pod is one network namespace with an address on the lab's bridge.
type Pod struct {
	Name  string
	NS    string     // namespace name, under /run/netns
	IP    netip.Addr // IPv4 address of eth0
	IP6   netip.Addr // IPv6 address of eth0
	Inode uint32     // namespace inode, as the observer reports it
	// Cgroup is the pod's cgroup v2 directory relative to the mount, as
	// the observer reports it; "" until UseCgroup.
	Cgroup string
	lab    *Lab
}

// NewLab creates the bridge namespace. Cleanup removes it and every pod.
func NewLab(t testing.TB) *Lab {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	l := &Lab{t: t, id: hex.EncodeToString(b)}
	l.Subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 128 | b[0]&127, b[1], 0}), 24)
	l.Subnet6 = netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0x02, 0, 0, 0, b[0] & 127, b[1]}), 64)
	l.bridge = "smt-" + l.id + "-br"
	l.ip("netns", "add", l.bridge)
	t.Cleanup(func() { l.deleteNS(l.bridge) })
	l.ipIn(l.bridge, "link", "add", "br0", "type", "bridge")
	l.ipIn(l.bridge, "link", "set", "br0", "up")
	return l
}

// AddPod creates a pod namespace with eth0 on the bridge and the next free
// addresses of the lab's Subnet and Subnet6. Its default route is eth0, so
// addresses outside the subnet (ClusterIPs) can be dialled and DNATed.
func (l *Lab) AddPod(name string) *Pod {
	l.t.Helper()
	addr, addr6 := l.Subnet.Addr(), l.Subnet6.Addr()
	for range len(l.pods) + 2 {
		addr, addr6 = addr.Next(), addr6.Next()
	}
	p := &Pod{Name: name, NS: fmt.Sprintf("smt-%s-%d", l.id, len(l.pods)), IP: addr, IP6: addr6, lab: l}
	l.ip("netns", "add", p.NS)
	l.t.Cleanup(func() { l.deleteNS(p.NS) })
	var st unix.Stat_t
	if err := unix.Stat("/run/netns/"+p.NS, &st); err != nil {
		l.t.Fatal(err)
	}
	p.Inode = uint32(st.Ino)
	peer := fmt.Sprintf("v%s%d", l.id, len(l.pods)) // at most 15 bytes
	l.ipIn(p.NS, "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", l.bridge)
	l.ipIn(p.NS, "addr", "add", netip.PrefixFrom(addr, l.Subnet.Bits()).String(), "dev", "eth0")
	l.ipIn(p.NS, "-6", "addr", "add", netip.PrefixFrom(addr6, l.Subnet6.Bits()).String(), "dev", "eth0", "nodad")
	l.ipIn(p.NS, "link", "set", "lo", "up")
	l.ipIn(p.NS, "link", "set", "eth0", "up")
	l.ipIn(p.NS, "route", "add", "default", "dev", "eth0")
	l.ipIn(l.bridge, "link", "set", peer, "master", "br0")
	l.ipIn(l.bridge, "link", "set", peer, "up")
	l.pods = append(l.pods, p)
	return p
}

// Pods lists the pods in the order they were added.
func (l *Lab) Pods() []*Pod { return l.pods }

func (l *Lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (l *Lab) ipIn(ns string, args ...string) {
	l.t.Helper()
	l.ip(append([]string{"-n", ns}, args...)...)
}

func (l *Lab) deleteNS(ns string) {
	if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
		l.t.Errorf("remove network namespace %s: %v\n%s", ns, err, out)
	}
}

// Exec runs a command inside the pod's namespace and fails the test if it
// fails.
func (p *Pod) Exec(name string, args ...string) {
	p.lab.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", p.NS, name}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.lab.t.Fatalf("in %s: %s %s: %v\n%s", p.Name, name, strings.Join(args, " "), err, out)
	}
}

// DNAT makes connections from this pod to from (a ClusterIP and port) go
// to to (a pod address), as kube-proxy's iptables rules do: the client's
// socket keeps seeing from.
func (p *Pod) DNAT(from, to netip.AddrPort) {
	p.lab.t.Helper()
	p.iptables("-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", from.Addr().String(), "--dport", fmt.Sprint(from.Port()),
		"-j", "DNAT", "--to-destination", to.String())
}

// iptables adds a rule in the pod's namespace.
func (p *Pod) iptables(args ...string) {
	p.lab.t.Helper()
	if _, err := exec.LookPath("iptables"); err != nil {
		p.lab.t.Fatal("iptables not found: install it (.ci/deps.sh)")
	}
	p.Exec("iptables", args...)
}

// Do runs fn on an OS thread that has entered the pod's namespace, so the
// sockets fn creates belong to the pod. The thread is discarded if it cannot
// return to the original namespace.
func (p *Pod) Do(fn func() error) error { return inNetns(p.NS, fn) }

// inNetns runs fn on an OS thread in the named network namespace.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked on failure: the thread dies with the goroutine
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), syscall.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter network namespace %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), syscall.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("leave network namespace %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Listen listens on TCP port of the pod's address (all addresses when
// dualStack, as Go servers usually do: IPv4 peers then appear
// IPv4-mapped to the kernel). The listener is closed when the test ends.
func (p *Pod) Listen(port uint16, dualStack bool) net.Listener {
	p.lab.t.Helper()
	var ln net.Listener
	err := p.Do(func() (err error) {
		if dualStack {
			ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		} else {
			ln, err = net.Listen("tcp4", netip.AddrPortFrom(p.IP, port).String())
		}
		return err
	})
	if err != nil {
		p.lab.t.Fatalf("listen in %s: %v", p.Name, err)
	}
	p.lab.t.Cleanup(func() { ln.Close() })
	return ln
}

// DialContext connects from inside the pod; it fits http.Transport.
func (p *Pod) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := p.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// SystemdCgroup is the cgroup directory kubelet's systemd driver gives a
// container of a burstable pod, relative to the cgroup root:
// kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid, with
// underscores>.slice/cri-containerd-<container>.scope.
func SystemdCgroup(uid, container string) string {
	slice := "kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice"
	return path.Join("kubepods.slice", "kubepods-burstable.slice", slice, "cri-containerd-"+container+".scope")
}

// CgroupfsCgroup is the cgroup directory kubelet's cgroupfs driver gives a
// container of a burstable pod: kubepods/burstable/pod<uid>/<container>.
func CgroupfsCgroup(uid, container string) string {
	return path.Join("kubepods", "burstable", "pod"+uid, container)
}

// UseCgroup gives the pod a cgroup v2 directory of its own at dir (see
// SystemdCgroup), below a parent directory that belongs to this lab alone;
// the processes the pod starts from then on (StartServer, RunClient) run
// in it. It returns Pod.Cgroup, the directory's path relative to the
// cgroup v2 mount. The directories are removed when the test ends.
func (p *Pod) UseCgroup(dir string) string {
	p.lab.t.Helper()
	if p.Cgroup != "" {
		p.lab.t.Fatalf("%s already has the cgroup %s", p.Name, p.Cgroup)
	}
	p.Cgroup = p.lab.makeCgroup(dir)
	return p.Cgroup
}

// makeCgroup creates the cgroup directory dir (see UseCgroup) below the
// lab's parent, and returns its path relative to the cgroup v2 mount.
func (l *Lab) makeCgroup(dir string) string {
	l.t.Helper()
	root := flows.CgroupRoot()
	if root == "" {
		l.t.Fatal("cgroup v2 is not mounted: a pod's processes need a cgroup of their own")
	}
	if l.cgroup == "" {
		// The test's PID and the lab's id: labs of concurrent test runs
		// never share a directory.
		parent := fmt.Sprintf("/stridemap-test-%d-%s", os.Getpid(), l.id)
		l.mkdirCgroup(root, parent, true)
		l.cgroup = parent
	}
	// Only leaves hold processes, and no controller is enabled below the
	// parent, so cgroup v2's rule against processes in inner cgroups
	// never applies.
	rel := l.cgroup
	parts := strings.Split(path.Clean(dir), "/")
	for i, part := range parts {
		if part == "" || part == "." || part == ".." {
			l.t.Fatalf("cgroup %q: want a relative path without . or ..", dir)
		}
		rel += "/" + part
		l.mkdirCgroup(root, rel, i == len(parts)-1)
	}
	return rel
}

// mkdirCgroup creates the cgroup directory rel under root and removes it
// when the test ends. An existing directory is an error when it must be
// new, else left to whoever made it.
func (l *Lab) mkdirCgroup(root, rel string, mustBeNew bool) {
	l.t.Helper()
	dir := filepath.Join(root, rel)
	err := os.Mkdir(dir, 0o755)
	switch {
	case errors.Is(err, fs.ErrExist) && !mustBeNew:
		return
	case err != nil:
		l.t.Fatalf("create cgroup %s: %v", rel, err)
	}
	l.t.Cleanup(func() {
		// A killed process leaves its cgroup as it is reaped; give the
		// kernel a moment before calling the directory busy.
		var err error
		for range 50 {
			if err = unix.Rmdir(dir); err != unix.EBUSY {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil && err != unix.ENOENT {
			l.t.Errorf("remove cgroup %s: %v", rel, err)
		}
	})
}

// helperEnv, in the environment of a process a pod started, says what the
// process does: a podJob in JSON.
const helperEnv = "STRIDEMAP_FLOWSTEST_JOB"

// podJob is what a pod's process does, in the namespace it was started in:
//   - serve: accept on Addr and echo what each connection sends,
//   - call: dial Addr Count times, send a line, read it back,
//   - serve-http: answer HTTP requests on Addr,
//   - get: send Count HTTP GET requests to Addr, a connection each,
//   - mesh-proxy: be the pod's mesh sidecar (see StartMeshSidecar).
type podJob struct {
	Mode  string
	Addr  string `json:",omitempty"`
	Count int    `json:",omitempty"`
	// Routes are a mesh proxy's (see MeshSidecar).
	Routes map[netip.AddrPort]netip.AddrPort `json:",omitempty"`
}

// Main runs the tests, or, in a process that a pod started (StartServer,
// RunClient, StartMeshSidecar, …), the pod's server, client or sidecar. A
// test package whose pods start processes calls it from TestMain:
//
//	func TestMain(m *testing.M) { flowstest.Main(m) }
func Main(m *testing.M) {
	env := os.Getenv(helperEnv)
	if env == "" {
		os.Exit(m.Run())
	}
	var job podJob
	err := json.Unmarshal([]byte(env), &job)
	if err == nil {
		err = job.run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", job.Mode, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func (j podJob) run() error {
	switch j.Mode {
	case "serve":
		ln, err := net.Listen("tcp4", j.Addr)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		return serve(ln, func(c net.Conn) { io.Copy(c, c) })
	case "call":
		for i := range j.Count {
			c, err := net.DialTimeout("tcp", j.Addr, 5*time.Second)
			if err != nil {
				return err
			}
			err = echo(c, fmt.Sprintf("call %d of %d\n", i+1, j.Count))
			c.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", j.Addr, err)
			}
		}
		fmt.Println("done")
		return nil
	case "serve-http":
		ln, err := net.Listen("tcp4", j.Addr)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, "ok\n")
		}))
	case "get":
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for range j.Count {
			if err := get(client, "http://"+j.Addr+"/"); err != nil {
				return err
			}
		}
		fmt.Println("done")
		return nil
	case "mesh-proxy":
		return runMeshProxy(j.Routes)
	}
	return fmt.Errorf("unknown mode %q", j.Mode)
}

// echo sends msg, ends its side of the connection and reads msg back.
func echo(c net.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if string(b) != msg {
		return fmt.Errorf("sent %q, got %q back", msg, b)
	}
	return nil
}

// get sends one GET request and reads the answer, which must be "ok".
func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode != http.StatusOK || string(b) != "ok\n") {
		err = fmt.Errorf("answered %s %q", resp.Status, b)
	}
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// command is the test binary run again to do job; start it with start. It
// dies with the test.
func (p *Pod) command(ctx context.Context, job podJob) *exec.Cmd {
	t := p.lab.t
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	// Should TestMain not call Main, the binary runs no test and ends.
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(b))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// start starts cmd in the pod's network namespace, and in the cgroup
// directory cgroup (relative to the mount) unless it is "". The process is
// forked from a thread inside the namespace, and in its cgroup (clone3's
// CLONE_INTO_CGROUP): it never has a socket anywhere else, and needs no
// privilege to get there.
func (p *Pod) start(cmd *exec.Cmd, cgroup string) error {
	if cgroup != "" {
		fd, err := unix.Open(filepath.Join(flows.CgroupRoot(), cgroup), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open cgroup %s: %w", cgroup, err)
		}
		defer unix.Close(fd)
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	}
	return p.Do(cmd.Start)
}

// daemon starts cmd in the pod (see start) as a process that runs until
// the test ends, and returns once it says it is ready. What it writes to
// standard error is logged when the test ends.
func (p *Pod) daemon(cmd *exec.Cmd, cgroup, what string) {
	t := p.lab.t
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.start(cmd, cgroup); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	stop := func() error {
		cmd.Process.Kill()
		return cmd.Wait()
	}
	t.Cleanup(func() {
		stop()
		if stderr.Len() > 0 {
			t.Logf("%s said:\n%s", what, stderr.String())
		}
	})
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("said %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-time.After(10 * time.Second):
		err = errors.New("not ready after 10s")
	}
	if err != nil {
		t.Fatalf("%s: %v (does TestMain call flowstest.Main?)", what, err) // Cleanup logs what it said
	}
}

// runToEnd runs cmd in the pod's namespace and cgroup (see start) and fails
// the test unless it ends well, saying it is done.
func (p *Pod) runToEnd(cmd *exec.Cmd, what string) {
	t := p.lab.t
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := p.start(cmd, p.Cgroup)
	if err == nil {
		err = cmd.Wait()
	}
	if err == nil && out.String() != "done\n" {
		err = errors.New("the client did not run (does TestMain call flowstest.Main?)")
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, out.String())
	}
}

// StartServer starts the pod's server: a process in the pod's network
// namespace and cgroup that accepts TCP connections on port of the pod's
// IPv4 address and echoes what each sends. It returns once the server
// listens, and kills it when the test ends.
func (p *Pod) StartServer(port uint16) {
	p.lab.t.Helper()
	cmd := p.command(context.Background(), podJob{Mode: "serve", Addr: netip.AddrPortFrom(p.IP, port).String()})
	p.daemon(cmd, p.Cgroup, fmt.Sprintf("the server of %s on port %d", p.Name, port))
}

// StartHTTPServer is StartServer for an HTTP server, which answers "ok"
// to every request.
func (p *Pod) StartHTTPServer(port uint16) {
	p.lab.t.Helper()
	cmd := p.command(context.Background(), podJob{Mode: "serve-http", Addr: netip.AddrPortFrom(p.IP, port).String()})
	p.daemon(cmd, p.Cgroup, fmt.Sprintf("the HTTP server of %s on port %d", p.Name, port))
}

// RunClient runs a client process in the pod's network namespace and
// cgroup: it dials addr n times, one connection after the other, sends a
// line on each and reads it back. The test fails unless every call does.
func (p *Pod) RunClient(addr netip.AddrPort, n int) {
	p.lab.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p.runToEnd(p.command(ctx, podJob{Mode: "call", Addr: addr.String(), Count: n}), fmt.Sprintf("%s -> %s", p.Name, addr))
}

// RunHTTPClient is RunClient for an HTTP client: it sends n GET requests
// to addr, on a connection each, and wants "ok" back (see
// StartHTTPServer).
func (p *Pod) RunHTTPClient(addr netip.AddrPort, n int) {
	p.lab.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p.runToEnd(p.command(ctx, podJob{Mode: "get", Addr: addr.String(), Count: n}), fmt.Sprintf("%s -> http://%s", p.Name, addr))
}

// What StartMeshSidecar runs: Istio's sidecar, as istio-init and the
// injector set it up.
const (
	// MeshProxyUID is the user the sidecar runs as: iptables leaves its
	// own connections alone.
	MeshProxyUID = 1337
	// MeshOutboundPort is where iptables sends the connections the pod's
	// applications open, and MeshInboundPort those that come to the pod.
	MeshOutboundPort, MeshInboundPort = 15001, 15006
	// meshProxyComm is the sidecar's process name.
	meshProxyComm = "envoy"
	// meshInboundSource is the address the sidecar hands inbound
	// connections to the application from, as Istio's does.
	meshInboundSource = "127.0.0.6"
)

// MeshSidecar is a pod's mesh sidecar (see Pod.StartMeshSidecar).
type MeshSidecar struct {
	// Cgroup is the sidecar container's cgroup directory, named as for
	// UseCgroup: kubelet gives each container of a pod its own. "" runs
	// the sidecar in the pod's cgroup.
	Cgroup string
	// Routes map what the pod's applications dial (a ClusterIP and port)
	// to the pod address the sidecar connects to instead, as Envoy picks
	// one of a Service's endpoints. Other destinations are connected to
	// as they were dialled.
	Routes map[netip.AddrPort]netip.AddrPort
}

// StartMeshSidecar gives the pod a mesh sidecar as Istio injects one:
// iptables rules in the pod's namespace capture its TCP connections, and a
// process named envoy, running as MeshProxyUID, carries them.
//
//   - The connections other users open to other hosts go to
//     MeshOutboundPort. The sidecar reads where each was going
//     (SO_ORIGINAL_DST), connects there itself, or to its route, with
//     TLS, and relays both ways.
//   - The connections that come to the pod go to MeshInboundPort. The
//     sidecar ends their TLS and relays them in clear to the port they
//     were for, on the pod's address, from 127.0.0.6.
//
// Between two pods with sidecars, every connection is thus TLS on the
// wire, whatever the applications speak. StartMeshSidecar returns once the
// sidecar listens, and kills it when the test ends; the rules go with the
// pod's namespace.
func (p *Pod) StartMeshSidecar(s MeshSidecar) {
	l := p.lab
	l.t.Helper()
	uid := fmt.Sprint(MeshProxyUID)
	p.iptables("-t", "nat", "-A", "OUTPUT", "-p", "tcp", "!", "-o", "lo", "-m", "owner", "!", "--uid-owner", uid,
		"-j", "REDIRECT", "--to-ports", fmt.Sprint(MeshOutboundPort))
	p.iptables("-t", "nat", "-A", "PREROUTING", "-p", "tcp", "-j", "REDIRECT", "--to-ports", fmt.Sprint(MeshInboundPort))
	cgroup := p.Cgroup
	if s.Cgroup != "" {
		cgroup = l.makeCgroup(s.Cgroup)
	}
	cmd := p.command(context.Background(), podJob{Mode: "mesh-proxy", Routes: s.Routes})
	cmd.Path, cmd.Args[0] = l.envoyBinary(), meshProxyComm
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: MeshProxyUID, Gid: MeshProxyUID}
	p.daemon(cmd, cgroup, "the mesh sidecar of "+p.Name)
}

// envoyBinary is the test binary under the name of Istio's proxy, which a
// process that runs it has as its name (comm), in a directory that
// MeshProxyUID may enter.
func (l *Lab) envoyBinary() string {
	l.t.Helper()
	if l.envoy != "" {
		return l.envoy
	}
	exe, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "stridemap-mesh-")
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, meshProxyComm)
	err = os.Chmod(dir, 0o755)
	if err == nil && os.Link(exe, bin) != nil {
		err = copyFile(bin, exe) // another file system
	}
	if err != nil {
		l.t.Fatalf("name the test binary %s: %v", meshProxyComm, err)
	}
	l.envoy = bin
	return bin
}

// copyFile copies the executable src to dst, which anyone may run.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// runMeshProxy is the sidecar's process (see StartMeshSidecar).
func runMeshProxy(routes map[netip.AddrPort]netip.AddrPort) error {
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	outbound, err := net.Listen("tcp", fmt.Sprintf(":%d", MeshOutboundPort))
	if err != nil {
		return err
	}
	inbound, err := net.Listen("tcp", fmt.Sprintf(":%d", MeshInboundPort))
	if err != nil {
		return err
	}
	fmt.Println("ready")
	errc := make(chan error, 2)
	go func() {
		errc <- relay(outbound, func(app net.Conn, dst netip.AddrPort) (net.Conn, net.Conn, error) {
			if to, ok := routes[dst]; ok {
				dst = to
			}
			// The peer's sidecar has a certificate of its own making.
			peer, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", dst.String(), &tls.Config{InsecureSkipVerify: true})
			return app, peer, err
		})
	}()
	go func() {
		errc <- relay(inbound, func(c net.Conn, dst netip.AddrPort) (net.Conn, net.Conn, error) {
			peer := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
			if err := peer.Handshake(); err != nil {
				return nil, nil, err
			}
			d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(meshInboundSource)}}
			app, err := d.Dial("tcp", dst.String())
			return peer, app, err
		})
	}()
	return <-errc
}

// relay accepts the connections iptables redirected to ln, and relays each
// both ways between the two ends open returns for it, given where it was
// going. Failures are written to standard error.
func relay(ln net.Listener, open func(c net.Conn, dst netip.AddrPort) (from, to net.Conn, err error)) error {
	return serve(ln, func(c net.Conn) {
		dst, err := originalDst(c)
		var from, to net.Conn
		if err == nil {
			from, to, err = open(c, dst)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s from %s to %s: %v\n", ln.Addr(), c.RemoteAddr(), dst, err)
			return
		}
		defer to.Close()
		splice(from, to)
	})
}

// serve hands each connection ln accepts to handle, on a goroutine of its
// own, and closes it after.
func serve(ln net.Listener, handle func(net.Conn)) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

// splice copies a to b and b to a until neither sends more, passing each
// end's close on to the other.
func splice(a, b net.Conn) {
	done := make(chan struct{})
	go func() {
		io.Copy(b, a)
		closeWrite(b)
		close(done)
	}()
	io.Copy(a, b)
	closeWrite(a)
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// originalDst is where a connection that iptables redirected was going.
func originalDst(c net.Conn) (netip.AddrPort, error) {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var sa *unix.IPv6Mreq
	var serr error
	err = raw.Control(func(fd uintptr) {
		// The kernel writes a sockaddr_in (16 bytes) into anything that
		// has room for it, as the 20 bytes of an IPv6Mreq do.
		sa, serr = unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("SO_ORIGINAL_DST: %w", err)
	}
	b := sa.Multiaddr // family, port, address
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4])), nil
}

// selfSigned makes the sidecar's certificate.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: meshProxyComm},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
