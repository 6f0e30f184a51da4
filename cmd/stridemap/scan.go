package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/pipeline"
	"github.com/stridemap/stridemap/threats"
)

type scanOptions struct {
	files          []string
	kustomize      []string
	namespaces     []string
	allNamespaces  bool
	requestTimeout time.Duration
	qps            float32
	burst          int
	maxFileSize    sizeFlag
	catalogs       []string
	failOn         string
	overlay        string
	skipThreats    bool
	flowLogs       []string
	inventory      []string
	live           bool
	kubeconfig     string
	kubeCtx        string
	// baseline names what the scan is judged against: a scan of the
	// store or a JSON report; failOnNew and failOnNewExposure gate on it.
	baseline          string
	failOnNew         string
	failOnNewExposure bool
}

func (a *app) scanCommand() *cobra.Command {
	var opts scanOptions
	cmd := &cobra.Command{
		Use:   "scan (-f PATH... | -k DIR... | --live)",
		Short: "Discover the architecture from manifests or a live cluster and store it as a new scan",
		Long: `Read Kubernetes manifests, a live cluster, or both, build the architecture graph
(workloads, data stores, gateways, data flows, trust boundaries, detected
controls) and store it as a new scan. A summary is printed; problems with
individual files are listed on stderr while the rest is still scanned. On a
terminal, stderr shows the file being read, then each stage (graph, catalog,
store) with its seconds. When most workloads (of five or more) have no flow in
or out, the calls are probably made in code, which manifests do not show: the
summary says so, and how to see them (observe, or --flows).

Sources:
  -f PATH   a YAML or JSON file, a directory (read recursively for .yaml, .yml and
            .json), or - for standard input. Multi-document YAML and "kind: List"
            are understood. Repeat -f for several sources.
  -k DIR    a kustomization directory, rendered in-process (no kubectl needed).

  --live    the cluster kubectl uses ($KUBECONFIG, ~/.kube/config, or the pod's
            service account when run in a cluster); --kubeconfig FILE and
            --context NAME choose another and imply --live.

Helm charts: render them first and pipe the result in:
  helm template my-release ./chart -f values.yaml | stridemap scan -f -

A live scan reads, in every namespace (-A, the default) or in those named with
-n (repeatable), every kind the graph uses: workloads, Services, Ingresses and
Gateway API routes, NetworkPolicies, RBAC, ConfigMaps, policies and the custom
resources of Istio, Cilium, Calico and others whose API groups the server
serves. It only lists (the verbs and resources are in deploy/stridemap-reader.yaml),
and Secrets are listed as metadata only: their values are never requested.
What the credentials may not read is skipped and listed as a coverage gap, and
the checks that depend on it say "not assessed" rather than claim a control is
missing; the scan is then stored as partial (exit 3). Evidence names the API
object and its resourceVersion where a file scan gives file:line.

With -f (or -k) and --live together, what the repository declares and what the
cluster runs are scanned as one: an object in both is read from the repository,
and the objects found on one side only are listed.

The threat catalog (built-in rules, plus --catalog directories) is evaluated
over the graph and the findings are stored with the scan; "stridemap findings"
lists them. With --fail-on SEVERITY the command exits 1 when a finding is at
or above that severity, for CI.

A repository that already has findings can still gate its pull requests on
what a change adds: --baseline names the state to compare with, a scan in
the store (its number, latest, or a date YYYY-MM-DD for the last scan of
that day) or a JSON report committed to the repository (stridemap
report --format json -o baseline.json), so a pipeline needs no persistent
store; a scan named by its number is pinned (scans keep) so prune leaves
it. The summary lists the findings that are new and those fixed;
--fail-on-new SEVERITY exits 1 only on new open findings at or above it, and
--fail-on-new-exposure on a new entry point from the internet or a new
plaintext flow. A finding a coverage gap left open is not counted as fixed.

Data classification raises the severity of findings on what handles sensitive
data. Declare it with the annotation stridemap.io/data: pii,payment,credentials
on a workload, or in an overlay file (--overlay), which can also declare data
stores the manifests do not reveal:

  version: 1
  elements:
    - match: workload:shop/orders-db      # a node ID, or a pattern: workload:shop/*
      data: [pii, payment]
    - match: workload:legacy/mainframe-gw
      datastore: db2

Where nothing is declared, names are used as cautious hints (user-db suggests
pii), marked "heuristic" in the graph.

Flows seen on the wire join the declared ones in the same scan: --flows takes a
flow log of stridemap-observer (-o, or the DaemonSet's exports in deploy/; a
directory is read whole) or of Cilium Hubble (hubble observe -o json). Edges
seen are marked observed, with counts and first/last seen; flows no manifest
declares become new edges, and the catalog compares the two. The flows' ends
are named through a Pod and Service inventory: the cluster's own (--live, or
--kubeconfig FILE [--context NAME]), or a dump of it (--inventory, the output
of kubectl get pods,services -A -o json); Hubble names pods itself, which are
matched to the scanned workloads by name when no inventory has them. A bad
line or an unreadable log is listed with its file:line, and the rest is
merged.

Secret values are never stored: only the names and keys of Secrets, and the
names of environment variables.`,
		Example: `  stridemap scan -f k8s/
  stridemap scan -f app.yaml -f db.yaml --namespace shop
  stridemap scan -k overlays/production
  kubectl get deploy,svc,ing,cm -A -o yaml | stridemap scan -f -
  stridemap scan -f k8s/ --catalog ./threat-rules --fail-on high
  stridemap scan -f k8s/ --baseline main.json --fail-on-new high   # a pull request's gate
  stridemap scan -f k8s/ --flows node-a.jsonl --flows node-b.jsonl --inventory pods.json
  stridemap scan -f k8s/ --flows flows/ --inventory pods.json   # a directory of exports
  stridemap scan --live                                         # the cluster kubectl uses, every namespace
  stridemap scan --live --context prod -n shop -n payments
  stridemap scan -f k8s/ --live -n shop                         # declared and running, side by side
  stridemap scan -f k8s/ --flows flows/ --live                  # flows' pods named by the cluster's API
  hubble observe --since 1h -o json > hubble.jsonl && stridemap scan -f k8s/ --flows hubble.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.checkSources("scan"); err != nil {
				return err
			}
			for flag, value := range map[string]string{"--fail-on": opts.failOn, "--fail-on-new": opts.failOnNew} {
				if value == "" {
					continue
				}
				if _, err := threats.ParseSeverity(value); err != nil {
					return fmt.Errorf("%s: %w", flag, err)
				}
			}
			if (opts.failOnNew != "" || opts.failOnNewExposure) && opts.baseline == "" {
				return fmt.Errorf("--fail-on-new and --fail-on-new-exposure compare with a baseline: add --baseline SCAN (a scan's number, latest or a date) or --baseline FILE (stridemap report --format json)")
			}
			return a.runScan(cmd.Context(), opts)
		},
	}
	opts.registerSources(cmd)
	cmd.Flags().StringVar(&opts.failOn, "fail-on", "", "exit 1 when a finding is at or above this severity: low, medium, high, critical")
	cmd.Flags().StringVar(&opts.baseline, "baseline", "", "judge the scan against an earlier state: a scan in the store (its number, latest, or a date YYYY-MM-DD), or a JSON report file (report --format json); lists what is new and fixed")
	cmd.Flags().StringVar(&opts.failOnNew, "fail-on-new", "", "with --baseline: exit 1 when a finding the baseline did not have is at or above this severity")
	cmd.Flags().BoolVar(&opts.failOnNewExposure, "fail-on-new-exposure", false, "with --baseline: exit 1 on a new entry point from the internet or a new plaintext flow")
	return cmd
}

// checkSources refuses source flags that contradict each other, before
// anything is read; command names the command for its --help.
func (opts *scanOptions) checkSources(command string) error {
	opts.live = opts.live || opts.kubeconfig != "" || opts.kubeCtx != ""
	files := len(opts.files) > 0 || len(opts.kustomize) > 0
	if !files && !opts.live {
		return fmt.Errorf("nothing to scan: name manifests with -f PATH, a kustomization with -k DIR, or read the cluster with --live (see stridemap %s --help)", command)
	}
	if len(opts.inventory) > 0 && len(opts.flowLogs) == 0 {
		return fmt.Errorf("--inventory names the pods of observed flows: add the flow logs with --flows FILE (see stridemap %s --help)", command)
	}
	if len(opts.inventory) > 0 && opts.live {
		return fmt.Errorf("--inventory and --live (or --kubeconfig, --context) both say where pods and services come from: use one, the dump or the cluster")
	}
	if opts.allNamespaces && len(opts.namespaces) > 0 {
		return fmt.Errorf("-A (--all-namespaces) and -n (--namespace) both say which namespaces to read: use one")
	}
	if opts.allNamespaces && !opts.live {
		return fmt.Errorf("-A (--all-namespaces) says which namespaces of a cluster to read: add --live, or use -n NAME for the namespace of manifests that name none")
	}
	if files && len(opts.namespaces) > 1 {
		return fmt.Errorf("-n is given %d times: with -f or -k it names the one namespace of manifests that name none (and, with --live, the namespace read); scan several namespaces of a cluster with --live alone", len(opts.namespaces))
	}
	if opts.requestTimeout < 0 || (opts.requestTimeout > 0 && !opts.live) {
		return fmt.Errorf("--request-timeout: give a positive duration, such as 30s, for the requests of --live")
	}
	if opts.qps < 0 || opts.burst < 0 || ((opts.qps > 0 || opts.burst > 0) && !opts.live) {
		return fmt.Errorf("--qps and --burst: give positive numbers, such as --qps 10 --burst 20, for the requests of --live")
	}
	return nil
}

// registerSources adds the flags that say what to scan and how, shared by
// scan and watch.
func (opts *scanOptions) registerSources(cmd *cobra.Command) {
	opts.registerReadSources(cmd)
	cmd.Flags().StringArrayVarP(&opts.namespaces, "namespace", "n", nil, "with -f: the namespace of objects that name none (default \"default\"); with --live: a namespace to read (repeatable)")
	cmd.Flags().BoolVarP(&opts.allNamespaces, "all-namespaces", "A", false, "with --live: read every namespace (the default when no -n is given)")
	cmd.Flags().StringArrayVar(&opts.catalogs, "catalog", nil, "directory of YAML rules that add, override or disable built-in rules (repeatable)")
	cmd.Flags().BoolVar(&opts.skipThreats, "skip-threats", false, "build and store the graph only, without evaluating the threat catalog")
	cmd.Flags().StringVar(&opts.overlay, "overlay", "", "YAML file with what manifests do not say: data classes, data stores (see --help)")
	cmd.Flags().StringArrayVar(&opts.flowLogs, "flows", nil, "merge this flow log, or directory of them, as observed edges: stridemap-observer or hubble observe -o json (repeatable)")
	cmd.Flags().StringArrayVar(&opts.inventory, "inventory", nil, "Pods and Services with their addresses, to name the ends of --flows: kubectl get pods,services -A -o json (repeatable)")
	_ = cmd.MarkFlagDirname("catalog")
}

// registerReadSources adds the flags that name the manifests and the
// cluster to read, shared with the commands that read a scan's sources
// again (policy diff).
func (opts *scanOptions) registerReadSources(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&opts.files, "filename", "f", nil, "manifest file or directory to scan, - for stdin (repeatable)")
	cmd.Flags().StringArrayVarP(&opts.kustomize, "kustomize", "k", nil, "kustomization directory to render and scan (repeatable)")
	opts.maxFileSize = manifests.DefaultMaxFileBytes
	cmd.Flags().Var(&opts.maxFileSize, "max-file-size", "largest file to read: bytes, or a size such as 400MB or 1GiB")
	cmd.Flags().BoolVar(&opts.live, "live", false, "scan the cluster kubectl uses ($KUBECONFIG, ~/.kube/config, or in-cluster), read only; it also names the ends of --flows")
	cmd.Flags().StringVar(&opts.kubeconfig, "kubeconfig", "", "like --live, with the cluster of this kubeconfig file")
	cmd.Flags().StringVar(&opts.kubeCtx, "context", "", "the kubeconfig context --live reads (default: its current context)")
	cmd.Flags().DurationVar(&opts.requestTimeout, "request-timeout", 0, fmt.Sprintf("with --live: how long one request to the API server may take (default %s)", cluster.DefaultTimeout))
	cmd.Flags().Float32Var(&opts.qps, "qps", 0, fmt.Sprintf("with --live: requests a second the scan may send on average, to spare a busy API server (default %d)", cluster.DefaultQPS))
	cmd.Flags().IntVar(&opts.burst, "burst", 0, fmt.Sprintf("with --live: requests the scan may send at once after a pause (default %d)", cluster.DefaultBurst))
	_ = cmd.MarkFlagDirname("kustomize")
}

func (a *app) runScan(ctx context.Context, opts scanOptions) error {
	req := opts.request()
	var baseline *threats.Baseline
	if opts.baseline != "" {
		// Read before the scan is stored: "the latest scan" is the one before.
		var err error
		if baseline, err = a.loadBaseline(ctx, opts.baseline); err != nil {
			return err
		}
	}
	var stdin *countingReader
	if a.stdin != nil {
		stdin = &countingReader{r: a.stdin}
		req.Manifests.Stdin = stdin
	}
	report := a.reporter()
	res, err := pipeline.Scan(ctx, a.env(report), req)
	report.done()
	if errors.Is(err, pipeline.ErrNothingRead) {
		msg := err.Error()
		if slices.Contains(opts.files, "-") && stdin != nil && stdin.n == 0 {
			msg += ": stdin (-f -) was empty; pipe manifests in, e.g. kubectl get deploy,svc,ing,cm -A -o yaml | stridemap scan -f -"
		}
		return &exitError{code: exitUsage, message: msg}
	}
	if err != nil {
		return err
	}
	if baseline != nil {
		if err := a.pinBaseline(ctx, opts.baseline); err != nil {
			return err
		}
	}
	if res.Flows != nil {
		a.writeFlowNotes(res.Flows)
	}
	if err := writeScanSummary(a.stdout, res.Scan, res.Graph, &discover.Inventory{Sources: res.Manifests}, res.StorePath); err != nil {
		return err
	}
	if res.Cluster != nil {
		writeLiveSummary(a.stdout, res.Cluster)
	}
	if res.Flows != nil {
		writeFlowSummary(a.stdout, res.Flows)
	}
	if res.Evaluated {
		if err := writeFindingsSummary(a.stdout, res.Scan, res.Findings); err != nil {
			return err
		}
	}
	var gate error
	if baseline != nil && res.Evaluated {
		notAssessed := make([]string, len(res.NotAssessed))
		for i, n := range res.NotAssessed {
			notAssessed[i] = n.ID()
		}
		since := baseline.Compare(res.Graph, res.Findings, notAssessed)
		writeBaselineSummary(a.stdout, baseline, since)
		gate = gateOnBaseline(baseline, since, opts.failOnNew, opts.failOnNewExposure)
	}
	if opts.failOn != "" {
		min, _ := threats.ParseSeverity(opts.failOn)
		var open int
		for _, f := range threats.AtOrAbove(res.Findings, min) {
			if f.IsOpen() {
				open++
			}
		}
		if open > 0 {
			return &exitError{code: exitFindings, message: fmt.Sprintf("%d open finding(s) at or above %s (--fail-on); triaged findings do not count", open, min)}
		}
	}
	if gate != nil {
		return gate
	}
	if res.Partial() {
		return &exitError{code: exitPartial, message: fmt.Sprintf("scan #%d is partial: %d input problem(s) listed above", res.Scan.ID, res.Scan.Counts.Errors)}
	}
	return nil
}

// request is the pipeline's request for these flags.
func (opts *scanOptions) request() pipeline.Request {
	defaultNamespace := "default"
	if len(opts.namespaces) == 1 {
		defaultNamespace = opts.namespaces[0]
	}
	req := pipeline.Request{
		Manifests: manifests.Request{
			Paths:            opts.files,
			Kustomize:        opts.kustomize,
			DefaultNamespace: defaultNamespace,
			MaxFileBytes:     int64(opts.maxFileSize),
		},
		Catalogs:    opts.catalogs,
		SkipThreats: opts.skipThreats,
		Overlay:     opts.overlay,
		FlowLogs:    opts.flowLogs,
		Inventory:   opts.inventory,
	}
	if opts.live {
		live := &cluster.Request{Kubeconfig: opts.kubeconfig, Context: opts.kubeCtx, Namespaces: opts.namespaces, Timeout: opts.requestTimeout, QPS: opts.qps, Burst: opts.burst}
		req.Cluster = live
		if len(opts.flowLogs) > 0 {
			req.Live = live
		}
	}
	return req
}

// countingReader counts the bytes read through it, so that a scan of an
// empty stdin can say so rather than that nothing could be read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// env is where the pipeline stores and reports, for this invocation.
func (a *app) env(r pipeline.Reporter) pipeline.Env {
	return pipeline.Env{Store: a.dbPath, ToolVersion: toolVersion(), Report: r, Log: a.log}
}

// reporter prints the pipeline's problems and warnings on stderr as they
// happen, and on a terminal which file is being read and which stage of
// the work runs.
func (a *app) reporter() *stderrReporter {
	return &stderrReporter{w: a.stderr, progress: newProgress(a.stderr)}
}

type stderrReporter struct {
	w        io.Writer
	progress *progress
}

func (r *stderrReporter) Reading(path string) { r.progress.file(path) }

func (r *stderrReporter) Step(what string) { r.progress.step(what) }

func (r *stderrReporter) Problem(p discover.Problem) {
	r.progress.done()
	fmt.Fprintf(r.w, "%s: %s\n", p.Severity, safetext.Message(p.String()))
}

func (r *stderrReporter) Warning(msg string) {
	r.progress.done()
	fmt.Fprintln(r.w, "warning:", safetext.Message(msg))
}

// done clears the progress line; call it once the work is over.
func (r *stderrReporter) done() { r.progress.done() }

// progress shows on a terminal, and only there so that logs and pipes
// stay clean, one line that says which file is being read or which stage
// runs, with the seconds a stage has taken once it passes one: the stages
// after the reading take most of a large scan.
type progress struct {
	out   *os.File
	every time.Duration // how often a stage's seconds are updated

	mu     sync.Mutex
	count  int
	last   time.Time
	active bool
	stage  chan struct{} // closed when the stage shown ends; nil if none
}

func newProgress(w any) *progress {
	f, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return &progress{}
	}
	return &progress{out: f, every: time.Second}
}

func (p *progress) file(path string) {
	if p.out == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endStage()
	p.count++
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last, p.active = time.Now(), true
	fmt.Fprintf(p.out, "\r\033[Kreading %d: %s", p.count, safetext.Truncate(path, 100))
}

// step shows what, then how long it has run, until the next line or done.
func (p *progress) step(what string) {
	if p.out == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endStage()
	line := "\r\033[K" + safetext.Truncate(what, 100) + "…"
	fmt.Fprint(p.out, line)
	p.active = true
	stage, started := make(chan struct{}), time.Now()
	p.stage = stage
	go func() {
		tick := time.NewTicker(p.every)
		defer tick.Stop()
		for {
			select {
			case <-stage:
				return
			case now := <-tick.C:
				p.mu.Lock()
				if p.stage == stage {
					fmt.Fprintf(p.out, "%s %ds", line, int(now.Sub(started).Seconds()))
				}
				p.mu.Unlock()
			}
		}
	}()
}

// endStage stops updating the stage shown; p.mu is held.
func (p *progress) endStage() {
	if p.stage != nil {
		close(p.stage)
		p.stage = nil
	}
}

func (p *progress) done() {
	if p.out == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endStage()
	if p.active {
		fmt.Fprint(p.out, "\r\033[K")
		p.active = false
	}
}
