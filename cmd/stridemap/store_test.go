package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreCommands: check a sound store, damage it, see a scan refused
// with the file untouched, recover it into a sound store that the other
// commands read, and migrate.
func TestStoreCommands(t *testing.T) {
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	c.mustRun("scan", "-f", demoDir)
	if r := c.mustRun("store", "check"); !strings.Contains(r.stdout, "is sound: 2 scans") {
		t.Errorf("store check of a sound store:\n%s", r.stdout)
	}
	if r := c.mustRun("store", "migrate"); !strings.Contains(r.stdout, "up to date") || r.stderr != "" {
		t.Errorf("store migrate of an up-to-date store:\n%s%s", r.stdout, r.stderr)
	}
	downgradeToSchema6(t, c.db)
	if r := c.mustRun("store", "migrate"); !strings.Contains(r.stdout, "up to date") || !strings.HasPrefix(r.stderr, "upgrading the store "+c.db+" from schema 6 to ") {
		t.Errorf("store migrate of an old store:\n%s%s", r.stdout, r.stderr)
	}

	damage(t, c.db)
	damaged, err := os.ReadFile(c.db)
	if err != nil {
		t.Fatal(err)
	}
	r := c.run("", "store", "check")
	if r.code != exitDamaged || !strings.Contains(r.stdout, "is damaged") || !strings.Contains(r.stderr, "store recover") {
		t.Errorf("store check of a damaged store: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = c.run("", "scan", "-f", demoDir)
	if r.code == 0 || !strings.Contains(r.stderr, "damaged") || !strings.Contains(r.stderr, "nothing was written") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
		t.Errorf("scan into a damaged store: exit %d\nstderr: %s", r.code, r.stderr)
	}
	if now, _ := os.ReadFile(c.db); !bytes.Equal(now, damaged) {
		t.Error("the refused scan changed the damaged store")
	}

	if r := c.run("", "store", "recover"); r.code != exitUsage || !strings.Contains(r.stderr, "-o NEW.db") {
		t.Errorf("store recover without -o: exit %d, %s", r.code, r.stderr)
	}
	recovered := filepath.Join(t.TempDir(), "recovered.db")
	r = c.run("", "store", "recover", "-o", recovered)
	if r.code != 0 && r.code != exitDamaged || !strings.Contains(r.stdout, "Copied 2 scans") {
		t.Fatalf("store recover: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if r := c.run("", "store", "recover", "-o", recovered); r.code == 0 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("store recover over an existing file: exit %d, %s", r.code, r.stderr)
	}
	good := &cli{t: t, db: recovered}
	if r := good.mustRun("store", "check"); !strings.Contains(r.stdout, "is sound: 2 scans") {
		t.Errorf("store check of the recovered store:\n%s", r.stdout)
	}
	if r := good.mustRun("scans"); strings.Count(r.stdout, "testdata/demo") < 2 {
		t.Errorf("scans of the recovered store:\n%s", r.stdout)
	}
	good.mustRun("scan", "-f", demoDir)

	if r := (&cli{t: t, db: filepath.Join(t.TempDir(), "none.db")}).run("", "store", "migrate"); r.code != exitUsage || !strings.Contains(r.stderr, "nothing to migrate") {
		t.Errorf("store migrate of a missing store: exit %d, %s", r.code, r.stderr)
	}
}

// damage writes garbage over the middle of the file.
func damage(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("garbage!"), 2048), info.Size()/2/4096*4096); err != nil {
		t.Fatal(err)
	}
}
