//go:build linux

// Command stridemap-observer watches the TCP connections of the machine it
// runs on, with eBPF, for a while, and writes what it saw as stridemap's
// JSON-lines flow log. "stridemap observe" runs it and merges the flows
// into a scan; the DaemonSet in deploy/ runs it on every node.
//
// It is the only part of stridemap that needs privileges (root, or the
// capabilities CAP_BPF, CAP_PERFMON and, to classify protocols from the
// first bytes of each connection, CAP_NET_ADMIN), so it is a binary of its own
// that links nothing else: in particular not go-graphviz, which compiles
// WebAssembly into a cache under $TMPDIR at start-up that another local user
// could plant. Once the program is attached it gives up root (it switches to
// the user who ran sudo, SUDO_UID, or to nobody) and every capability.
//
// Usage:
//
//	stridemap-observer [--duration 30s] [-o flows.jsonl] [--max-flows N] [--ring-buffer BYTES]
//
// It runs on Linux only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stridemap/stridemap/discover/flows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	duration   time.Duration
	output     string
	maxFlows   int
	ringBuffer uint
	node       string
	progress   time.Duration
	keepRoot   bool
	cgroupRoot string
	cgroup     string
}

// flagSet declares the command line into opts.
func flagSet(opts *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("stridemap-observer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&opts.duration, "duration", 30*time.Second, "how long to observe; 0 until interrupted (SIGINT, SIGTERM)")
	fs.StringVar(&opts.output, "o", "-", "write the flow log to this file, - for standard output")
	fs.IntVar(&opts.maxFlows, "max-flows", flows.DefaultMaxFlows, "most distinct flows kept; more are counted as overflow")
	fs.UintVar(&opts.ringBuffer, "ring-buffer", 0, "kernel event queue in bytes (power of two, multiple of the page size); 0 means 8 MiB")
	fs.StringVar(&opts.node, "node", "", "name of this machine in the log (default: env NODE_NAME, else the host name)")
	fs.DurationVar(&opts.progress, "progress", time.Second, "how often to print a progress line on stderr; 0 for none")
	fs.BoolVar(&opts.keepRoot, "keep-root", false, "do not give up root once attached (not recommended)")
	fs.StringVar(&opts.cgroup, "cgroup", "auto", "classify protocols (TLS, HTTP, gRPC, Redis, …) of connections made in this cgroup v2 directory and below: auto for the whole machine (the cgroup root), none to skip; needs CAP_NET_ADMIN")
	fs.StringVar(&opts.cgroupRoot, "cgroup-root", "", "the host's cgroup v2 mount, to name cgroups (default: found in /proc/self/mountinfo; in a container, mount the host's and name it)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: stridemap-observer [flags]\n\nObserve TCP connections with eBPF and write them as a JSON-lines flow log.\nNeeds root, or the capabilities CAP_BPF, CAP_PERFMON and (to classify\nprotocols) CAP_NET_ADMIN.\n\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opts options
	fs := flagSet(&opts, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "stridemap-observer: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := observe(ctx, opts, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "stridemap-observer:", err)
		return 1
	}
	return 0
}

func observe(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	node := opts.node
	if node == "" {
		node = os.Getenv("NODE_NAME")
	}
	if node == "" {
		node, _ = os.Hostname()
	}
	// The output is opened while still privileged, so it can be anywhere
	// the invoking user asked for.
	out := stdout
	if opts.output != "-" {
		f, err := createOutput(opts.output)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	root := opts.cgroupRoot
	if root == "" {
		root = flows.CgroupRoot()
	}
	cfg := flows.Config{RingBufferBytes: uint32(opts.ringBuffer)}
	switch opts.cgroup {
	case "none":
	case "auto":
		if root == "" {
			fmt.Fprintln(stderr, "warning: cgroup v2 is not mounted: protocols will not be classified")
		}
		cfg.Cgroup = root
	default:
		cfg.Cgroup = opts.cgroup
	}
	o, err := flows.Open(cfg)
	if err != nil {
		return err
	}
	defer o.Close()
	started := time.Now()
	if !opts.keepRoot {
		who, err := dropPrivileges()
		if err != nil {
			return fmt.Errorf("give up root after attaching: %w", err)
		}
		fmt.Fprintf(stderr, "attached; now running as %s\n", who)
	}
	fmt.Fprintf(stderr, "observing TCP connections on %s for %s\n", node, durationText(opts.duration))

	if opts.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.duration)
		defer cancel()
	}
	agg := flows.NewAggregator(opts.maxFlows)
	cgroups := flows.NewCgroupPaths(root)
	resolved := map[uint64]string{}
	resolveCgroups := func() {
		for _, f := range agg.Flows() {
			if _, ok := resolved[f.CgroupID]; !ok && f.CgroupID != 0 {
				resolved[f.CgroupID] = cgroups.Path(f.CgroupID)
			}
		}
		for _, l := range agg.Listeners() {
			if _, ok := resolved[l.CgroupID]; !ok && l.CgroupID != 0 {
				resolved[l.CgroupID] = cgroups.Path(l.CgroupID)
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, agg.Add) }()
	var tick <-chan time.Time
	if opts.progress > 0 {
		t := time.NewTicker(opts.progress)
		defer t.Stop()
		tick = t.C
	}
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			waiting = false
		case <-tick:
			// Pods may be gone by the end: name their cgroups while they exist.
			resolveCgroups()
			s, _ := o.Stats()
			a := agg.Stats()
			fmt.Fprintf(stderr, "progress flows=%d events=%d dropped=%d unattributed=%d overflow=%d\n", a.Flows, s.Events, s.Dropped, s.Unattributed, a.Overflow)
		}
	}
	resolveCgroups()
	stats, err := o.Stats()
	if err != nil {
		return err
	}
	fl, ls := agg.Flows(), agg.Listeners()
	for i := range fl {
		fl[i].Node, fl[i].Cgroup = node, resolved[fl[i].CgroupID]
	}
	for i := range ls {
		ls[i].Node, ls[i].Cgroup = node, resolved[ls[i].CgroupID]
	}
	summary := flows.NewSummary(node, started, time.Since(started), stats, agg.Stats())
	if err := flows.WriteLog(out, fl, ls, summary); err != nil {
		return fmt.Errorf("write the flow log: %w", err)
	}
	fmt.Fprintf(stderr, "observed %d flows from %d events in %s\n", summary.Flows, summary.Events, summary.Duration.Round(time.Millisecond))
	if summary.Lost() > 0 || summary.Unattributed > 0 {
		fmt.Fprintf(stderr, "warning: incomplete: %d events dropped by the kernel (ring buffer full: try --ring-buffer), %d undecodable, %d beyond --max-flows, %d sockets without owner\n",
			summary.Dropped, summary.DecodeErrors, summary.Overflow, summary.Unattributed)
	}
	return nil
}

func durationText(d time.Duration) string {
	if d <= 0 {
		return "until interrupted"
	}
	return d.String()
}
