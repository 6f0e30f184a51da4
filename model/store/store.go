package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

// DefaultPath is where the store lives when the user names none: next to
// the manifests being scanned, so history travels with the repository.
const DefaultPath = ".stridemap/stridemap.db"

// ErrNoScans is returned when a command needs a scan and the store has none.
// Callers test for it with errors.Is; the wrapped error tells the user to run
// a scan first.
var ErrNoScans = errors.New("no scans in the store")

// ErrNoStore is returned by OpenExisting when there is no store at the
// path: commands that only read say so instead of creating an empty one.
var ErrNoStore = errors.New("no store")

// ErrReadOnly is returned when a command that writes meets a store it may
// not write: a read-only file, directory or medium.
var ErrReadOnly = errors.New("cannot write the store")

// ErrScanNotFound is returned when a scan ID names no scan in the store.
var ErrScanNotFound = errors.New("scan not found")

// readers bounds the reader pool: enough for the TUI and an export to read
// at once, few enough that a busy reader cannot starve the machine.
const readers = 4

// Store is one SQLite file holding every scan. It is safe for concurrent
// use: writes go through a single connection in immediate transactions, so
// they never deadlock on lock upgrades; reads use a small pool of
// read-only connections and, thanks to WAL, see the last committed scan
// while a write is in progress.
//
// The writer connection is opened on the first write: a command that only
// reads never takes the write lock, never migrates the schema, and works on
// a read-only file or directory beside any number of other readers and one
// writer.
type Store struct {
	path string // as given, for messages
	abs  string
	r    *sql.DB // up to readers connections, mode=ro and query_only

	wMu sync.Mutex
	w   *sql.DB // exactly one connection, for every write; nil until the first

	// hook, when set (by tests), runs inside SaveScan's transaction after
	// each table is written, with the table's name.
	hook func(table string)

	upgrading func(from, to int) // see OnUpgrade
}

// Option changes how Open opens a store.
type Option func(*Store)

// OnUpgrade has fn told, before the schema of a store an older stridemap
// wrote is brought up to date, from which version to which: some
// migrations rewrite every scan in the history, seconds for each large
// one, so a command can say why it waits. A new store is not an upgrade.
func OnUpgrade(fn func(from, to int)) Option {
	return func(s *Store) { s.upgrading = fn }
}

// Open opens the store at path for a command that writes, creating the
// file and its parent directory if needed and bringing the schema up to
// date. An empty path means DefaultPath. It refuses a file written by a
// newer stridemap, a SQLite file that is not a stridemap store, and a
// store that fails SQLite's quick integrity check: nothing is written into
// a damaged store (see Check and Recover).
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	s, err := newStore(path)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(s)
	}
	if err := os.MkdirAll(filepath.Dir(s.abs), 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: create its directory: %w; pass a writable location with --db", s.path, err)
	}
	if _, err := s.writer(ctx); err != nil {
		return nil, err
	}
	if err := s.openReaders(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenExisting opens the store at path for reading, only if the file
// exists: commands that only read must not leave an empty store (and its
// directory) behind where none was. A missing file gives an error that is
// ErrNoStore (and ErrNoScans) and names the absolute path looked for. The
// schema is checked, never changed: a store an older stridemap wrote gives
// ErrNeedsMigration. A write through the returned Store (a triage
// decision, a prune) opens the writer then, as Open would.
func OpenExisting(ctx context.Context, path string) (*Store, error) {
	s, err := newStore(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(s.abs); errors.Is(err, fs.ErrNotExist) {
		return nil, &noStoreError{path: s.abs}
	}
	if err := s.openReaders(ctx); err != nil {
		return nil, err
	}
	if err := s.checkSchema(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func newStore(path string) (*Store, error) {
	if path == "" {
		path = DefaultPath
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if info, err := os.Stat(abs); err == nil && info.IsDir() {
		return nil, fmt.Errorf("open store %s: it is a directory; pass a file path with --db, e.g. %s", path, filepath.Join(path, "stridemap.db"))
	}
	registerContentKeyFunc()
	return &Store{path: path, abs: abs}, nil
}

// noStoreError is OpenExisting's error for a missing store. It is both
// ErrNoStore and ErrNoScans (a store that is not there holds no scans), so
// a caller that only asks for a scan needs no case of its own.
type noStoreError struct{ path string }

func (e *noStoreError) Error() string { return fmt.Sprintf("%v at %s", ErrNoStore, e.path) }

func (e *noStoreError) Is(target error) bool { return target == ErrNoStore || target == ErrNoScans }

// openReaders opens the read-only pool. A WAL reader needs the -shm
// index beside the file: in a directory it may not write, SQLite cannot
// create it, and beside a file it may not write, it would create -shm and
// -wal files owned by this user that the file's owner could then not
// write. Both are opened immutable instead, which is sound while no one
// writes the file: no one can in a read-only directory, and a writer keeps
// a -wal file beside it for as long as it writes, which a reader of a
// read-only file then reads through as usual.
func (s *Store) openReaders(ctx context.Context) error {
	mode := readOnlyMode
	if _, err := os.Stat(s.abs + "-wal"); !writable(s.abs) && errors.Is(err, fs.ErrNotExist) {
		mode = immutableMode
	}
	r, err := openPool(ctx, s.abs, mode)
	if err != nil && mode == readOnlyMode && !writable(filepath.Dir(s.abs)) {
		r, err = openPool(ctx, s.abs, immutableMode)
	}
	if err != nil {
		return s.openErr(err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	s.r = r
	return nil
}

// openPool opens and pings a reader pool in mode.
func openPool(ctx context.Context, abs string, mode int) (*sql.DB, error) {
	r, err := sql.Open("sqlite", dsn(abs, mode))
	if err != nil {
		return nil, err
	}
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// writer returns the write connection, opening it on first use: it
// refuses a file or directory it may not write to, a damaged store, and
// migrates the schema.
func (s *Store) writer(ctx context.Context) (*sql.DB, error) {
	s.wMu.Lock()
	defer s.wMu.Unlock()
	if s.w != nil {
		return s.w, nil
	}
	if err := checkWritable(s.path, s.abs); err != nil {
		return nil, err
	}
	existing := false
	if info, err := os.Stat(s.abs); err == nil {
		existing = info.Size() > 0
	}
	w, err := sql.Open("sqlite", dsn(s.abs, readWriteMode))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", s.path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if existing {
		if err := s.quickCheck(ctx, w); err != nil {
			w.Close()
			return nil, err
		}
	}
	if err := s.migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	// WAL is set here, once the file is known to be ours, rather than in the
	// DSN, which would convert any SQLite file Open is pointed at before the
	// checks in migrate could refuse it. The mode is stored in the file.
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		w.Close()
		return nil, s.openErr(err)
	}
	if mode != "wal" {
		w.Close()
		return nil, fmt.Errorf("open store %s: cannot use WAL mode (got %q); put the store on a local file system with --db", s.path, mode)
	}
	s.w = w
	return w, nil
}

// CheckWritable says, without opening it, whether a command could write
// the store at path: the file, if it exists, and its directory (or the
// nearest one that exists, where Open would create the rest) must be
// writable. A scan asks before its work, not after.
func CheckWritable(path string) error {
	if path == "" {
		path = DefaultPath
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	return checkWritable(path, abs)
}

func checkWritable(path, abs string) error {
	if _, err := os.Stat(abs); err == nil && !writable(abs) {
		return fmt.Errorf("store %s: %w: the file is read-only to this user; this command writes to it, so pass a writable file with --db", path, ErrReadOnly)
	}
	dir := filepath.Dir(abs)
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	if !writable(dir) {
		return fmt.Errorf("store %s: %w: directory %s is read-only, and SQLite keeps its write-ahead log beside the file; this command writes to it, so pass a file in a writable directory with --db", path, ErrReadOnly, dir)
	}
	return nil
}

// writable reports whether this process may write path. Read-only media
// say so even to root.
func writable(path string) bool {
	return unix.Access(path, unix.W_OK) == nil
}

// Connection modes of dsn.
const (
	readWriteMode = iota
	readOnlyMode
	immutableMode
)

// dsn builds the modernc.org/sqlite data source name for the file at abs.
// The file: URI form lets any path through (percent-encoded), including
// ones containing '?' or '#'. The writer begins transactions IMMEDIATE so
// it takes the write lock up front instead of failing on an upgrade;
// readers open the file read-only and get query_only too, so a bug can
// never write through them. The writer keeps temporary data in memory:
// each multi-row INSERT of a save keeps a statement journal of the pages
// it changes, which as a file cost a write system call per page (three
// quarters of a first save's writes), for journals of a few hundred
// kilobytes at most.
func dsn(abs string, mode int) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	switch mode {
	case readOnlyMode:
		q = "mode=ro&" + q + "&_pragma=query_only(1)"
	case immutableMode:
		q = "mode=ro&immutable=1&" + q + "&_pragma=query_only(1)"
	default:
		// A new file gets pages of 16 KiB rather than SQLite's 4 KiB: a
		// row of an element's findings or controls is 1-3 KB, which left
		// a third of each small page empty, and a scan's rows span a
		// quarter as many pages to write and balance. At 500 copies of
		// Online Boutique the scan takes 3-4% less CPU and its file is a
		// fifth smaller. A file that exists keeps the size it has.
		q += "&_txlock=immediate&_pragma=temp_store(2)&_pragma=page_size(16384)"
	}
	// url.URL renders "file:///abs"; SQLite reads that as the path /abs.
	return u.String() + "?" + q
}

// Close closes both connection pools. Readers close first so the writer's
// connection is the last one and checkpoints the WAL into the main file.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	s.wMu.Lock()
	defer s.wMu.Unlock()
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// Path is the store's file path as it was given to Open, for messages.
func (s *Store) Path() string { return s.path }
