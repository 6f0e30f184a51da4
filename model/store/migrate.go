package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"modernc.org/sqlite"
)

// applicationID marks a SQLite file as a stridemap store ("STRM"), so Open
// can refuse some other program's database instead of adding tables to it.
const applicationID = 0x5354524D

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered schema step: migrations/NNNN_what.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded migrations in order. It fails if the
// numbering has a gap or a duplicate, which is a build mistake, not a user
// one.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries { // ReadDir sorts by name, and names start with a zero-padded number
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", e.Name(), len(ms)+1)
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return ms, nil
}

// ErrNeedsMigration is returned by OpenExisting for a store an older
// stridemap wrote: reading never changes the file, so a command that
// writes (stridemap store migrate, or a scan) must upgrade it first.
var ErrNeedsMigration = errors.New("store needs migrating")

// ErrDamaged is returned for a store SQLite finds corrupt: nothing is
// written into it. Check says what is wrong and Recover copies what can
// still be read.
var ErrDamaged = errors.New("store is damaged")

// migrate brings the schema up to date in one immediate transaction, so
// two stridemap processes opening a new store at once cannot both apply a
// migration, and a failed migration leaves the previous schema in place.
// An up-to-date schema is checked in a read transaction first, so opening
// the writer does not wait for another process's write to end.
func (s *Store) migrate(ctx context.Context, w *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("open store %s: embedded migrations: %w", s.path, err)
	}
	v, err := s.schemaVersion(ctx, w)
	if err != nil {
		return err
	} else if v == len(ms) {
		return nil
	}
	// Migrations that regroup rows (0009, 0010) go through temporary
	// tables and sorts over every scan, which the writer's
	// temp_store=MEMORY (see dsn) would hold in memory: a long history
	// gets a file instead, on the one connection the migration uses.
	conn, err := w.Conn(ctx)
	if err != nil {
		return s.openErr(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA temp_store = FILE"); err != nil {
		return s.openErr(err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA temp_store = MEMORY")
	if v == 0 {
		// Only a new file can take incremental auto-vacuum without a
		// VACUUM: it lets Prune hand space back without rewriting the
		// file. SQLite ignores the setting inside a transaction.
		if _, err := conn.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
			return s.openErr(err)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return s.openErr(err)
	}
	defer tx.Rollback()
	version, tables, err := s.schemaOf(ctx, tx, len(ms))
	if err != nil {
		return err
	}
	if version == len(ms) {
		return nil // another process migrated it meanwhile
	}
	if tables > 0 && s.upgrading != nil {
		s.upgrading(version, len(ms))
	}
	for _, m := range ms[version:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("open store %s: apply migration %s: %w", s.path, m.name, err)
		}
	}
	// PRAGMA takes no parameters; both values are integers we control.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(ms))); err != nil {
		return s.openErr(err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return s.openErr(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("open store %s: commit schema migration: %w", s.path, err)
	}
	return nil
}

// schemaVersion reads the schema version in a read transaction, refusing
// files that are not stridemap stores or that a newer stridemap wrote.
func (s *Store) schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	ms, err := migrations()
	if err != nil {
		return 0, fmt.Errorf("open store %s: embedded migrations: %w", s.path, err)
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, s.openErr(err)
	}
	defer tx.Rollback()
	version, _, err := s.schemaOf(ctx, tx, len(ms))
	return version, err
}

// schemaOf reads the schema version and the number of schema objects,
// refusing what is not a stridemap store or is newer than this build.
func (s *Store) schemaOf(ctx context.Context, tx *sql.Tx, known int) (version, tables int, err error) {
	var appID int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, 0, s.openErr(err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return 0, 0, s.openErr(err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return 0, 0, s.openErr(err)
	}
	switch {
	case appID != applicationID && (appID != 0 || version != 0 || tables != 0):
		return 0, 0, fmt.Errorf("open store %s: this SQLite file is not a stridemap store; pass another file with --db", s.path)
	case version > known:
		return 0, 0, fmt.Errorf("open store %s: database was written by a newer stridemap (schema %d, this build knows %d); upgrade stridemap or use another --db", s.path, version, known)
	}
	return version, tables, nil
}

// checkSchema is what a reader asks: the file is a stridemap store of this
// build's schema. An empty file holds no scans; an older schema needs a
// command that may write to migrate it.
func (s *Store) checkSchema(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("open store %s: embedded migrations: %w", s.path, err)
	}
	version, err := s.schemaVersion(ctx, s.r)
	switch {
	case err != nil:
		return err
	case version == 0:
		return fmt.Errorf("store %s is empty: %w", s.path, ErrNoScans)
	case version < len(ms):
		return fmt.Errorf("open store %s: %w: an older stridemap wrote it (schema %d, this build reads %d); upgrade it with stridemap store migrate --db %s (a scan into it upgrades it too); reading never changes it",
			s.path, ErrNeedsMigration, version, len(ms), s.path)
	}
	return nil
}

// quickCheck runs SQLite's quick integrity check before the first write
// into an existing store: a scan written into a damaged file could be
// lost with it, or make the damage worse.
func (s *Store) quickCheck(ctx context.Context, w *sql.DB) error {
	var first string
	err := w.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&first)
	if err == nil && first == "ok" {
		return nil
	}
	if err != nil && !damaged(err) {
		return s.openErr(err)
	}
	if err != nil {
		first = err.Error()
	}
	return s.damagedErr(first)
}

func (s *Store) damagedErr(detail string) error {
	return fmt.Errorf("store %s: %w (%s): nothing was written to it; see what is wrong with stridemap store check --db %s, and copy every scan that can still be read into a new store with stridemap store recover --db %s -o NEW.db",
		s.path, ErrDamaged, oneLine(detail, 200), s.path, s.path)
}

// SQLite's primary result codes that call for their own advice.
const (
	sqliteBusy     = 5
	sqliteLocked   = 6
	sqliteReadOnly = 8
	sqliteCorrupt  = 11
	sqliteCantOpen = 14
	sqliteNotADB   = 26
)

// sqliteCode is the primary result code of a SQLite error, 0 for others.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

func damaged(err error) bool {
	c := sqliteCode(err)
	return c == sqliteCorrupt || c == sqliteNotADB
}

// openErr wraps a failure to open or read the file with the advice that
// fits SQLite's reason.
func (s *Store) openErr(err error) error {
	switch code := sqliteCode(err); {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("open store %s: %w", s.path, err)
	case code == sqliteBusy || code == sqliteLocked:
		return fmt.Errorf("open store %s: %w; another stridemap is writing to it: try again when it has finished", s.path, err)
	case code == sqliteReadOnly:
		return fmt.Errorf("open store %s: %w; the file or its directory is read-only: pass a writable file with --db", s.path, err)
	case damaged(err):
		return s.damagedErr(err.Error())
	case code == sqliteCantOpen:
		return fmt.Errorf("open store %s: %w; check that the file and its directory exist and are readable, or pass another --db", s.path, err)
	}
	return fmt.Errorf("open store %s: %w; check that it is a stridemap database, or pass another --db", s.path, err)
}
