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
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/flowlog"
	"github.com/stridemap/stridemap/discover/flows"
	"github.com/stridemap/stridemap/discover/flows/resolve"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
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

  sudo stridemap observe --check`,
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
	rules, err := loadCatalog(opts.catalogs)
	if err != nil {
		return err
	}
	objects, err := a.podInventory(ctx, opts)
	if err != nil {
		return err
	}
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	base := opts.scan
	if base == 0 {
		if base, err = s.LatestScanID(ctx); err != nil {
			return &exitError{code: exitUsage, message: fmt.Sprintf("%v: observed flows are merged into a scan; run stridemap scan first", err)}
		}
	}
	info, err := s.Scan(ctx, base)
	if err != nil {
		return err
	}

	started := time.Now()
	var log *flows.Log
	var source discover.Source
	if len(opts.flowLogs) > 0 {
		log, source, err = readFlowLogs(opts.flowLogs)
	} else {
		log, source, err = a.observeWithObserver(ctx, opts)
	}
	if err != nil {
		return err
	}
	// Whatever was observed is merged, even when the observation was
	// interrupted.
	ctx = context.WithoutCancel(ctx)
	writeObservationSummary(a.stderr, &flows.Log{Summaries: summariesByNode(log)}) // one line a node, however many exports

	resolved, rep := resolve.New(objects).Resolve(log.Flows)
	a.log.Debug("resolved", "flows", rep.Flows, "resolved", rep.Resolved, "loopback", rep.Loopback, "confirmed", rep.Confirmed, "external", rep.External, "unknown", rep.Unknown)
	graph, err := s.Graph(ctx, base)
	if err != nil {
		return err
	}
	sourceName := "flow-log"
	if len(opts.flowLogs) == 0 {
		sourceName = "ebpf"
	}
	touched := model.MergeObserved(graph, observedFlows(resolved, sourceName))

	var findings []threats.Finding
	findings, err = threats.Evaluate(graph, rules.catalog)
	if err != nil {
		fmt.Fprintf(a.stderr, "warning: %v\n", err)
	}
	records, ruleTexts, err := threats.Records(findings)
	if err != nil {
		return err
	}
	objectRefs, err := s.Objects(ctx, base)
	if err != nil {
		return err
	}
	problems, err := s.Problems(ctx, base)
	if err != nil {
		return err
	}
	id, err := s.SaveScan(ctx, store.ScanRecord{
		StartedAt:   started,
		FinishedAt:  time.Now(),
		ToolVersion: toolVersion(),
		Sources:     append(slices.Clone(info.Sources), source),
		Objects:     objectRefs,
		Problems:    problems,
		Graph:       graph,
		Findings:    records,
		Rules:       ruleTexts,
		Catalog:     rules.description,
	})
	if err != nil {
		return err
	}
	newInfo, err := s.Scan(ctx, id)
	if err != nil {
		return err
	}
	writeMergeSummary(a.stdout, base, id, graph, touched, rep)
	decisions, err := s.Triage(ctx)
	if err != nil {
		return err
	}
	threats.ApplyTriage(findings, decisions)
	return writeFindingsSummary(a.stdout, newInfo, findings)
}

// podInventory reads the Pods and Services that name the ends of flows:
// from a kubectl dump, from the live API, or none.
func (a *app) podInventory(ctx context.Context, opts observeOptions) ([]*discover.Object, error) {
	switch {
	case opts.inventory != "":
		inv, err := manifests.Collect(ctx, manifests.Request{Paths: []string{opts.inventory}})
		if err != nil {
			return nil, fmt.Errorf("--inventory: %w", err)
		}
		for _, p := range inv.Problems {
			fmt.Fprintf(a.stderr, "%s: %s\n", p.Severity, p)
		}
		return inv.Objects, nil
	case opts.live:
		inv, err := cluster.Collect(ctx, cluster.Request{Kubeconfig: opts.kubeconfig, Context: opts.kubeCtx})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(a.stderr, "inventory: %d pods and services from %s\n", len(inv.Objects), inv.Sources[0].Path)
		return inv.Objects, nil
	}
	return nil, nil
}

// observedFlows turns resolved flows into the model's observed flows.
func observedFlows(resolved []resolve.Flow, source string) []model.ObservedFlow {
	const maxEvidence = 3 // samples per flow: enough to go and check
	out := make([]model.ObservedFlow, 0, len(resolved))
	endpoint := func(e resolve.Endpoint) model.ObservedEndpoint {
		me := model.ObservedEndpoint{Namespace: e.Namespace, External: e.External}
		for _, o := range e.Owners {
			me.Owners = append(me.Owners, model.OwnerRef{Kind: o.Kind, Name: o.Name})
		}
		return me
	}
	for _, f := range resolved {
		of := model.ObservedFlow{
			From: endpoint(f.From), To: endpoint(f.To), Port: int32(f.Port), Via: f.Via,
			Observation: model.Observation{
				Connections: f.Connections, Failed: f.Failed, BytesSent: f.BytesSent, BytesReceived: f.BytesReceived,
				FirstSeen: f.FirstSeen.UTC(), LastSeen: f.LastSeen.UTC(), Sources: []string{source},
			},
		}
		if p := f.Protocol(); p != flows.ProtoTLS {
			of.Protocol = p // TLS says how, not what: the edge keeps its protocol
		}
		switch f.Encrypted() {
		case flows.EncryptionTLS:
			of.Encryption = model.EncryptionTLS
		case flows.EncryptionPlaintext:
			of.Encryption = model.EncryptionPlaintext
		}
		if f.Unclassified {
			of.Unclassified = true
			of.Evidence = append(of.Evidence, model.Evidence{Detail: "observed: protocol and encryption unknown: the observer did not peek at payloads on its node (see the scan's sources)"})
		}
		for i, ev := range f.Evidence {
			if i == maxEvidence {
				break
			}
			of.Evidence = append(of.Evidence, model.Evidence{Detail: "observed: " + ev})
		}
		out = append(out, of)
	}
	return out
}

// readFlowLogs reads and concatenates flow logs, and the logs in
// directories (see flowLogFiles); any that cannot be read is an error.
func readFlowLogs(args []string) (*flows.Log, discover.Source, error) {
	all := &flows.Log{}
	h := sha256.New()
	seen := map[string]bool{} // a log named twice (itself and by its directory) counts once
	files := 0
	for _, arg := range args {
		paths, err := flowLogFiles(arg)
		if err != nil {
			return nil, discover.Source{}, fmt.Errorf("--flows %s: %w", arg, err)
		}
		for _, p := range paths {
			if seen[p] {
				continue
			}
			seen[p] = true
			files++
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, discover.Source{}, fmt.Errorf("--flows: %w", err)
			}
			h.Write(b)
			l, err := flowlog.Read(bytes.NewReader(b))
			if err != nil {
				return nil, discover.Source{}, fmt.Errorf("--flows %s: %w", p, err)
			}
			all.Flows = append(all.Flows, l.Flows...)
			all.Listeners = append(all.Listeners, l.Listeners...)
			all.Summaries = append(all.Summaries, l.Summaries...)
		}
	}
	src := discover.Source{Kind: discover.SourceKind("flows"), Path: strings.Join(args, ","), Files: files, Objects: len(all.Flows), SHA256: hex.EncodeToString(h.Sum(nil)), Notes: missingNotes(all)}
	return all, src, nil
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
		args = append(args, "--without", strings.Join(opts.without, ","))
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
	args := []string{"--duration", opts.duration.String(), "-o", "-", "--progress", every}
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
	if term {
		fmt.Fprint(a.stderr, "\r\033[K")
	}
	waitErr := cmd.Wait()
	if waitErr != nil && ctx.Err() != nil && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		waitErr = nil // interrupted: the observer wrote what it saw, which is merged
	}
	var log *flows.Log
	if waitErr == nil {
		if log, err = flows.ReadLog(bytes.NewReader(out.Bytes())); err != nil {
			return nil, discover.Source{}, fmt.Errorf("read the observer's flow log: %w", err)
		}
	}
	// The parts the observer's kernel refused are said again, per node,
	// from the log's summary: once is enough.
	again := map[string]bool{}
	if log != nil {
		for _, line := range missingNotes(log) {
			again["warning: "+line] = true
		}
	}
	for _, m := range messages {
		if !again[m] && (waitErr == nil || !strings.HasPrefix(m, "stridemap-observer: ")) {
			fmt.Fprintln(a.stderr, "observer:", m)
		}
	}
	if waitErr != nil {
		msg := strings.Join(messages, "; ")
		hint := ""
		if strings.Contains(msg, "permission denied") {
			hint = fmt.Sprintf(" (the observer needs root, or: sudo setcap cap_bpf,cap_perfmon,cap_net_admin+ep %s)", bin)
		}
		return nil, discover.Source{}, fmt.Errorf("%s: %w: %s%s", filepath.Base(bin), waitErr, msg, hint)
	}
	sum := sha256.Sum256(out.Bytes())
	node := ""
	if len(log.Summaries) > 0 {
		node = log.Summaries[0].Node
	}
	src := discover.Source{Kind: discover.SourceKind("ebpf"), Path: "ebpf:" + node, Objects: len(log.Flows), SHA256: hex.EncodeToString(sum[:]), Notes: missingNotes(log)}
	return log, src, nil
}

// writeObservationSummary reports what each observer saw and lost.
func writeObservationSummary(w io.Writer, log *flows.Log) {
	for _, s := range log.Summaries {
		lost := "nothing lost"
		if s.Lost() > 0 || s.Unattributed > 0 {
			lost = fmt.Sprintf("INCOMPLETE: %d events dropped by the kernel (ring buffer full: retry with a larger --ring-buffer), %d undecodable, %d flows beyond the observer's bound, %d sockets without owner",
				s.Dropped, s.DecodeErrors, s.Overflow, s.Unattributed)
		}
		fmt.Fprintf(w, "observed %d flows on %s in %s from %d events; %s\n", s.Flows, s.Node, s.Duration.Round(time.Millisecond), s.Events, lost)
		for _, line := range s.MissingLines() {
			fmt.Fprintln(w, "warning:", line)
		}
	}
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
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintf(w, "\nObserved, not declared: %d\n", len(only))
	for _, l := range only {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintf(w, "\nDeclared, not observed: %d\n", len(unseen))
	for _, l := range unseen {
		fmt.Fprintln(w, "  "+l)
	}
	if len(contradicted) > 0 {
		fmt.Fprintf(w, "\nPlaintext on the wire where encryption is declared: %d\n", len(contradicted))
		for _, l := range contradicted {
			fmt.Fprintln(w, "  "+l)
		}
	}
}
