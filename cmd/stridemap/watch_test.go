package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stridemap/stridemap/discover/cluster/clustertest"
	"github.com/stridemap/stridemap/model/store"
)

// watchState reads what a running watch has stored: the scans, and when
// the latest was last confirmed.
func watchState(t *testing.T, db string) (scans int, confirmed time.Time) {
	t.Helper()
	ctx := context.Background()
	s, err := store.OpenExisting(ctx, db)
	if err != nil {
		return 0, time.Time{}
	}
	defer s.Close()
	list, err := s.Scans(ctx)
	if err != nil || len(list) == 0 {
		return 0, time.Time{}
	}
	c, _, err := s.Content(ctx, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(list), c.ConfirmedAt
}

// waitFor polls until cond holds, or fails the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWatch runs watch every 200ms on a directory the test edits: an
// unchanged tick stores nothing and confirms the scan, a change is stored
// with what changed printed and written to --drift-dir (JSON and
// Markdown), a source that disappears fails its tick only and the failure
// is recorded and listed by scans until a tick succeeds again, and a
// cancelled watch stops cleanly.
func TestWatch(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "shop.yaml"), liveShop)
	drift := filepath.Join(t.TempDir(), "drift")
	c := newCLI(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() {
		done <- c.runContext(ctx, "", "watch", "-f", src, "-n", "shop", "--every", "200ms", "--drift-dir", drift)
	}()

	waitFor(t, "the first scan is stored", func() bool { n, _ := watchState(t, c.db); return n == 1 })
	_, first := watchState(t, c.db)
	waitFor(t, "a later tick confirms it", func() bool { n, at := watchState(t, c.db); return n == 1 && at.After(first) })

	writeFile(t, filepath.Join(src, "debug.yaml"), liveDebug)
	waitFor(t, "the change is stored", func() bool { n, _ := watchState(t, c.db); return n == 2 })

	// The source disappears: its ticks fail, nothing is stored; it comes
	// back as it was: unchanged.
	moved := src + ".away"
	if err := os.Rename(src, moved); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two failed ticks are recorded", func() bool { return len(watchFailures(t, c.db)) >= 2 })
	failures := watchFailures(t, c.db)
	if f := failures[0]; !strings.Contains(f.Message, src) || strings.Contains(f.Message, "\n") || f.Target.String() != src {
		t.Errorf("recorded failure %+v; want the target %s and a one-line message naming it", f, src)
	}
	// scans says so while the source is away, with the last error.
	failedLine := regexp.MustCompile(`(?m)^watch: [0-9]+ re-scans of ` + regexp.QuoteMeta(src) + ` failed since scan #2, the last at [0-9-]+ [0-9:]+: .*` + regexp.QuoteMeta(src) + `.*$`)
	if r := c.run("", "scans"); r.code != exitOK || !failedLine.MatchString(r.stdout) {
		t.Errorf("scans while the source is away: exit %d\n%s%s\n%+v", r.code, r.stdout, r.stderr, watchFailures(t, c.db))
	}
	// And in JSON, on the scan the failures came after.
	if failed := jsonFailedRescans(t, c); failed[2] == nil || failed[2].Count < 2 || !strings.Contains(failed[2].Last.Message, src) || failed[1] != nil {
		t.Errorf("scans --format json while the source is away: %+v; want scan 2's failures, naming %s", failed, src)
	}
	if err := os.Rename(moved, src); err != nil {
		t.Fatal(err)
	}
	_, second := watchState(t, c.db)
	waitFor(t, "the returned source confirms scan 2", func() bool { n, at := watchState(t, c.db); return n == 2 && at.After(second) })
	// Confirmed again: the failures are behind it, and kept in the store.
	if r := c.run("", "scans"); r.code != exitOK || strings.Contains(r.stdout, "watch:") || len(watchFailures(t, c.db)) < 2 {
		t.Errorf("scans after the source came back: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if failed := jsonFailedRescans(t, c); len(failed) != 0 {
		t.Errorf("scans --format json after the source came back: %+v; want no failures", failed)
	}
	cancel()
	r := <-done

	if r.code != exitOK || !strings.Contains(r.stderr, "stopped") {
		t.Errorf("a cancelled watch: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"scan #1 stored", "unchanged since scan #1", "scan #2 stored, changed since #1:\n", "elements +1 −0 ~0", "  + workload:shop/debug  process\n", "unchanged since scan #2"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "scan failed, nothing stored (the next tick tries again)") {
		t.Errorf("the failing tick is not reported:\n%s", r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(drift, "drift-1-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int `json:"schemaVersion"`
		Elements      struct {
			Added []struct{ ID string } `json:"added"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.SchemaVersion != 1 || len(doc.Elements.Added) != 1 || doc.Elements.Added[0].ID != "workload:shop/debug" {
		t.Errorf("drift file: %v\n%s", err, data)
	}
	md, err := os.ReadFile(filepath.Join(drift, "drift-1-2.md"))
	if err != nil || !strings.HasPrefix(string(md), "#") || !strings.Contains(string(md), "workload:shop/debug") {
		t.Errorf("Markdown drift file: %v\n%s", err, md)
	}
	if entries, _ := os.ReadDir(drift); len(entries) != 2 {
		t.Errorf("%d drift files for 1 change, want its JSON and Markdown", len(entries))
	}
}

// jsonFailedRescans is what scans --format json says of failed re-scans,
// by scan ID.
func jsonFailedRescans(t *testing.T, c *cli) map[int64]*failedRescansJSON {
	t.Helper()
	var scans []struct {
		ID            int64
		FailedRescans *failedRescansJSON
	}
	if err := json.Unmarshal([]byte(c.mustRun("scans", "--format", "json").stdout), &scans); err != nil {
		t.Fatal(err)
	}
	out := map[int64]*failedRescansJSON{}
	for _, sc := range scans {
		if sc.FailedRescans != nil {
			out[sc.ID] = sc.FailedRescans
		}
	}
	return out
}

// watchFailures reads the failed re-scans a watch has recorded, newest
// first.
func watchFailures(t *testing.T, db string) []store.Failure {
	t.Helper()
	ctx := context.Background()
	s, err := store.OpenExisting(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	failures, err := s.Failures(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	return failures
}

// TestWatchConfirmsAPlainScan: a watch started after `stridemap scan` of
// the same unchanged sources confirms that scan instead of storing it
// again, even when a scan of another target came after it; a change is
// compared with the previous scan of the watch's own target.
func TestWatchConfirmsAPlainScan(t *testing.T) {
	c := newCLI(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "shop.yaml"), liveShop)
	c.mustRun("scan", "-f", src)
	c.mustRun("scan", "-f", demoDir) // another target, scanned later
	r := c.mustRun("watch", "-f", src, "--every", "1ms", "--ticks", "2")
	if n, _ := watchState(t, c.db); n != 2 || strings.Count(r.stdout, "unchanged since scan #1\n") != 2 {
		t.Errorf("%d scans after watching an unchanged input, want 2\n%s", n, r.stdout)
	}
	writeFile(t, filepath.Join(src, "debug.yaml"), liveDebug)
	r = c.mustRun("watch", "-f", src, "--every", "1ms", "--ticks", "1")
	if !strings.Contains(r.stdout, "scan #3 stored, changed since #1:\n") || !strings.Contains(r.stdout, "  + workload:default/debug  process\n") {
		t.Errorf("a change is not compared with the target's previous scan:\n%s", r.stdout)
	}
}

// TestWatchUsage: what watch cannot do is refused before it starts.
func TestWatchUsage(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"watch"}, "see stridemap watch --help"},
		{[]string{"watch", "-f", "-"}, "standard input can be read once"},
		{[]string{"watch", "-f", demoDir, "--every", "0s"}, "positive interval"},
		{[]string{"watch", "-f", demoDir, "--ticks", "-1"}, "--ticks"},
	} {
		if r := c.run("", tc.args...); r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d\n%s", tc.args, r.code, r.stderr)
		}
	}
}

// TestWatchLive watches a real API server: an object rewritten without a
// change to what the graph uses (a new resourceVersion) stores nothing, a
// Deployment added is stored as a change.
func TestWatchLive(t *testing.T) {
	srv := clustertest.Start(t)
	srv.Apply(t, "shop", []byte(liveShop))
	c := newCLI(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() {
		done <- c.runContext(ctx, "", "watch", "--kubeconfig", srv.Kubeconfig, "-n", "shop", "--every", "200ms")
	}()
	waitFor(t, "the first scan is stored", func() bool { n, _ := watchState(t, c.db); return n == 1 })

	// A new resourceVersion, the same architecture.
	deployments := srv.Client(t).AppsV1().Deployments("shop")
	web, err := deployments.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := web.ResourceVersion
	web.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"}
	if web, err = deployments.Update(ctx, web, metav1.UpdateOptions{}); err != nil || web.ResourceVersion == before {
		t.Fatalf("update: %v, resourceVersion %s", err, web.ResourceVersion)
	}
	_, first := watchState(t, c.db)
	waitFor(t, "a tick after the update confirms scan 1", func() bool { n, at := watchState(t, c.db); return n == 1 && at.After(first.Add(time.Second)) })

	srv.Apply(t, "shop", []byte(liveDebug))
	waitFor(t, "the new Deployment is stored", func() bool { n, _ := watchState(t, c.db); return n == 2 })
	cancel()
	if r := <-done; r.code != exitOK || !strings.Contains(r.stdout, "  + workload:shop/debug  process\n") {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestWatchLiveUnansweredList: a tick whose list of Services times out
// stores nothing, so the Service does not show as removed and added back;
// the failure is recorded, and the next tick finds the scan unchanged. A
// repository scanned beside a cluster that does not answer at all fails
// its tick too, rather than store the repository alone.
func TestWatchLiveUnansweredList(t *testing.T) {
	srv := clustertest.Start(t)
	srv.Apply(t, "shop", []byte(liveShop))
	var slowServices, down atomic.Bool
	proxy := srv.FaultyProxy(t, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case down.Load():
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"down for maintenance","reason":"ServiceUnavailable","code":503}`, http.StatusServiceUnavailable)
			return true
		case slowServices.Load() && clustertest.IsList(r, "services"):
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return true
		}
		return false
	})
	c := newCLI(t)
	watch := func(extra ...string) result {
		t.Helper()
		return c.mustRun(append([]string{"watch", "--kubeconfig", proxy.Kubeconfig, "-n", "shop", "--request-timeout", "1s", "--every", "1ms", "--ticks", "1"}, extra...)...)
	}
	failures := func() []store.Failure {
		t.Helper()
		s, err := store.OpenExisting(context.Background(), c.db)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		list, err := s.Failures(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	if r := watch(); !strings.Contains(r.stdout, "scan #1 stored, the first of its target") {
		t.Fatalf("first tick:\n%s\n%s", r.stdout, r.stderr)
	}

	slowServices.Store(true)
	r := watch()
	if n, _ := watchState(t, c.db); n != 1 || strings.Contains(r.stdout, "stored") {
		t.Errorf("a tick whose Services list timed out stored a scan (%d scans):\n%s", n, r.stdout)
	}
	if !strings.Contains(r.stderr, "scan failed, nothing stored") || !strings.Contains(r.stderr, "the cluster did not answer every list") ||
		!strings.Contains(r.stderr, "Service in namespace shop: not read: timed out") {
		t.Errorf("the failed tick does not say which list went unanswered:\n%s", r.stderr)
	}
	if f := failures(); len(f) != 1 || !strings.Contains(f[0].Message, "Service in namespace shop") {
		t.Errorf("failures recorded: %+v", f)
	}

	slowServices.Store(false)
	if r := watch(); !strings.Contains(r.stdout, "unchanged since scan #1") {
		t.Errorf("the tick after the timeout:\n%s\n%s", r.stdout, r.stderr)
	}

	src := t.TempDir()
	writeFile(t, filepath.Join(src, "debug.yaml"), liveDebug)
	down.Store(true)
	r = watch("-f", src)
	if n, _ := watchState(t, c.db); n != 1 || !strings.Contains(r.stderr, "scan failed, nothing stored") || !strings.Contains(r.stderr, "503") && !strings.Contains(r.stderr, "down for maintenance") {
		t.Errorf("a repository beside a cluster that does not answer: %d scans\n%s\n%s", n, r.stdout, r.stderr)
	}
}
