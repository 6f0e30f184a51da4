package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/flowlog"
	"github.com/stridemap/stridemap/discover/flows"
	"github.com/stridemap/stridemap/discover/flows/resolve"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
)

// flowLogProblem is the problem code of flow logs and inventories that
// could not be used, in whole or in part.
const flowLogProblem = "flow-log"

// maxBadLines is how many unusable lines a flow log may have before it is
// taken for something else and left out whole.
const maxBadLines = 10

// flowImport is what "scan --flows" merged into a graph, for the summary
// and the stored scan.
type flowImport struct {
	sources  []discover.Source
	problems []discover.Problem
	report   resolve.Report
	// observed and undeclared count the graph's edges the flows touched,
	// and those among them that no manifest declares.
	observed, undeclared int
	logs                 int
}

// mergeFlowLogs reads the flow logs and the inventory (files, or the live
// API when live is set), names the flows' ends and merges them into the
// graph as observed edges. Logs and inventories that cannot be used, in
// whole or in part, become problems; the rest is merged.
func (a *app) mergeFlowLogs(ctx context.Context, g *model.Graph, declared []*discover.Object, logPaths, inventory []string, live *cluster.Request) flowImport {
	var imp flowImport
	log := &flows.Log{}
	seen := map[string]bool{} // a log named twice (itself and by its directory) counts once
	for _, p := range logPaths {
		l, src, problems := readFlowLogArg(p, seen)
		log.Flows = append(log.Flows, l.Flows...)
		log.Listeners = append(log.Listeners, l.Listeners...)
		log.Summaries = append(log.Summaries, l.Summaries...)
		imp.sources = append(imp.sources, src)
		imp.problems = append(imp.problems, problems...)
		imp.logs += src.Files
	}
	var known []*discover.Object
	if len(inventory) > 0 {
		inv, err := manifests.Collect(ctx, manifests.Request{Paths: inventory})
		if err != nil {
			imp.problems = append(imp.problems, discover.Problem{Severity: discover.SeverityError, Code: flowLogProblem,
				Location: discover.Location{File: strings.Join(inventory, ",")}, Message: fmt.Sprintf("--inventory: %v; flows were named without it", err)})
		} else {
			imp.problems = append(imp.problems, inv.Problems...)
			imp.sources = append(imp.sources, inv.Sources...) // the scan says what named its flows
			known = inv.Objects
		}
	}
	if live != nil {
		inv, err := cluster.Collect(ctx, *live)
		if err != nil {
			imp.problems = append(imp.problems, discover.Problem{Severity: discover.SeverityError, Code: flowLogProblem,
				Location: discover.Location{File: "--live"}, Message: fmt.Sprintf("%v; flows were named without the cluster's pods", err)})
		} else {
			fmt.Fprintf(a.stderr, "inventory: %d pods and services from %s\n", len(inv.Objects), inv.Sources[0].Path)
			imp.sources = append(imp.sources, inv.Sources...)
			known = inv.Objects
		}
	}
	writeObservationSummary(a.stderr, &flows.Log{Summaries: summariesByNode(log)})
	resolved, rep := resolve.New(append(known, podsNamedByLog(log, declared, known)...)).Resolve(log.Flows)
	imp.report = rep
	touched := model.MergeObserved(g, observedFlows(resolved, "flow-log"))
	imp.observed = len(touched)
	for i := range g.Edges {
		if e := &g.Edges[i]; e.Observed && !e.Declared {
			imp.undeclared++
		}
	}
	if len(inventory) == 0 && live == nil && rep.External+rep.Unknown > 0 {
		fmt.Fprintf(a.stderr, "hint: %d flows have an end no pod was found for: name pods by address with --live (the cluster kubectl uses) or --inventory pods.json (kubectl get pods,services -A -o json > pods.json)\n", rep.External+rep.Unknown)
	}
	return imp
}

// writeFlowSummary is the scan summary's line about the merged flows.
func writeFlowSummary(w io.Writer, imp flowImport) {
	r := imp.report
	fmt.Fprintf(w, "\nFlows: %d read from %s; %d resolved (%d with a peer that is no known pod), %d between no known pods left out, %d inside one pod%s; %d edges observed, %d of them declared by no manifest\n",
		r.Flows, plural(imp.logs, "flow log"), r.Resolved, r.External, r.Unknown, r.Loopback, meshSummary(r), imp.observed, imp.undeclared)
}

// meshSummary tells, when there were mesh sidecars, how their flows were
// read: "" when there were none.
func meshSummary(r resolve.Report) string {
	if r.Intercepted == 0 && r.Captured == 0 {
		return ""
	}
	return fmt.Sprintf(", %d calls captured by their pod's mesh proxy (encryption judged on the proxies' connections), %d connections a proxy accepted from a caller not observed left out",
		r.Intercepted, r.Captured)
}

// readFlowLogArg reads one --flows argument: a flow log, or a directory
// of them (*.jsonl and *.json, as the observer DaemonSet exports them).
func readFlowLogArg(arg string, seen map[string]bool) (*flows.Log, discover.Source, []discover.Problem) {
	src := discover.Source{Kind: discover.SourceKind("flows"), Path: arg}
	all := &flows.Log{}
	files, err := flowLogFiles(arg)
	if err != nil {
		return all, src, []discover.Problem{flowProblem(arg, 0, err.Error()+"; it was left out")}
	}
	var problems []discover.Problem
	h := sha256.New()
	for _, f := range files {
		if abs, err := filepath.Abs(f); err == nil {
			if seen[abs] {
				continue
			}
			seen[abs] = true
		}
		b, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, flowProblem(f, 0, fmt.Sprintf("cannot be read: %v; it was left out", unwrapPath(err))))
			continue
		}
		l, bad, ok := readFlowLog(f, b)
		problems = append(problems, bad...)
		if !ok {
			continue
		}
		h.Write(b)
		all.Flows = append(all.Flows, l.Flows...)
		all.Listeners = append(all.Listeners, l.Listeners...)
		all.Summaries = append(all.Summaries, l.Summaries...)
		src.Files++
	}
	src.Objects, src.SHA256, src.Notes = len(all.Flows), hex.EncodeToString(h.Sum(nil)), missingNotes(all)
	return all, src, problems
}

// missingNotes are what the observers of a log could not see, and why,
// for the scan's sources: one line a part, node and kernel.
func missingNotes(log *flows.Log) []string {
	var out []string
	for _, s := range summariesByNode(log) {
		out = append(out, s.MissingLines()...)
	}
	return out
}

// flowLogFiles lists the flow logs an argument names: itself, or the
// *.jsonl and *.json files under a directory, by path (the exports' names
// sort by time). Hidden files, such as an export being written, are not
// read.
func flowLogFiles(arg string) ([]string, error) {
	info, err := os.Stat(arg)
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", unwrapPath(err))
	}
	if !info.IsDir() {
		return []string{arg}, nil
	}
	var files []string
	err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch name := d.Name(); {
		case path != arg && strings.HasPrefix(name, "."):
			if d.IsDir() {
				return filepath.SkipDir
			}
		case d.Type().IsRegular() && (strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".json")):
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("directory holds no flow logs (*.jsonl, *.json)")
	}
	return files, nil
}

// readFlowLog reads one flow log, leaving out the lines that are not flow
// log lines, each reported with its line number. The reader stops at the
// first bad line, so that line is blanked (keeping the numbering) and the
// log read again. A file with too many bad lines is no flow log: it is
// left out whole (ok is false), with one problem.
func readFlowLog(path string, b []byte) (log *flows.Log, problems []discover.Problem, ok bool) {
	for {
		log, err := flowlog.Read(bytes.NewReader(b))
		if err == nil {
			return log, problems, true
		}
		var n int
		if _, scanErr := fmt.Sscanf(err.Error(), "line %d:", &n); scanErr != nil || n < 1 {
			return nil, append(problems, flowProblem(path, 0, fmt.Sprintf("%v; the file was left out", err))), false
		}
		msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("line %d: ", n))
		if syntax := (*json.SyntaxError)(nil); errors.As(err, &syntax) {
			msg = "not JSON: " + msg
		}
		if len(problems) == maxBadLines {
			first := problems[0]
			first.Message = fmt.Sprintf("more than %d lines are not flow log lines, the first: %s; the file was left out: is it a stridemap-observer log or hubble observe -o json output?",
				maxBadLines, strings.TrimSuffix(first.Message, badLineAdvice))
			return nil, []discover.Problem{first}, false
		}
		problems = append(problems, flowProblem(path, n, msg+badLineAdvice))
		b = blankLine(b, n)
	}
}

const badLineAdvice = "; the line was left out (fix or delete it)"

// blankLine returns b with its nth line (1-based) emptied.
func blankLine(b []byte, n int) []byte {
	start := 0
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(b[start:], '\n')
		if j < 0 {
			return b
		}
		start += j + 1
	}
	end := len(b)
	if j := bytes.IndexByte(b[start:], '\n'); j >= 0 {
		end = start + j
	}
	return slices.Concat(b[:start], b[end:])
}

func flowProblem(file string, line int, msg string) discover.Problem {
	return discover.Problem{Severity: discover.SeverityError, Code: flowLogProblem, Location: discover.Location{File: file, Line: line}, Message: msg}
}

// unwrapPath drops the path from a file error, which the problem names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// summariesByNode adds up the summaries of each node, so that a
// directory of periodic exports reports one line per node.
func summariesByNode(log *flows.Log) []flows.Summary {
	var out []flows.Summary
	index := map[string]int{}
	for _, s := range log.Summaries {
		i, ok := index[s.Node]
		if !ok {
			index[s.Node] = len(out)
			out = append(out, s)
			continue
		}
		t := &out[i]
		if s.Started.Before(t.Started) {
			t.Started = s.Started
		}
		t.Duration += s.Duration
		t.Events += s.Events
		t.DecodeErrors += s.DecodeErrors
		t.Dropped += s.Dropped
		t.Unattributed += s.Unattributed
		t.Reported += s.Reported
		t.Flows += s.Flows
		t.Listeners += s.Listeners
		t.Overflow += s.Overflow
		if t.Kernel == "" {
			t.Kernel = s.Kernel
		}
		for _, m := range s.Missing {
			if !slices.Contains(t.Missing, m) {
				t.Missing = append(t.Missing, m)
			}
		}
	}
	return out
}

// Pod names as Kubernetes' controllers make them, after the workload's
// name: what follows "NAME-" for each kind.
var podSuffixes = map[string]*regexp.Regexp{
	"Deployment":  regexp.MustCompile(`^([a-z0-9]{1,10})-[a-z0-9]{5}$`), // pod-template-hash, then random
	"ReplicaSet":  regexp.MustCompile(`^[a-z0-9]{5}$`),
	"DaemonSet":   regexp.MustCompile(`^[a-z0-9]{5}$`),
	"Job":         regexp.MustCompile(`^[a-z0-9]{5}$`),
	"StatefulSet": regexp.MustCompile(`^[0-9]+$`),
	"CronJob":     regexp.MustCompile(`^([0-9]{8,})-[a-z0-9]{5}$`), // the Job's scheduled time, then random
}

// podsNamedByLog makes Pods for the pods a flow log names (Hubble names
// both ends) that the inventory does not hold, owned by the declared
// workload whose name and kind the pod's name follows, so that a Hubble
// log resolves against the manifests without an inventory. Names that
// follow no declared workload are left to resolve by address.
func podsNamedByLog(log *flows.Log, declared, inventory []*discover.Object) []*discover.Object {
	have := map[string]bool{}
	for _, o := range inventory {
		if o.Kind == "Pod" {
			have[o.Namespace+"/"+o.Name] = true
		}
	}
	workloads := map[string][]string{} // "namespace/name" → kinds
	for _, o := range declared {
		if o.Kind == "Pod" || podSuffixes[o.Kind] != nil {
			k := o.Namespace + "/" + o.Name
			workloads[k] = append(workloads[k], o.Kind)
		}
	}
	var out []*discover.Object
	for _, f := range log.Flows {
		for _, name := range []string{f.LocalPod, f.RemotePod} {
			if name == "" || have[name] {
				continue
			}
			have[name] = true
			if pod := declaredPod(name, workloads); pod != nil {
				out = append(out, &discover.Object{APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Typed: pod})
			}
		}
	}
	return out
}

// declaredPod is the Pod "namespace/name" of the longest-named declared
// workload it follows, nil when it follows none.
func declaredPod(name string, workloads map[string][]string) *corev1.Pod {
	ns, podName, ok := strings.Cut(name, "/")
	if !ok {
		return nil
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: podName}}
	if slices.Contains(workloads[name], "Pod") {
		return pod
	}
	controller := true
	for i := len(podName) - 1; i > 0; i-- {
		if podName[i] != '-' {
			continue
		}
		owner, suffix := podName[:i], podName[i+1:]
		for _, kind := range workloads[ns+"/"+owner] {
			re := podSuffixes[kind]
			if re == nil {
				continue
			}
			m := re.FindStringSubmatch(suffix)
			if m == nil {
				continue
			}
			ref := metav1.OwnerReference{Kind: kind, Name: owner, Controller: &controller}
			switch kind {
			case "Deployment": // resolve walks ReplicaSet NAME-HASH up to its Deployment
				ref.Kind, ref.Name = "ReplicaSet", owner+"-"+m[1]
				pod.Labels = map[string]string{"pod-template-hash": m[1]}
			case "CronJob": // and Job NAME-TIME up to its CronJob
				ref.Kind, ref.Name = "Job", owner+"-"+m[1]
			}
			pod.OwnerReferences = []metav1.OwnerReference{ref}
			return pod
		}
	}
	return nil
}
