//go:build unix

package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobody is the user a root test runs the stridemap binary as, since root
// may write any file whatever its mode.
const nobody = 65534

// TestScanIntoReadOnlyStore: a scan that could not save into its store
// says so before it reads any input, as a user without write access would
// see it, and leaves the store as it was, with no -wal or -shm file of
// that user beside it; reading the store still works.
func TestScanIntoReadOnlyStore(t *testing.T) {
	dir, err := os.MkdirTemp("", "stridemap-readonly-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Chmod(dir, 0o755)
		os.RemoveAll(dir)
	})
	bin := filepath.Join(dir, "stridemap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name            string
		dirMode, dbMode os.FileMode
		want            string
	}{
		{"read-only file", 0o777, 0o444, "cannot write the store: the file is read-only to this user"},
		{"read-only directory", 0o555, 0o666, "cannot write the store: directory "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storeDir := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			c := &cli{t: t, db: filepath.Join(storeDir, "stridemap.db")}
			c.mustRun("scan", "-f", demoDir)
			before := sha256File(t, c.db)
			if err := os.Chmod(c.db, tc.dbMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(storeDir, tc.dirMode); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(storeDir, 0o755)

			// The input never ends: a scan that read it before checking the
			// store would wait until it is killed.
			input, feed, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer feed.Close()
			scan := unprivileged(bin, "--db", c.db, "scan", "-f", "-")
			scan.Stdin = input
			var stderr bytes.Buffer
			scan.Stderr = &stderr
			if err := scan.Start(); err != nil {
				t.Fatal(err)
			}
			input.Close()
			ended := make(chan error, 1)
			go func() { ended <- scan.Wait() }()
			select {
			case err = <-ended:
			case <-time.After(time.Minute):
				scan.Process.Kill()
				<-ended
				t.Fatalf("the scan was still running after a minute: it waited for its input instead of refusing the read-only store\n%s", stderr.String())
			}
			var exit *exec.ExitError
			if err == nil || !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
				t.Errorf("scan into a %s: %v, want exit %d", tc.name, err, exitUsage)
			}
			msg := stderr.String()
			for _, want := range []string{c.db, tc.want, "--db"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
			if n := strings.Count(strings.TrimSpace(msg), "\n"); n > 0 {
				t.Errorf("error is %d lines, want one:\n%s", n+1, msg)
			}

			list, err := unprivileged(bin, "--db", c.db, "scans").CombinedOutput()
			if err != nil || !strings.Contains(string(list), "complete") {
				t.Errorf("scans of the read-only store: %v\n%s", err, list)
			}
			if sha256File(t, c.db) != before {
				t.Error("the store file changed")
			}
			for _, suffix := range []string{"-wal", "-shm"} {
				if _, err := os.Stat(c.db + suffix); err == nil {
					t.Errorf("%s was left beside the store", filepath.Base(c.db+suffix))
				}
			}
		})
	}
}

// unprivileged runs the binary as nobody when the test runs as root, and
// as the test's own user otherwise (whom file modes already bind).
func unprivileged(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Dir(bin))
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	return cmd
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}
