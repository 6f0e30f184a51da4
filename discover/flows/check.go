//go:build linux

package flows

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stridemap/stridemap/discover/flows/bpf"
)

// KernelCheck is what works of the observer on the running kernel: each
// part loaded, attached and tried on a few loopback connections.
type KernelCheck struct {
	Kernel string      `json:"kernel"`
	Parts  []PartCheck `json:"parts"`
}

// PartCheck is one row of a KernelCheck.
type PartCheck struct {
	Part     string `json:"part"`
	Required bool   `json:"required"`
	OK       bool   `json:"ok"`
	Detail   string `json:"detail,omitempty"` // why not, or what was seen
}

// Owners is the row of a KernelCheck that says whether connections are
// attributed to the process that made them. It is no part of its own: the
// connections program records owners, but a kernel may run it and lose
// them, which is worth a row.
const Owners = "owners"

// Usable reports whether the required part works: flows can be observed.
func (c KernelCheck) Usable() bool {
	for _, p := range c.Parts {
		if p.Required && !p.OK {
			return false
		}
	}
	return len(c.Parts) > 0
}

// checkConnections is how many connections the check makes: more than
// the kernel reports one by one (flow.c, PEEK_SAMPLES), so that the rest
// are counted in place.
const checkConnections = 8

// Check opens an Observer with cfg, makes checkConnections loopback
// connections to a server that was listening before it, and says which
// parts saw what they should. It needs what Open needs; when Open fails,
// the required row says why and Check still returns the report. Nothing
// stays attached when it returns.
func Check(ctx context.Context, cfg Config) KernelCheck {
	report := KernelCheck{Kernel: bpf.Release()}
	row := func(part string, required, ok bool, detail string) {
		report.Parts = append(report.Parts, PartCheck{Part: part, Required: required, OK: ok, Detail: detail})
	}
	ln, port, err := listenCheck()
	if err != nil {
		row(string(bpf.Connections), true, false, fmt.Sprintf("no loopback server to try it on: %v", err))
		return report
	}
	defer unix.Close(ln)
	defer unix.Shutdown(ln, unix.SHUT_RDWR) // ends serveCheck's accept
	go serveCheck(ln)

	o, err := Open(cfg)
	if err != nil {
		row(string(bpf.Connections), true, false, err.Error())
		for _, p := range append([]string{Owners}, partNames(bpf.Parts[1:])...) {
			row(p, false, false, "not tried: the required part did not load")
		}
		return report
	}
	defer o.Close()
	var (
		mu     sync.Mutex
		events []Event
	)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- o.Run(runCtx, func(e Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		})
	}()
	dialErr := dialCheck(port)
	// A slow or busy kernel may close the last connections after their
	// process has: wait for that, then stopping Run delivers what is queued
	// and the counts.
	if dialErr == nil && !connectionsClosed(port, 2*time.Second) {
		dialErr = fmt.Errorf("connections to port %d were still closing after 2s", port)
	}
	stop()
	if err := <-done; err != nil && dialErr == nil {
		dialErr = err
	}

	pid := uint32(os.Getpid())
	var connects, closes, owned, payloads, counted uint64
	adopted := false
	for _, e := range events {
		if e.Kind == Listen {
			adopted = adopted || e.Local.Port() == port && e.OwnerKnown && e.PID == pid
			continue
		}
		if e.ServerPort() != port || e.Role != RoleClient {
			continue
		}
		switch e.Kind {
		case Connect:
			connects++
			if e.OwnerKnown && e.PID == pid {
				owned++
			}
		case Close:
			closes++
		case Payload:
			payloads++
		case Counted:
			counted += e.Counts.Opened
		}
	}
	missing := map[string]string{}
	for _, m := range o.Missing() {
		missing[m.Part] = m.Reason
	}
	seen := fmt.Sprintf("%d connections made, %d reported opened and %d closed one by one, %d counted in the kernel", checkConnections, connects, closes, counted)
	if dialErr != nil {
		seen += fmt.Sprintf(" (%v)", dialErr)
	}
	st, statsErr := o.Stats()
	if statsErr == nil {
		seen += losses(st)
	}
	row(string(bpf.Connections), true, connects > 0 && closes > 0, seen)
	row(Owners, false, owned > 0 && owned == connects, fmt.Sprintf("%d of %d reported connections attributed to this process", owned, connects))
	tried := func(part bpf.Part, ok bool, detail string) {
		if reason, gone := missing[string(part)]; gone {
			row(string(part), false, false, reason)
			return
		}
		row(string(part), false, ok, detail)
	}
	adoption := "a server listening before the observer started is found with its owner"
	if !adopted {
		adoption = "a server listening before the observer started was not found"
	}
	tried(bpf.ListenerAdoption, adopted, adoption)
	tried(bpf.ProtocolPeek, payloads > 0, fmt.Sprintf("first bytes of %d connection directions read", payloads))
	aggregated := fmt.Sprintf("%d connections counted in the kernel", counted)
	if counted == 0 {
		// Say what the kernel side saw, so a failure explains itself.
		if statsErr == nil {
			aggregated += fmt.Sprintf(" (%d connections reported one by one; the kernel could not count %d flows, lost %d events)", connects, st.Reported, st.Dropped)
		}
	}
	tried(bpf.Aggregation, counted > 0, aggregated)
	return report
}

// losses says what the kernel missed or could not deliver while the check
// ran, which explains a count that falls short and tells how often this
// kernel skips the tracker; "" when nothing was lost or rescued.
func losses(st Stats) string {
	var parts []string
	if st.Skipped > 0 || st.Rescued > 0 {
		parts = append(parts, fmt.Sprintf("the kernel skipped the tracker for %s, %d of them caught by its spare copy", plural(st.Skipped+st.Rescued, "state change"), st.Rescued))
	}
	if st.Dropped > 0 {
		parts = append(parts, plural(st.Dropped, "event")+" dropped with the ring buffer full")
	}
	if st.Unattributed > 0 {
		parts = append(parts, plural(st.Unattributed, "socket")+" without owner storage")
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

// plural is "1 thing" or "n things".
func plural(n uint64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// The check's server and client use the socket system calls directly, not
// package net: the observer links no net, so no cgo, which would stop it
// from giving up its capabilities on every thread.

// listenCheck opens a TCP server on 127.0.0.1 and returns its socket and
// port.
func listenCheck() (fd int, port uint16, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	sa, err := func() (unix.Sockaddr, error) {
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return nil, err
		}
		if err := unix.Listen(fd, checkConnections); err != nil {
			return nil, err
		}
		return unix.Getsockname(fd)
	}()
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	return fd, uint16(sa.(*unix.SockaddrInet4).Port), nil
}

func partNames(parts []bpf.Part) []string {
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = string(p)
	}
	return names
}

// serveCheck answers every connection with a line, like a small server,
// until the listening socket is shut down.
func serveCheck(ln int) {
	for {
		c, err := retryInterrupted(func() (int, error) {
			c, _, err := unix.Accept(ln)
			return c, err
		})
		if err != nil {
			return
		}
		if _, err := retryInterrupted(func() (int, error) { return unix.Read(c, make([]byte, 64)) }); err == nil {
			_, _ = retryInterrupted(func() (int, error) { return unix.Write(c, []byte("HTTP/1.1 204 No Content\r\n\r\n")) })
		}
		unix.Close(c)
	}
}

// dialCheck makes the check's connections, one after another, each a
// request and its answer.
func dialCheck(port uint16) error {
	for range checkConnections {
		if err := requestCheck(port); err != nil {
			return err
		}
	}
	return nil
}

func requestCheck(port uint16) error {
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(c)
	timeout := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	_ = unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &timeout)
	_ = unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &timeout)
	if err := connect(c, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: int(port)}, 5*time.Second); err != nil {
		return fmt.Errorf("connect to 127.0.0.1:%d: %w", port, err)
	}
	if _, err := retryInterrupted(func() (int, error) { return unix.Write(c, []byte("GET /check HTTP/1.1\r\nHost: stridemap\r\n\r\n")) }); err != nil {
		return fmt.Errorf("send to 127.0.0.1:%d: %w", port, err)
	}
	if _, err := retryInterrupted(func() (int, error) { return unix.Read(c, make([]byte, 64)) }); err != nil {
		return fmt.Errorf("read from 127.0.0.1:%d: %w", port, err)
	}
	return nil
}

// retryInterrupted calls a socket system call until a signal does not
// interrupt it. The Go runtime signals its threads (to preempt them), and
// on a socket with a timeout even SA_RESTART does not restart accept,
// read, write or connect: each then fails with EINTR (signal(7)).
func retryInterrupted(call func() (int, error)) (int, error) {
	for {
		n, err := call()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// connect connects fd to sa. An interrupted connect goes on in the
// kernel, and calling it again would fail (EALREADY): wait for it to end
// instead, and take its result from SO_ERROR.
func connect(fd int, sa unix.Sockaddr, timeout time.Duration) error {
	err := unix.Connect(fd, sa)
	if err != unix.EINTR {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return unix.ETIMEDOUT
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, int(left.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n > 0 {
			break
		}
	}
	errno, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if errno != 0 {
		return unix.Errno(errno)
	}
	return nil
}

// connectionsClosed waits, up to limit, until this network namespace holds
// no TCP socket to or from port that is open or closing: only listeners
// and TIME_WAIT remain. The kernel runs a socket's close transition, and
// the program on it, before it drops the socket from its tables, so then
// every close there was to see has been seen. It polls /proc: the sockets'
// owners may have closed them long ago.
func connectionsClosed(port uint16, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		open, err := openSockets(port)
		if err != nil || open == 0 {
			return err == nil
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openSockets counts the TCP sockets of this network namespace with port
// at either end, in neither LISTEN nor TIME_WAIT, from /proc/self/net/tcp
// and tcp6 (which a kernel without IPv6 lacks).
func openSockets(port uint16) (int, error) {
	const listen, timeWait = "0A", "06"
	n := 0
	for _, name := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) && name != "/proc/self/net/tcp" {
			continue
		}
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st …, addresses as HEX:PORT
			f := strings.Fields(line)
			if len(f) < 4 || f[3] == listen || f[3] == timeWait {
				continue
			}
			if socketPort(f[1]) == port || socketPort(f[2]) == port {
				n++
			}
		}
	}
	return n, nil
}

// socketPort reads the port of a /proc/net/tcp address (hex address, a
// colon, hex port); 0 when it is not one.
func socketPort(addr string) uint16 {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0
	}
	p, err := strconv.ParseUint(addr[i+1:], 16, 16)
	if err != nil {
		return 0
	}
	return uint16(p)
}
