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
//	stridemap-observer --duration 0 --export-dir DIR [--export-every 5m] [--keep N]
//
// With --export-dir it writes, every interval and when stopped, the flows
// of that interval as a flow log of its own (see exporter), so a node that
// reboots or an observer that is killed loses one interval at most.
//
// It runs on Linux only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cilium/ebpf"

	"github.com/stridemap/stridemap/discover/flows"
	"github.com/stridemap/stridemap/discover/flows/bpf"
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

	exportDir   string
	exportEvery time.Duration
	keep        int

	check   bool
	json    bool
	without partList
	verbose bool
}

// partList is --without's value: optional parts, comma-separated or
// repeated.
type partList []bpf.Part

func (l *partList) String() string {
	names := make([]string, len(*l))
	for i, p := range *l {
		names[i] = string(p)
	}
	return strings.Join(names, ",")
}

func (l *partList) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		p, err := bpf.ParsePart(strings.TrimSpace(name))
		if err != nil {
			return err
		}
		*l = append(*l, p)
	}
	return nil
}

// flagSet declares the command line into opts.
func flagSet(opts *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("stridemap-observer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&opts.duration, "duration", 30*time.Second, "how long to observe; 0 until interrupted (SIGINT, SIGTERM)")
	fs.StringVar(&opts.output, "o", "", "write everything observed to this file when stopped; - for standard output (the default without --export-dir)")
	fs.IntVar(&opts.maxFlows, "max-flows", flows.DefaultMaxFlows, "most distinct flows kept in memory (per interval with --export-dir), and in the kernel's table of busy flows; more are counted as overflow")
	fs.UintVar(&opts.ringBuffer, "ring-buffer", 0, "kernel event queue in bytes (power of two, multiple of the page size); 0 means 8 MiB")
	fs.StringVar(&opts.node, "node", "", "name of this machine in the log (default: env NODE_NAME, else the host name)")
	fs.DurationVar(&opts.progress, "progress", time.Second, "how often to print a progress line on stderr; 0 for none")
	fs.BoolVar(&opts.keepRoot, "keep-root", false, "do not give up root once attached (not recommended)")
	fs.StringVar(&opts.cgroup, "cgroup", "auto", "classify protocols (TLS, HTTP, gRPC, Redis, …) of connections made in this cgroup v2 directory and below: auto for the whole machine (the cgroup root), none to skip; needs CAP_NET_ADMIN")
	fs.StringVar(&opts.cgroupRoot, "cgroup-root", "", "the host's cgroup v2 mount, to name cgroups (default: found in /proc/self/mountinfo; in a container, mount the host's and name it)")
	fs.StringVar(&opts.exportDir, "export-dir", "", "every --export-every and when stopped, write the flows of that interval to DIR/flows-NODE-TIME.jsonl")
	fs.DurationVar(&opts.exportEvery, "export-every", 5*time.Minute, "how often to write a file into --export-dir")
	fs.IntVar(&opts.keep, "keep", 288, "most files of this node kept in --export-dir, oldest removed first; 0 keeps all")
	fs.BoolVar(&opts.check, "check", false, "load and try every part on this kernel, print what works, and exit (0 when flows can be observed, 2 when not)")
	fs.BoolVar(&opts.json, "json", false, "with --check: print the result as JSON")
	fs.Var(&opts.without, "without", "leave out optional parts, as if this kernel refused them: listener-adoption, protocol-peek, aggregation (comma-separated)")
	fs.BoolVar(&opts.verbose, "v", false, "when the kernel refuses a program, print the verifier's whole log")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: stridemap-observer [flags]

Observe TCP connections with eBPF and write them as a JSON-lines flow log.
Needs root, or the capabilities CAP_BPF, CAP_PERFMON and (to classify
protocols) CAP_NET_ADMIN.

  sudo stridemap-observer --duration 1m -o node-a.jsonl
  stridemap scan -f k8s/ --flows node-a.jsonl --inventory pods.json

Running for good (as the DaemonSet in deploy/ does), export every interval:
each file holds the flows of its interval only (UTC time in the name: when it
ended), written whole or not at all, so any set of them merges without
counting a connection twice and a crash loses one interval at most:

  stridemap-observer --duration 0 --export-dir /var/lib/stridemap/flows --export-every 5m --keep 288
  stridemap scan -f k8s/ --flows /var/lib/stridemap/flows --inventory pods.json

Kernels differ in what their eBPF verifier accepts. Only connection tracking
is required; listener adoption, protocol classification and in-kernel
aggregation are optional: one this kernel refuses is named once on stderr and
in the flow log, and observing goes on without it. See what works here:

  sudo stridemap-observer --check

Flags:`)
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
	if err := checkExportFlags(fs, opts); err != nil {
		fmt.Fprintln(stderr, "stridemap-observer:", err)
		return 2
	}
	cfg, err := observerConfig(opts)
	if err != nil {
		fmt.Fprintln(stderr, "stridemap-observer:", err)
		return 2
	}
	if opts.check {
		return check(ctx, cfg, opts.json, stdout, stderr)
	}
	if err := observe(ctx, opts, cfg, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "stridemap-observer:", err)
		var verr *ebpf.VerifierError
		if opts.verbose && errors.As(err, &verr) {
			fmt.Fprintf(stderr, "%+v\n", verr)
		}
		if errors.Is(err, bpf.ErrLoad) {
			return 2 // this machine cannot observe: nothing was attached
		}
		return 1
	}
	return 0
}

// observerConfig turns the flags into the observer's configuration: which
// cgroup to classify protocols in, which parts to leave out.
func observerConfig(opts options) (flows.Config, error) {
	cfg := flows.Config{RingBufferBytes: uint32(opts.ringBuffer), MaxFlows: uint32(opts.maxFlows), Without: opts.without}
	switch opts.cgroup {
	case "none":
		cfg.Without = append(cfg.Without, bpf.ProtocolPeek)
	case "auto":
		cfg.Cgroup = opts.cgroupRoot
		if cfg.Cgroup == "" {
			cfg.Cgroup = flows.CgroupRoot() // "" when not mounted: protocols are not classified, and the observer says so
		}
	default:
		if err := flows.IsCgroup2(opts.cgroup); err != nil {
			return cfg, fmt.Errorf("--cgroup: %w", err)
		}
		cfg.Cgroup = opts.cgroup
	}
	if opts.cgroupRoot != "" {
		if err := flows.IsCgroup2(opts.cgroupRoot); err != nil {
			return cfg, fmt.Errorf("--cgroup-root: %w", err)
		}
	}
	return cfg, nil
}

// check prints what works of the observer on this kernel.
func check(ctx context.Context, cfg flows.Config, asJSON bool, stdout, stderr io.Writer) int {
	report := flows.Check(ctx, cfg)
	if asJSON {
		if err := json.NewEncoder(stdout).Encode(report); err != nil {
			fmt.Fprintln(stderr, "stridemap-observer:", err)
			return 1
		}
	} else {
		fmt.Fprintf(stdout, "kernel %s\n", report.Kernel)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PART\tWORKS\tDETAIL")
		for _, p := range report.Parts {
			works := "yes"
			if !p.OK {
				works = "NO"
			}
			if p.Required {
				works += " (required)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Part, works, p.Detail)
		}
		tw.Flush()
	}
	if !report.Usable() {
		return 2
	}
	return 0
}

// checkExportFlags refuses export settings that would do nothing.
func checkExportFlags(fs *flag.FlagSet, opts options) error {
	var exportFlags []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "export-every" || f.Name == "keep" {
			exportFlags = append(exportFlags, "--"+f.Name)
		}
	})
	switch {
	case opts.exportDir == "" && len(exportFlags) > 0:
		return fmt.Errorf("%s would do nothing without --export-dir DIR", strings.Join(exportFlags, " and "))
	case opts.exportDir != "" && opts.output != "":
		return fmt.Errorf("-o and --export-dir: choose one (the exports hold everything observed, interval by interval; merge them with stridemap scan --flows DIR)")
	case opts.exportEvery < time.Second:
		return fmt.Errorf("--export-every must be 1s or more (files are named by the second), e.g. 5m")
	case opts.keep < 0:
		return fmt.Errorf("--keep must not be negative (0 keeps every file)")
	}
	return nil
}

func observe(ctx context.Context, opts options, cfg flows.Config, stdout, stderr io.Writer) error {
	node := opts.node
	if node == "" {
		node = os.Getenv("NODE_NAME")
	}
	if node == "" {
		node, _ = os.Hostname()
	}
	// The output is opened while still privileged, so it can be anywhere
	// the invoking user asked for.
	var out io.Writer
	switch {
	case opts.output == "-" || opts.output == "" && opts.exportDir == "":
		out = stdout
	case opts.output != "":
		f, err := createOutput(opts.output)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	if opts.exportDir != "" {
		if err := prepareExportDir(opts.exportDir, !opts.keepRoot); err != nil {
			return fmt.Errorf("--export-dir: %w", err)
		}
	}
	root := opts.cgroupRoot
	if root == "" {
		root = flows.CgroupRoot()
	}
	o, err := flows.Open(cfg)
	if err != nil {
		return err
	}
	defer o.Close()
	started := time.Now()
	// What this kernel cannot show is said once, here, and recorded in
	// every summary.
	meta := flows.Summary{Node: node, Kernel: bpf.Release(), Missing: o.Missing()}
	for _, line := range meta.MissingLines() {
		fmt.Fprintln(stderr, "warning:", line)
	}
	kernel, missing, unclassified := meta.Kernel, meta.Missing, !meta.Classified()
	if !opts.keepRoot {
		who, err := dropPrivileges()
		if err != nil {
			return fmt.Errorf("give up root after attaching: %w", err)
		}
		fmt.Fprintf(stderr, "attached; now running as %s\n", who)
	}
	var exp *exporter
	if opts.exportDir != "" {
		exp = newExporter(opts.exportDir, node, opts.keep, started)
		exp.kernel, exp.missing = kernel, missing
		if err := exp.start(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "observing TCP connections on %s for %s\n", node, durationText(opts.duration))

	if opts.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.duration)
		defer cancel()
	}
	agg := flows.NewAggregator(opts.maxFlows)
	// CgroupPaths remembers every path it found, and looks again for an
	// unknown id (at most once a second), so a cgroup named once keeps its
	// name after it is gone.
	cgroupPath := flows.NewCgroupPaths(root).Path
	// name fills in the flows' node and cgroups. Pods may be gone by the
	// time flows are written, so names are looked up at each progress line
	// too, while they exist.
	name := func(fl []flows.Flow, ls []flows.Listener) {
		for i := range fl {
			fl[i].Node, fl[i].Cgroup, fl[i].Unclassified = node, cgroupPath(fl[i].CgroupID), unclassified
		}
		for i := range ls {
			ls[i].Node, ls[i].Cgroup = node, cgroupPath(ls[i].CgroupID)
		}
	}
	export := func() error {
		stats, err := o.Stats()
		if err != nil {
			return err
		}
		fl, ls := agg.Take()
		name(fl, ls)
		paths, err := exp.export(time.Now(), fl, ls, stats, agg.Stats())
		for _, p := range paths {
			fmt.Fprintf(stderr, "exported %s\n", p)
		}
		return err
	}
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, agg.Add) }()
	var tick, exportTick <-chan time.Time
	if opts.progress > 0 {
		t := time.NewTicker(opts.progress)
		defer t.Stop()
		tick = t.C
	}
	if exp != nil {
		t := time.NewTicker(opts.exportEvery)
		defer t.Stop()
		exportTick = t.C
	}
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			waiting = false
		case <-tick:
			name(agg.Flows(), agg.Listeners())
			s, _ := o.Stats()
			a := agg.Stats()
			fmt.Fprintf(stderr, "progress flows=%d events=%d dropped=%d skipped=%d unattributed=%d overflow=%d\n", a.Flows, s.Events, s.Dropped, s.Skipped, s.Unattributed, a.Overflow)
		case <-exportTick:
			if err := export(); err != nil {
				fmt.Fprintf(stderr, "warning: %v; retrying at the next interval\n", err)
			}
		}
	}
	stats, err := o.Stats()
	if err != nil {
		return err
	}
	summary := flows.NewSummary(node, started, time.Since(started), stats, agg.Stats())
	summary.Kernel, summary.Missing = kernel, missing
	if exp != nil {
		if err := export(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "observed for %s, exported to %s\n", summary.Duration.Round(time.Millisecond), opts.exportDir)
	} else {
		fl, ls := agg.Flows(), agg.Listeners()
		name(fl, ls)
		if err := flows.WriteLog(out, fl, ls, summary); err != nil {
			return fmt.Errorf("write the flow log: %w", err)
		}
		fmt.Fprintf(stderr, "observed %d flows from %d events in %s\n", summary.Flows, summary.Events, summary.Duration.Round(time.Millisecond))
	}
	if summary.Reported > 0 {
		fmt.Fprintf(stderr, "note: the kernel's table of busy flows was full: %d connections were reported one by one, which costs more (try a bigger --max-flows)\n", summary.Reported)
	}
	if summary.Lost() > 0 || summary.Unattributed > 0 {
		fmt.Fprintf(stderr, "warning: incomplete: %d events dropped by the kernel (ring buffer full: try --ring-buffer), %d socket state changes the kernel skipped (another eBPF program was running on the CPU), %d undecodable, %d beyond --max-flows, %d sockets without owner\n",
			summary.Dropped, summary.Skipped, summary.DecodeErrors, summary.Overflow, summary.Unattributed)
	}
	return nil
}

func durationText(d time.Duration) string {
	if d <= 0 {
		return "until interrupted"
	}
	return d.String()
}
