package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/discover"

	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/flows"
	"github.com/stridemap/stridemap/discover/flows/resolve"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/pipeline"
)

// observerEnv names the observer binary when it is neither next to
// stridemap nor on PATH.
const observerEnv = "STRIDEMAP_OBSERVER"

// onObserving, when set (by tests), is called once the observer has
// attached and observes.
var onObserving func()

type observeOptions struct {
	duration   time.Duration
	inventory  string
	live       bool
	kubeconfig string
	kubeCtx    string
	flowLogs   []string
	observer   string
	ringBuffer uint
	cgroup     string
	without    []string
	check      bool
	catalogs   []string
	scan       int64
}

func (a *app) observeCommand() *cobra.Command {
	var opts observeOptions
	cmd := &cobra.Command{
		Use:   "observe [--duration D] [--inventory pods.json | --live | --kubeconfig FILE] [--flows FILE...]",
		Short: "Watch real TCP flows with eBPF and merge them into the latest scan as observed edges",
		Long: `Observe the TCP connections this machine's kernel carries (eBPF), name both ends
with a Pod and Service inventory, and store the latest scan again with the flows
merged in: edges seen on the wire are marked observed, with connection counts,
bytes and first/last seen; flows nobody declared become new edges; peers that
are no pod become external entities. The threat catalog is evaluated again.

The first bytes of each connection tell its protocol and whether it is
encrypted: TLS, HTTP/1.x, HTTP/2 (gRPC), PostgreSQL, MySQL, Redis, MongoDB, AMQP
and Kafka are recognised. Those bytes are looked at in memory and never kept.

The observing is done by stridemap-observer, a small separate binary that needs
root or the capabilities CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, and gives them
all up once attached. stridemap itself needs no privileges when the observer has
them:

  sudo setcap cap_bpf,cap_perfmon,cap_net_admin+ep "$(command -v stridemap-observer)"
  stridemap observe --duration 1m --live

Or record first and merge later (also how flows from several nodes, e.g. from
the DaemonSet in deploy/, are merged):

  sudo stridemap-observer --duration 1m -o node-a.jsonl
  stridemap observe --flows node-a.jsonl --flows node-b.jsonl --inventory pods.json
  stridemap observe --flows collected-exports/ --live    # a directory of logs, read whole

On a cluster running Cilium, Hubble's flows can be merged the same way:

  hubble observe --since 1h -o json > hubble.jsonl
  stridemap observe --flows hubble.jsonl --inventory pods.json

The inventory says which pod had which address. It is read from the cluster's
API before observing (list permission on pods and services in all namespaces is
all it needs):

  stridemap observe --live                      # the cluster kubectl uses now
  stridemap observe --kubeconfig ~/.kube/prod --context eu-west

--live finds the kubeconfig as kubectl does ($KUBECONFIG, else ~/.kube/config,
else the pod's service account when run in a cluster); --kubeconfig and
--context imply --live. Where stridemap cannot reach the API, it is read from a
dump instead:

  kubectl get pods,services -A -o json > pods.json
  stridemap observe --inventory pods.json

Sockets are named by their cgroup (the pod's UID), their network namespace, then
their address; a flow to a ClusterIP lands on the Service's workloads, confirmed
by the accepting side when it was observed too. Without an inventory only the
peers' addresses are known.

A progress line shows flows seen and events dropped. Events the kernel could not
queue are reported, never silently lost: retry with a bigger --ring-buffer.

Kernels differ in what their eBPF verifier accepts. Only connection tracking is
required; listener adoption, protocol classification and in-kernel aggregation
are optional. A part this kernel refuses is named once, with what is lost, and
recorded in the scan's sources; flows are still merged, and protocol and
encryption of flows nobody could classify stay unknown, never "plaintext". See
what works on this machine without observing:

  sudo stridemap observe --check

When the observer fails, one line says why and what to do; the rest of what it
said (a verifier's log runs to hundreds of lines) is printed with -v, else
kept in a file that line names.`,
		Example: `  stridemap observe --duration 30s --live
  stridemap observe --flows flows.jsonl --kubeconfig kubeconfig.yaml
  stridemap observe --flows flows.jsonl --inventory pods.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.duration < 0 {
				return fmt.Errorf("--duration must not be negative")
			}
			opts.live = opts.live || opts.kubeconfig != "" || opts.kubeCtx != ""
			if opts.inventory != "" && opts.live {
				return &exitError{code: exitUsage, message: "--inventory and --live (or --kubeconfig, --context) both say where pods and services come from: use one, the dump or the cluster"}
			}
			if opts.check {
				return a.runObserverCheck(cmd.Context(), opts)
			}
			return a.runObserve(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.duration, "duration", 30*time.Second, "how long to observe")
	cmd.Flags().StringVar(&opts.inventory, "inventory", "", "Pods and Services with their addresses: kubectl get pods,services -A -o json")
	cmd.Flags().BoolVar(&opts.live, "live", false, "read Pods and Services from the cluster kubectl uses ($KUBECONFIG, ~/.kube/config, or in-cluster)")
	cmd.Flags().StringVar(&opts.kubeconfig, "kubeconfig", "", "read Pods and Services from the cluster of this kubeconfig file (implies --live)")
	cmd.Flags().StringVar(&opts.kubeCtx, "context", "", "the kubeconfig context to read from (implies --live; default: its current context)")
	cmd.Flags().StringArrayVar(&opts.flowLogs, "flows", nil, "merge this flow log, or directory of them (stridemap-observer -o or --export-dir, hubble observe -o json), instead of observing (repeatable)")
	cmd.Flags().StringVar(&opts.observer, "observer", "", "the stridemap-observer binary (default: next to stridemap, then $"+observerEnv+", then PATH)")
	cmd.Flags().UintVar(&opts.ringBuffer, "ring-buffer", 0, "kernel event queue in bytes, a power of two (default 8 MiB)")
	cmd.Flags().StringVar(&opts.cgroup, "cgroup", "", "classify protocols of connections made in this cgroup v2 directory only (default: the whole machine); none to skip")
	cmd.Flags().StringSliceVar(&opts.without, "without", nil, "leave out optional parts of the observer as if this kernel refused them: listener-adoption, protocol-peek, aggregation")
	cmd.Flags().BoolVar(&opts.check, "check", false, "print which parts of the observer work on this kernel, and exit (2 when flows cannot be observed); stores nothing")
	cmd.Flags().StringArrayVar(&opts.catalogs, "catalog", nil, "directory of YAML rules added to the built-in catalog (repeatable)")
	cmd.Flags().Int64Var(&opts.scan, "scan", 0, "merge into this scan instead of the latest")
	return cmd
}

func (a *app) runObserve(ctx context.Context, opts observeOptions) error {
	var names pipeline.Inventory
	if opts.inventory != "" || opts.live {
		var live *cluster.Request
		if opts.live {
			live = &cluster.Request{Kubeconfig: opts.kubeconfig, Context: opts.kubeCtx}
		}
		var err error
		if names, err = pipeline.ReadInventory(ctx, nonEmpty(opts.inventory), live); err != nil {
			return err
		}
	}
	report := a.reporter()
	merge, err := pipeline.NewMerge(ctx, a.env(report), opts.scan, opts.catalogs)
	switch {
	case errors.Is(err, store.ErrNoStore):
		return noStore(err, "observed flows are merged into a stored scan, so run stridemap scan first (-f DIR), or name the store with --db PATH")
	case errors.Is(err, store.ErrNoScans):
		// The store's error says what to run.
		return &exitError{code: exitUsage, message: safetext.Text(err.Error()) + " (observed flows are merged into a scan)"}
	}
	if err != nil {
		return err
	}
	defer merge.Close()

	var obs pipeline.Observations
	if len(opts.flowLogs) > 0 {
		obs = pipeline.FlowLogs(opts.flowLogs)
	} else {
		log, source, err := a.observeWithObserver(ctx, opts)
		if err != nil {
			return err
		}
		obs = pipeline.Observations{Log: log, Seen: pipeline.SeenByEBPF, Sources: []discover.Source{source}}
	}
	obs.Named(names)
	// Whatever was observed is merged, even when the observation was
	// interrupted.
	ctx = context.WithoutCancel(ctx)
	res, err := merge.Run(ctx, obs)
	report.done()
	if errors.Is(err, pipeline.ErrNothingObserved) {
		return &exitError{code: exitUsage, message: err.Error()}
	}
	if err != nil {
		return err
	}
	a.writeFlowNotes(res.Flows)
	rep := res.Flows.Report
	a.log.Debug("resolved", "flows", rep.Flows, "resolved", rep.Resolved, "loopback", rep.Loopback, "confirmed", rep.Confirmed, "external", rep.External, "unknown", rep.Unknown)
	writeMergeSummary(a.stdout, res.Base, res.Scan.ID, res.Graph, res.Flows.Touched, rep)
	if err := writeFindingsSummary(a.stdout, res.Scan, res.Findings); err != nil {
		return err
	}
	if (&discover.Inventory{Problems: obs.Problems}).Partial() {
		return &exitError{code: exitPartial, message: fmt.Sprintf("scan #%d is partial: some flow logs or lines were left out (listed above)", res.Scan.ID)}
	}
	return nil
}

// nonEmpty is s as a list: none when s is empty.
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// findObserver locates stridemap-observer: the flag, next to this
// executable, the environment, then PATH.
func findObserver(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "stridemap-observer")
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p, nil
		}
	}
	if p := os.Getenv(observerEnv); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("stridemap-observer"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("stridemap-observer not found next to stridemap, in $%s or on PATH: build it with go build ./cmd/stridemap-observer, or record flows with it elsewhere and merge them with --flows", observerEnv)
}

// observerPartArgs pass on what decides which parts the observer loads.
func observerPartArgs(opts observeOptions) []string {
	var args []string
	if opts.cgroup != "" {
		args = append(args, "--cgroup", opts.cgroup)
	}
	if len(opts.without) > 0 {
		args = append(args, "--without", strings.ToLower(strings.Join(opts.without, ","))) // any case, as other enum flags
	}
	return args
}

// runObserverCheck runs the observer's --check: which parts work on this
// kernel.
func (a *app) runObserverCheck(ctx context.Context, opts observeOptions) error {
	bin, err := findObserver(opts.observer)
	if err != nil {
		return &exitError{code: exitUsage, message: err.Error()}
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--check"}, observerPartArgs(opts)...)...)
	cmd.Stdout, cmd.Stderr = a.stdout, a.stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return &exitError{code: exit.ExitCode()} // the observer said why
		}
		return fmt.Errorf("run %s: %w", bin, err)
	}
	return nil
}

// observeWithObserver runs stridemap-observer for the duration, shows its
// progress and returns the flow log it wrote.
func (a *app) observeWithObserver(ctx context.Context, opts observeOptions) (*flows.Log, discover.Source, error) {
	bin, err := findObserver(opts.observer)
	if err != nil {
		return nil, discover.Source{}, &exitError{code: exitUsage, message: err.Error()}
	}
	term := false
	if f, ok := a.stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		term = true
	}
	every := "10s"
	if term {
		every = "1s"
	}
	// -v: a program the kernel refuses comes with the verifier's whole
	// log, which stridemap shows with -v or keeps in a file.
	args := []string{"--duration", opts.duration.String(), "-o", "-", "--progress", every, "-v"}
	if opts.ringBuffer != 0 {
		args = append(args, "--ring-buffer", fmt.Sprint(opts.ringBuffer))
	}
	args = append(args, observerPartArgs(opts)...)
	cmd := exec.CommandContext(ctx, bin, args...)
	// Interrupted, the observer still writes what it saw.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, discover.Source{}, err
	}
	if err := cmd.Start(); err != nil {
		return nil, discover.Source{}, fmt.Errorf("run %s: %w", bin, err)
	}
	var messages []string
	lines := bufio.NewScanner(stderr)
	lines.Buffer(nil, 1<<20) // a verifier's line can be long
	for lines.Scan() {
		line := lines.Text()
		switch {
		case strings.HasPrefix(line, "progress "):
			if term {
				fmt.Fprintf(a.stderr, "\r\033[K%s", strings.TrimPrefix(line, "progress "))
			} else {
				fmt.Fprintln(a.stderr, line)
			}
		case strings.HasPrefix(line, "observing "):
			fmt.Fprintln(a.stderr, line)
			if onObserving != nil {
				onObserving()
			}
		default:
			messages = append(messages, line)
		}
	}
	// A line longer than the buffer ends the scanning: the rest is drained,
	// so that the observer never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, stderr)
	if term {
		fmt.Fprint(a.stderr, "\r\033[K")
	}
	waitErr := cmd.Wait()
	if waitErr != nil && ctx.Err() != nil && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		waitErr = nil // interrupted: the observer wrote what it saw, which is merged
	}
	if waitErr != nil {
		return nil, discover.Source{}, a.observerFailed(observerFailure{bin: bin, exit: waitErr, output: messages})
	}
	log, err := flows.ReadLog(bytes.NewReader(out.Bytes()))
	if err != nil {
		return nil, discover.Source{}, fmt.Errorf("read the observer's flow log: %w", err)
	}
	// The parts the observer's kernel refused are said again, per node,
	// from the log's summary: once is enough.
	again := map[string]bool{}
	for _, line := range log.MissingNotes() {
		again["warning: "+line] = true
	}
	for _, m := range messages {
		if !again[m] {
			fmt.Fprintln(a.stderr, observerLine(m))
		}
	}
	sum := sha256.Sum256(out.Bytes())
	node := ""
	if len(log.Summaries) > 0 {
		node = log.Summaries[0].Node
	}
	src := discover.Source{Kind: discover.SourceKind("ebpf"), Path: "ebpf:" + node, Objects: len(log.Flows), SHA256: hex.EncodeToString(sum[:]), Notes: log.MissingNotes()}
	return log, src, nil
}

// observerFailed says in one line why the observer failed. Whatever else
// it said (a verifier's log) is printed above that line with -v, else
// kept in a file the line names.
func (a *app) observerFailed(f observerFailure) error {
	saved := ""
	if a.verbose {
		for _, m := range f.output {
			fmt.Fprintln(a.stderr, observerLine(m))
		}
	} else if f.more() {
		saved = saveObserverOutput(f.output)
	}
	return &exitError{code: exitUsage, message: f.message(a.privileges(), a.verbose, saved)}
}

// writeMergeSummary says which edges the observation confirmed and added,
// and which declared ones it did not see.
func writeMergeSummary(w io.Writer, base, id int64, g *model.Graph, touched []string, rep resolve.Report) {
	byID := map[string]*model.Edge{}
	for i := range g.Edges {
		byID[g.Edges[i].ID] = &g.Edges[i]
	}
	var both, only []string
	for _, id := range touched {
		e := byID[id]
		line := fmt.Sprintf("%s (%d connections", id, e.Observation.Connections)
		if e.Via != "" {
			line += " via " + e.Via
		}
		if o := e.Observation; o.Protocol != "" || o.Encryption != "" {
			line += "; " + strings.TrimSpace(o.Protocol+" "+string(o.Encryption))
		}
		line += ")"
		if e.Declared {
			both = append(both, line)
		} else {
			only = append(only, line)
		}
	}
	var unseen, contradicted []string
	for _, e := range g.Edges {
		if e.Declared && !e.Observed {
			unseen = append(unseen, e.ID)
		}
		if o := e.Observation; o != nil && o.Encryption == model.EncryptionPlaintext && (e.Encryption == model.EncryptionTLS || e.Encryption == model.EncryptionMTLS) {
			contradicted = append(contradicted, fmt.Sprintf("%s (%s by %s)", e.ID, e.Encryption, e.EncryptionSource))
		}
	}
	fmt.Fprintf(w, "Scan #%d stored: scan #%d with %d observed flows merged in (%d resolved from %d observed; %d with a peer outside the inventory, %d inside one pod, %d of no known pod left out%s)\n",
		id, base, len(touched), rep.Resolved, rep.Flows, rep.External, rep.Loopback, rep.Unknown, meshSummary(rep))
	fmt.Fprintf(w, "\nObserved and declared: %d\n", len(both))
	for _, l := range both {
		fmt.Fprintln(w, "  "+safetext.Text(l))
	}
	fmt.Fprintf(w, "\nObserved, not declared: %d\n", len(only))
	for _, l := range only {
		fmt.Fprintln(w, "  "+safetext.Text(l))
	}
	fmt.Fprintf(w, "\nDeclared, not observed: %d\n", len(unseen))
	for _, l := range unseen {
		fmt.Fprintln(w, "  "+safetext.Text(l))
	}
	if len(contradicted) > 0 {
		fmt.Fprintf(w, "\nPlaintext on the wire where encryption is declared: %d\n", len(contradicted))
		for _, l := range contradicted {
			fmt.Fprintln(w, "  "+safetext.Text(l))
		}
	}
}
