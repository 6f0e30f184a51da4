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
// run its server and clients as processes in it (Pod.StartServer,
// Pod.RunClient), so that the sockets' owners tell the pods apart by cgroup
// as on a node. Those processes are the test binary run again; the test
// package's TestMain hands them to Main. Processes are killed, and cgroup
// directories removed, when the test ends.
package flowstest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
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
		t.Skip("needs root for network namespaces, cgroups and eBPF (runs in CI)")
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
	if _, err := exec.LookPath("iptables"); err != nil {
		p.lab.t.Fatal("iptables not found: install it (.ci/deps.sh)")
	}
	p.Exec("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", from.Addr().String(), "--dport", fmt.Sprint(from.Port()),
		"-j", "DNAT", "--to-destination", to.String())
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
	l := p.lab
	l.t.Helper()
	if p.Cgroup != "" {
		l.t.Fatalf("%s already has the cgroup %s", p.Name, p.Cgroup)
	}
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
	p.Cgroup = rel
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

// podJob is what a pod's process does: serve (accept on Addr and echo
// what each connection sends) or call (dial Addr Count times, send a line,
// read it back), in the network namespace NS.
type podJob struct {
	Mode  string // "serve" or "call"
	NS    string
	Addr  string
	Count int
}

// Main runs the tests, or, in a process that a pod started (StartServer,
// RunClient), the pod's server or client. A test package whose pods start
// processes calls it from TestMain:
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
		var ln net.Listener
		if err := inNetns(j.NS, func() (err error) { ln, err = net.Listen("tcp4", j.Addr); return err }); err != nil {
			return err
		}
		fmt.Println("ready")
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	case "call":
		for i := range j.Count {
			var c net.Conn
			if err := inNetns(j.NS, func() (err error) { c, err = net.DialTimeout("tcp", j.Addr, 5*time.Second); return err }); err != nil {
				return err
			}
			err := echo(c, fmt.Sprintf("call %d of %d\n", i+1, j.Count))
			c.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", j.Addr, err)
			}
		}
		fmt.Println("done")
		return nil
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

// command is the test binary run again to do job in the pod's network
// namespace and cgroup, if it has one. It dies with the test.
func (p *Pod) command(ctx context.Context, job podJob) (*exec.Cmd, func()) {
	t := p.lab.t
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	job.NS = p.NS
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	// Should TestMain not call Main, the binary runs no test and ends.
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(b))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	release := func() {}
	if p.Cgroup != "" {
		// Started in its cgroup (clone3's CLONE_INTO_CGROUP), the process
		// never has a socket anywhere else.
		fd, err := unix.Open(filepath.Join(flows.CgroupRoot(), p.Cgroup), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("open cgroup %s: %v", p.Cgroup, err)
		}
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
		release = func() { unix.Close(fd) }
	}
	return cmd, release
}

// StartServer starts the pod's server: a process in the pod's network
// namespace and cgroup that accepts TCP connections on port of the pod's
// IPv4 address and echoes what each sends. It returns once the server
// listens, and kills it when the test ends.
func (p *Pod) StartServer(port uint16) {
	t := p.lab.t
	t.Helper()
	cmd, release := p.command(context.Background(), podJob{Mode: "serve", Addr: netip.AddrPortFrom(p.IP, port).String()})
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Start()
	release()
	if err != nil {
		t.Fatalf("start the server of %s: %v", p.Name, err)
	}
	stop := func() error {
		cmd.Process.Kill()
		return cmd.Wait()
	}
	t.Cleanup(func() { stop() })
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
		err = errors.New("not listening after 10s")
	}
	if err != nil {
		stop()
		t.Fatalf("the server of %s on port %d: %v (does TestMain call flowstest.Main?)\n%s", p.Name, port, err, stderr.String())
	}
}

// RunClient runs a client process in the pod's network namespace and
// cgroup: it dials addr n times, one connection after the other, sends a
// line on each and reads it back. The test fails unless every call does.
func (p *Pod) RunClient(addr netip.AddrPort, n int) {
	t := p.lab.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, release := p.command(ctx, podJob{Mode: "call", Addr: addr.String(), Count: n})
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Start()
	release()
	if err == nil {
		err = cmd.Wait()
	}
	if err == nil && out.String() != "done\n" {
		err = errors.New("the client did not run (does TestMain call flowstest.Main?)")
	}
	if err != nil {
		t.Fatalf("%s -> %s: %v\n%s", p.Name, addr, err, out.String())
	}
}
