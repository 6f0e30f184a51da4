package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/discovertest"
)

// TestTUINeedsATerminal: without a terminal "tui" says what to use instead,
// and a bare "stridemap" prints the help as it always did.
func TestTUINeedsATerminal(t *testing.T) {
	c := newCLI(t)
	r := c.run("", "tui")
	if r.code != exitUsage || !strings.Contains(r.stderr, "needs a terminal") || !strings.Contains(r.stderr, "stridemap findings") {
		t.Errorf("tui without a terminal: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("")
	if r.code != exitOK || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "tui") {
		t.Errorf("stridemap with no arguments and no terminal should print the help, listing tui: exit %d\n%s", r.code, r.stdout)
	}
	if r := c.run("", "tui", "--help"); r.code != exitOK || !strings.Contains(r.stdout, "5 Drift") || !strings.Contains(r.stdout, "m the\n               element or flow on the Map") {
		t.Errorf("tui --help should describe the Drift page: exit %d\n%s", r.code, r.stdout)
	}
	if r := c.run("", "bogus"); r.code != exitUsage || !strings.Contains(r.stderr, `unknown command "bogus"`) {
		t.Errorf("an unknown command is still an error: exit %d, stderr %q", r.code, r.stderr)
	}
}

// tmuxSession is a tmux server of the test's own (its own socket, so it
// never touches the user's sessions) running one command in a window of a
// fixed size.
type tmuxSession struct {
	t      *testing.T
	tmux   string
	socket string
}

func (s *tmuxSession) run(args ...string) (string, error) {
	cmd := exec.Command(s.tmux, append([]string{"-S", s.socket}, args...)...)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// keys types keys into the window; each argument is a tmux key name
// ("Enter", "Escape") or, with literal, text.
func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	for _, k := range keys {
		if out, err := s.run("send-keys", "-t", "sm", k); err != nil {
			s.t.Fatalf("tmux send-keys %s: %v\n%s", k, err, out)
		}
		time.Sleep(50 * time.Millisecond) // an escape and the next key must not read as one alt+key
	}
}

func (s *tmuxSession) text(text string) {
	s.t.Helper()
	if out, err := s.run("send-keys", "-t", "sm", "-l", text); err != nil {
		s.t.Fatalf("tmux send-keys -l: %v\n%s", err, out)
	}
}

// screen is what the window shows.
func (s *tmuxSession) screen() string {
	out, _ := s.run("capture-pane", "-p", "-t", "sm")
	return out
}

// waitFor polls the window until cond holds of what it shows.
func (s *tmuxSession) waitFor(what string, cond func(screen string) bool) string {
	s.t.Helper()
	var last string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last = s.screen(); cond(last) {
			return last
		}
	}
	s.t.Fatalf("the terminal never showed %s; it shows:\n%s", what, last)
	return ""
}

func contains(sub ...string) func(string) bool {
	return func(screen string) bool {
		for _, s := range sub {
			if !strings.Contains(screen, s) {
				return false
			}
		}
		return true
	}
}

// startTUI builds the binary and runs "stridemap tui" on c's store in a
// tmux window of 120×40 of the test's own.
func startTUI(t *testing.T, c *cli) *tmuxSession {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("tmux is required in CI (.ci/deps.sh installs it): %v", err)
		}
		t.Skip("skipping: tmux is not installed; .ci/deps.sh (or apt-get install tmux) installs it")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "stridemap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := &tmuxSession{t: t, tmux: tmux, socket: filepath.Join(dir, "tmux.sock")}
	command := fmt.Sprintf("env STRIDEMAP_USER=tmux-reviewer TZ=UTC %s --db %s tui", bin, c.db)
	if out, err := s.run("new-session", "-d", "-s", "sm", "-x", "120", "-y", "40", command); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { s.run("kill-server") })
	return s
}

// TestTUIUnderTmux runs the real binary in a real terminal (tmux, 120×40)
// on a scan of the demo and checks what a person would see while they
// open the Threats page, filter it to one STRIDE category, open a finding
// and accept it with a reason; then the CLI shows the decision.
func TestTUIUnderTmux(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	s := startTUI(t, c)

	// The Overview: page titles, the matrix, the top risks.
	s.waitFor("the Overview with its matrix", contains("[1 Overview]", "2 Map", "3 Threats", "4 Questions", "5 Drift", "STRIDE × severity", "Top risks"))

	s.keys("3")
	row := regexp.MustCompile(`(?m)^(critical|high|medium|low) +([STRIDE]) +(open|accepted) +\S`)
	screen := s.waitFor("the Threats table with finding rows", func(sc string) bool {
		return strings.Contains(sc, "[3 Threats]") && strings.Contains(sc, "SEVERITY S STATUS") && row.MatchString(sc)
	})
	count := regexp.MustCompile(`(\d+) of (\d+)`)
	total := count.FindStringSubmatch(screen)
	if total == nil || total[1] != total[2] {
		t.Fatalf("unfiltered, the table should count all findings: %v\n%s", total, screen)
	}

	s.keys("i")
	screen = s.waitFor("the table filtered to information disclosure", func(sc string) bool {
		m := count.FindStringSubmatch(sc)
		return m != nil && m[1] != total[1]
	})
	rows := row.FindAllStringSubmatch(screen, -1)
	if len(rows) == 0 {
		t.Fatalf("the filtered table shows no rows:\n%s", screen)
	}
	for _, r := range rows {
		if r[2] != "I" {
			t.Errorf("filtered to I, the table shows a %s row:\n%s", r[2], screen)
		}
	}
	if shown, _ := strconv.Atoi(count.FindStringSubmatch(screen)[1]); shown == 0 {
		t.Errorf("no information-disclosure findings in the demo?\n%s", screen)
	}

	s.keys("Enter", "a")
	s.waitFor("the reason prompt", contains("accept · reason ›"))
	s.text("tmux says it is fine")
	s.keys("Enter")
	screen = s.waitFor("the triage confirmation", contains("✓ accepted by tmux-reviewer: "))
	id := regexp.MustCompile(`✓ accepted by tmux-reviewer: (\S+)`).FindStringSubmatch(screen)[1]
	if !regexp.MustCompile(`(?m)^\S+ +I +accepted `).MatchString(screen) {
		t.Errorf("the row should now read accepted:\n%s", screen)
	}

	s.quit()

	list := c.mustRun("triage", "list").stdout
	if !strings.Contains(list, id) || !strings.Contains(list, "tmux-reviewer") || !strings.Contains(list, "tmux says it is fine") {
		t.Errorf("the CLI should list the decision made in the TUI on %s:\n%s", id, list)
	}
}

// quit presses q and waits for the program to end and its window to close.
func (s *tmuxSession) quit() {
	s.t.Helper()
	s.keys("q")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := s.run("has-session", "-t", "sm"); err != nil {
			break // the program quit and its window closed
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("q did not quit; the terminal shows:\n%s", s.screen())
		}
	}
}

// TestTUIDriftUnderTmux: after a release is scanned, the Drift page in a
// real terminal lists what changed since the previous scan, and m opens
// the Map on the element added.
func TestTUIDriftUnderTmux(t *testing.T) {
	c := newCLI(t)
	dir := copyDemo(t)
	c.mustRun("scan", "-f", dir)
	discovertest.ChangeDemo(t, dir)
	c.mustRun("scan", "-f", dir)
	s := startTUI(t, c)

	s.waitFor("the Overview pointing at the Drift page", contains("[1 Overview]", "5 Drift", "Since scan #1", "5 for the Drift page"))
	s.keys("5")
	screen := s.waitFor("the Drift page", contains("[5 Drift]", "scan #1", "→ scan #2", "elements 3"))
	for _, want := range []string{"+ element  workload:shop/reviews", "~ element  workload:shop/catalog", "- control  "} {
		if !strings.Contains(screen, want) {
			t.Errorf("the Drift page lacks %q:\n%s", want, screen)
		}
	}
	s.keys("m") // the first row: reviews, added
	s.waitFor("the Map on reviews", contains("[2 Map]", "reviews  process · Deployment"))
	s.quit()
}

// TestTUISuggestedPolicyUnderTmux: in a real terminal, the Map's detail
// of a demo workload ends with the NetworkPolicy suggested for it: the
// rules, each with the flow it allows.
func TestTUISuggestedPolicyUnderTmux(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	s := startTUI(t, c)
	s.waitFor("the Overview", contains("[1 Overview]", "2 Map"))
	s.keys("2")
	s.waitFor("the Map", contains("[2 Map]", "Elements"))
	s.keys("/")
	s.text("checkout")
	s.keys("Enter")
	s.waitFor("checkout's detail", contains("checkout  process · Deployment", "Flows  1 in · 4 out"))
	s.keys("Enter", "G") // into the flows, then to the end of the pane
	screen := s.waitFor("checkout's suggested policy", contains("Suggested NetworkPolicy  stridemap-checkout"))
	for _, want := range []string{
		"selects app.kubernetes.io/name=checkout",
		"ingress from pods app.kubernetes.io/name=api-gateway on TCP 8080",
		"← workload:shop/api-gateway->workload:shop/checkout:8080",
		"egress to pods app.kubernetes.io/name=inventory on TCP grpc",
		"→ workload:shop/checkout->workload:shop/inventory:9090",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal lacks %q:\n%s", want, screen)
		}
	}
	s.quit()
}
