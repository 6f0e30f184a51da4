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

// ErrScanNotFound is returned when a scan ID names no scan in the store.
var ErrScanNotFound = errors.New("scan not found")

// readers bounds the reader pool: enough for the TUI and an export to read
// at once, few enough that a busy reader cannot starve the machine.
const readers = 4

// Store is one SQLite file holding every scan. It is safe for concurrent
// use: writes go through a single connection in immediate transactions, so
// they never deadlock on lock upgrades; reads use a small pool and, thanks
// to WAL, see the last committed scan while a write is in progress.
type Store struct {
	path string
	w    *sql.DB // exactly one connection, for every write
	r    *sql.DB // up to readers connections, query_only

	// hook, when set (by tests), runs inside SaveScan's transaction after
	// each table is written, with the table's name.
	hook func(table string)
}

// Open opens the store at path, creating the file and its parent directory
// if needed and bringing the schema up to date. An empty path means
// DefaultPath. It refuses a file written by a newer stridemap, or a SQLite
// file that is not a stridemap store.
func Open(ctx context.Context, path string) (*Store, error) {
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
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: create its directory: %w; pass a writable location with --db", path, err)
	}

	registerContentKeyFunc()
	s := &Store{path: path}
	s.w, err = sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, err
	}
	// WAL is set here, once the file is known to be ours, rather than in the
	// DSN, which would convert any SQLite file Open is pointed at before the
	// checks in migrate could refuse it. The mode is stored in the file.
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		s.w.Close()
		return nil, s.openErr(err)
	}
	if mode != "wal" {
		s.w.Close()
		return nil, fmt.Errorf("open store %s: cannot use WAL mode (got %q); put the store on a local file system with --db", path, mode)
	}

	s.r, err = sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s for reading: %w", path, err)
	}
	return s, nil
}

// OpenExisting opens the store at path like Open, but only if the file
// exists: commands that only read must not leave an empty store (and its
// directory) behind where none was. A missing file gives an error that is
// ErrNoStore (and ErrNoScans) and names the absolute path looked for.
func OpenExisting(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		path = DefaultPath
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		abs, absErr := filepath.Abs(path)
		if absErr != nil {
			abs = path
		}
		return nil, &noStoreError{path: abs}
	}
	return Open(ctx, path)
}

// noStoreError is OpenExisting's error for a missing store. It is both
// ErrNoStore and ErrNoScans (a store that is not there holds no scans), so
// a caller that only asks for a scan needs no case of its own.
type noStoreError struct{ path string }

func (e *noStoreError) Error() string { return fmt.Sprintf("%v at %s", ErrNoStore, e.path) }

func (e *noStoreError) Is(target error) bool { return target == ErrNoStore || target == ErrNoScans }

// dsn builds the modernc.org/sqlite data source name for the file at abs.
// The file: URI form lets any path through (percent-encoded), including
// ones containing '?' or '#'. The writer begins transactions IMMEDIATE so
// it takes the write lock up front instead of failing on an upgrade;
// readers get query_only so a bug can never write through them.
func dsn(abs string, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	if readOnly {
		q += "&_pragma=query_only(1)"
	} else {
		q += "&_txlock=immediate"
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
