package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// childEnv makes the test binary, run again, act as one stridemap process
// reading a store (TestStoreChild): read-only access and concurrent
// readers are about separate processes, and root ignores file modes, so a
// read-only store is read by an unprivileged child.
const childEnv = "STRIDEMAP_STORE_TEST_CHILD"

// nobody is the user a root test runs its read-only child as.
const nobody = 65534

// TestStoreChild is not a test of its own: it is the body of a child
// process started by the tests below, and returns at once otherwise.
func TestStoreChild(t *testing.T) {
	mode, arg, ok := strings.Cut(os.Getenv(childEnv), ":")
	if !ok {
		return
	}
	ctx := context.Background()
	switch mode {
	case "read":
		readOnlyChild(t, ctx, arg)
	case "reader-loop":
		path, stop, _ := strings.Cut(arg, ":")
		readerLoopChild(t, ctx, path, stop)
	default:
		t.Fatalf("unknown child mode %q", mode)
	}
}

// readOnlyChild lists and reads the store at path, then checks that a
// write is refused as read-only and changes nothing.
func readOnlyChild(t *testing.T, ctx context.Context, path string) {
	s, err := store.OpenExisting(ctx, path)
	if err != nil {
		t.Fatalf("OpenExisting: %v", err)
	}
	defer s.Close()
	scans, err := s.Scans(ctx)
	if err != nil || len(scans) != 2 {
		t.Fatalf("Scans = %d, %v; want the 2 stored", len(scans), err)
	}
	if g, err := s.Graph(ctx, scans[0].ID); err != nil || len(g.Nodes) == 0 {
		t.Fatalf("Graph = %v, want the stored graph", err)
	}
	if _, err := s.SaveScan(ctx, modeltest.SampleScan(1)); !errors.Is(err, store.ErrReadOnly) || !strings.Contains(err.Error(), "--db") {
		t.Errorf("SaveScan into a read-only store = %v, want ErrReadOnly with advice", err)
	}
	if _, err := store.Open(ctx, path); !errors.Is(err, store.ErrReadOnly) {
		t.Errorf("Open(read-only store) = %v, want ErrReadOnly", err)
	}
}

// readerLoopChild opens, lists and reads the store at path, as a separate
// stridemap command would, until the file stop exists; any failure fails
// the child.
func readerLoopChild(t *testing.T, ctx context.Context, path, stop string) {
	reads := 0
	for {
		if _, err := os.Stat(stop); err == nil && reads > 0 {
			break
		}
		err := func() error {
			s, err := store.OpenExisting(ctx, path)
			if err != nil {
				return err
			}
			defer s.Close()
			id, err := s.LatestScanID(ctx)
			if err != nil {
				return err
			}
			if _, err := s.Scans(ctx); err != nil {
				return err
			}
			_, err = s.Graph(ctx, id)
			return err
		}()
		if err != nil {
			t.Fatalf("read %d: %v", reads+1, err)
		}
		reads++
		// A pause, so eight readers on two cores leave the writer room:
		// the test is about locks, not about starving it.
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("reads %d\n", reads)
}

// runChild runs the test binary again as a child in mode, as uid when
// non-zero (the binary is copied where that user may run it).
func runChild(t *testing.T, uid int, mode string) *exec.Cmd {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if uid != 0 {
		bin = publicCopy(t, bin)
	}
	cmd := exec.Command(bin, "-test.run=^TestStoreChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
		cmd.Dir = filepath.Dir(bin)
	}
	return cmd
}

// publicCopy copies the test binary into a directory anyone may enter.
func publicCopy(t *testing.T, bin string) string {
	t.Helper()
	dir := publicDir(t)
	dst := filepath.Join(dir, "store.test")
	in, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// publicDir is a temporary directory anyone may enter, removed at the end.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "stridemap-store-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Chmod(dir, 0o755)
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// storeWithScans writes a store of two scans at dir/name and closes it.
func storeWithScans(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "stridemap.db")
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, s, modeltest.SampleScan(2))
	mustSave(t, s, modeltest.SampleScan(3))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// A store in a read-only directory, and a read-only store file, can be
// listed and read by a user who may not write them; a write is refused
// with advice, and the file is left as it was, with no -wal or -shm file
// beside it.
func TestReadOnlyStore(t *testing.T) {
	uid := 0
	if os.Geteuid() == 0 {
		uid = nobody
	}
	for _, tc := range []struct {
		name           string
		dirMode, dbMod os.FileMode
	}{
		{"read-only directory", 0o555, 0o644},
		{"read-only file", 0o777, 0o444},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := publicDir(t)
			path := storeWithScans(t, dir)
			before := fileHash(t, path)
			if err := os.Chmod(path, tc.dbMod); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.dirMode); err != nil {
				t.Fatal(err)
			}
			out, err := runChild(t, uid, "read:"+path).CombinedOutput()
			if err != nil {
				t.Fatalf("reader of a %s failed: %v\n%s", tc.name, err, out)
			}
			os.Chmod(dir, 0o755)
			if fileHash(t, path) != before {
				t.Error("reading changed the store file")
			}
			for _, suffix := range []string{"-wal", "-shm"} {
				if _, err := os.Stat(path + suffix); err == nil {
					t.Errorf("reading left %s behind", filepath.Base(path+suffix))
				}
			}
		})
	}
}

// Eight reader processes open, list and read the store again and again
// while it is opened for writing, scans of 150 namespaces are saved and it
// is closed (its final checkpoint), twice: no read fails.
func TestReadersBesideWriter(t *testing.T) {
	dir := t.TempDir()
	path := storeWithScans(t, dir)
	stop := filepath.Join(dir, "stop")
	var children []*exec.Cmd
	var outputs []*bytes.Buffer
	for range 8 {
		cmd := runChild(t, 0, "reader-loop:"+path+":"+stop)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, cmd)
		outputs = append(outputs, &out)
	}
	ctx := context.Background()
	big := modeltest.SampleScan(150)
	for range 2 {
		w, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		mustSave(t, w, big)
		mustSave(t, w, big)
		if err := w.Close(); err != nil { // the checkpoint readers met
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // let readers meet the closed store too
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, cmd := range children {
		err := cmd.Wait()
		out := outputs[i].String()
		if err != nil {
			t.Errorf("reader %d failed: %v\n%s", i, err, out)
			continue
		}
		var n int
		if _, err := fmt.Sscanf(out[strings.Index(out, "reads "):], "reads %d", &n); err != nil {
			t.Errorf("reader %d printed %q", i, out)
		}
		total += n
	}
	t.Logf("%d reads by 8 processes beside 4 saves and 2 checkpoints, none failed", total)
}

// corrupt writes garbage over the middle of the file, as a failing disk
// or a careless copy would.
func corrupt(t *testing.T, path string) {
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
	garbage := bytes.Repeat([]byte("garbage!"), 4096/8*4)
	if _, err := f.WriteAt(garbage, info.Size()/2/4096*4096); err != nil {
		t.Fatal(err)
	}
}

// A damaged store is refused for writing with advice, and nothing is
// written; Check names the damage; Recover copies every scan that can be
// read into a new store that is sound, with the same IDs.
func TestDamagedStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "stridemap.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		mustSave(t, s, modeltest.SampleScan(20+i))
	}
	if err := s.AddTriage(ctx, store.Decision{Subject: "rule@workload:ns/a", Status: "accepted", Reason: "why", Who: "me"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetKept(ctx, 2, true); err != nil {
		t.Fatal(err)
	}
	s.Close()
	corrupt(t, path)
	damagedHash := fileHash(t, path)

	_, err = store.Open(ctx, path)
	if !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), "store recover") || !strings.Contains(err.Error(), "nothing was written") {
		t.Errorf("Open(damaged) = %v, want ErrDamaged with the recover advice", err)
	}
	if fileHash(t, path) != damagedHash {
		t.Error("opening the damaged store for writing changed it")
	}

	s, err = store.OpenExisting(ctx, path)
	if err != nil {
		t.Fatalf("OpenExisting(damaged) = %v; the schema is intact, so it should open for reading", err)
	}
	defer s.Close()
	if _, err := s.SaveScan(ctx, modeltest.SampleScan(1)); !errors.Is(err, store.ErrDamaged) {
		t.Errorf("SaveScan into a damaged store = %v, want ErrDamaged", err)
	}
	check, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if check.OK() || len(check.Integrity) == 0 {
		t.Errorf("Check = %+v, want the integrity problems", check)
	}
	if len(check.Scans) != 6 {
		t.Errorf("Check lists %d scans, want 6", len(check.Scans))
	}

	dst := filepath.Join(dir, "recovered.db")
	res, err := s.Recover(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Copied)+len(res.Lost) != 6 || len(res.Copied) == 0 {
		t.Errorf("Recover copied %v and lost %v; want all 6 accounted for, some copied", res.Copied, res.Lost)
	}
	for id := range check.Unreadable {
		if _, lost := res.Lost[id]; !lost && !slices.Contains(res.Incomplete, id) {
			t.Errorf("scan %d is unreadable but Recover calls it whole", id)
		}
	}
	if _, err := s.Recover(ctx, dst); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("Recover over an existing file = %v, want a refusal", err)
	}

	r, err := store.OpenExisting(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rc, err := r.Check(ctx)
	if err != nil || !rc.OK() {
		t.Fatalf("Check(recovered) = %+v, %v; want a sound store", rc, err)
	}
	salvaged := 0
	for _, id := range res.Copied {
		got, err := r.Graph(ctx, id)
		if err != nil {
			t.Fatalf("recovered scan %d: %v", id, err)
		}
		salvaged += len(got.Nodes)
		info, err := r.Scan(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(res.Incomplete, id) {
			problems, err := r.Problems(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !info.Partial || !slices.ContainsFunc(problems, func(p discover.Problem) bool { return p.Code == "store-recovered" }) {
				t.Errorf("incomplete recovered scan %d: partial %v, problems %v; want it partial, saying what was lost", id, info.Partial, problems)
			}
			continue
		}
		want, err := s.Graph(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffGraph(want, got); d != "" {
			t.Errorf("recovered scan %d differs: %s", id, d)
		}
	}
	if salvaged == 0 {
		t.Error("no node of any scan was recovered")
	}
	t.Logf("recovered %d scans (%d incomplete), lost %d; %d nodes", len(res.Copied), len(res.Incomplete), len(res.Lost), salvaged)
	if info, err := r.Scan(ctx, 2); err == nil && !info.Kept {
		t.Error("recovered scan 2 lost its pin")
	}
	if tr, err := r.Triage(ctx); err != nil || tr["rule@workload:ns/a"].Status != "accepted" {
		t.Errorf("recovered triage = %v, %v", tr, err)
	}
	next := mustSave(t, r, modeltest.SampleScan(1))
	if next != 7 {
		t.Errorf("the next scan saved into the recovered store got ID %d, want 7: IDs are never reused", next)
	}
}

// A store an older stridemap wrote is not migrated by a reader: it says
// so and names the command that will; Open (a scan) migrates it.
func TestReaderDoesNotMigrate(t *testing.T) {
	ctx := context.Background()
	path := storeWithScans(t, t.TempDir())
	db := rawDB(t, path)
	if _, err := db.Exec("PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := fileHash(t, path)
	_, err := store.OpenExisting(ctx, path)
	if !errors.Is(err, store.ErrNeedsMigration) || !strings.Contains(err.Error(), "stridemap store migrate") {
		t.Errorf("OpenExisting(old schema) = %v, want ErrNeedsMigration naming stridemap store migrate", err)
	}
	if fileHash(t, path) != before {
		t.Error("a reader changed the store")
	}
}
