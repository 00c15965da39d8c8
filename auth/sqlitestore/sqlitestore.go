// Package sqlitestore is an scs/v2 session store kept in a SQLite file, so
// that sessions survive restarts of the server.
//
// It uses the pure-Go driver modernc.org/sqlite (no cgo). The database runs
// in WAL mode with a busy timeout, so readers never wait for writers and
// several processes may have the file open at the same time, which happens
// when a development server restarts on a code change: the old and the new
// process both use the file for a moment.
//
// Inside one process writes go through a single connection (queued by
// database/sql instead of polling SQLite's busy handler) and reads through a
// small pool of read-only connections. Between processes SQLite's file locks
// and the busy timeout serialise writers.
//
// Expiry times are stored as Unix nanoseconds and compared in SQL against the
// current time, so an expired session is never returned, even before the
// background cleanup has removed it.
//
// Errors never contain session tokens or session data; they name the
// database file and, for problems with the file itself (not a database,
// read-only, locked), say what to do about it.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Compile-time checks that Store satisfies every scs store interface it
// claims to.
var (
	_ scs.Store            = (*Store)(nil)
	_ scs.CtxStore         = (*Store)(nil)
	_ scs.IterableStore    = (*Store)(nil)
	_ scs.IterableCtxStore = (*Store)(nil)
)

const (
	// defaultCleanupInterval is used when Open is given a cleanup interval
	// of zero.
	defaultCleanupInterval = 5 * time.Minute

	// defaultBusyTimeout is how long a statement waits for a lock held by
	// another connection (usually another process) before it fails with
	// "database is locked".
	defaultBusyTimeout = 5 * time.Second

	// cleanupBatch is the number of expired rows one cleanup statement
	// deletes, so that a large backlog never holds the write lock for long.
	cleanupBatch = 1000

	// sqliteMagic is the first 16 bytes of every SQLite 3 database file.
	sqliteMagic = "SQLite format 3\x00"

	// The hint appended to errors about an unusable file.
	hintMoveAside = "move it aside or set SESSION_STORE to another file"
)

// Store is an scs session store backed by a SQLite file. It is safe for
// concurrent use. Create it with Open and release it with Close.
type Store struct {
	path        string        // absolute path of the database file
	busyTimeout time.Duration // as configured on every connection
	now         func() time.Time

	wdb *sql.DB // writes: exactly one connection
	rdb *sql.DB // reads: a small pool of query-only connections

	// Prepared statements; find and all run on rdb, the others on wdb.
	findStmt, allStmt, commitStmt, deleteStmt, expireStmt, touchStmt *sql.Stmt

	stopCleanup context.CancelFunc // nil when no cleanup goroutine runs
	cleanupDone chan struct{}      // closed when the cleanup goroutine returns

	closeOnce sync.Once
	closeErr  error
}

// config holds the knobs Open fixes and tests may change.
type config struct {
	busyTimeout time.Duration
	now         func() time.Time
	// newTicker starts the cleanup clock; stop releases it.
	newTicker func(d time.Duration) (ticks <-chan time.Time, stop func())
	// onCleanup, if set, is called after every background cleanup run.
	onCleanup func(removed int64, err error)
}

func defaultConfig() config {
	return config{
		busyTimeout: defaultBusyTimeout,
		now:         time.Now,
		newTicker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
	}
}

// Open opens the SQLite database at path, creating the file (readable by
// its owner only) and its parent folder (mode 0700) if they are missing.
// It switches the database to WAL mode, creates the sessions table if
// needed, checks that the file is writable, and then, unless
// cleanupInterval is negative, removes expired sessions in the background
// every cleanupInterval (5 minutes when cleanupInterval is 0).
//
// Open never modifies a file that is not a SQLite database; it returns an
// error naming the file and what to do instead. Errors also name the file
// when it is a directory, read-only, or locked by another process for longer
// than the busy timeout.
func Open(path string, cleanupInterval time.Duration) (*Store, error) {
	return open(path, cleanupInterval, defaultConfig())
}

func open(path string, cleanupInterval time.Duration, cfg config) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlitestore: open: empty path: set SESSION_STORE to a file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if err := prepareFile(abs); err != nil {
		return nil, err
	}

	s := &Store{path: abs, busyTimeout: cfg.busyTimeout, now: cfg.now}
	if s.wdb, err = sql.Open("sqlite", dsn(abs, cfg.busyTimeout, false)); err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)

	if s.rdb, err = sql.Open("sqlite", dsn(abs, cfg.busyTimeout, true)); err != nil {
		_ = s.wdb.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.rdb.SetMaxOpenConns(readers)
	s.rdb.SetMaxIdleConns(readers)
	s.rdb.SetConnMaxLifetime(0)
	s.rdb.SetConnMaxIdleTime(time.Minute)

	if err := s.init(context.Background()); err != nil {
		_ = s.closeDB()
		return nil, err
	}
	if err := s.prepare(context.Background()); err != nil {
		_ = s.closeDB()
		return nil, err
	}

	if cleanupInterval >= 0 {
		if cleanupInterval == 0 {
			cleanupInterval = defaultCleanupInterval
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.stopCleanup = cancel
		s.cleanupDone = make(chan struct{})
		ticks, stop := cfg.newTicker(cleanupInterval)
		go s.cleanupLoop(ctx, ticks, stop, cfg.onCleanup)
	}
	return s, nil
}

// prepareFile makes sure path can be handed to SQLite: its folder exists, it
// is not a directory, and it is either missing (then it is created empty,
// mode 0600, which SQLite treats as a new database) or starts with the SQLite
// header. A file that is not a database is never opened by SQLite, so it
// cannot be modified.
func prepareFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sqlitestore: open %s: cannot create its folder %s: %w", path, dir, err)
	}

	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		// Freshly created and empty: an empty file is an empty database.
		if err := f.Close(); err != nil {
			return fmt.Errorf("sqlitestore: open %s: %w", path, err)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("sqlitestore: open %s: cannot create the file, its folder is read-only: make %s writable or set SESSION_STORE to another file: %w", path, dir, err)
		}
		return fmt.Errorf("sqlitestore: open %s: cannot create the file: %w", path, err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("sqlitestore: open %s: is a directory, not a file: set SESSION_STORE to a file path", path)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("sqlitestore: open %s: is not a regular file (%s): %s", path, fi.Mode().Type(), hintMoveAside)
	}

	f, err = os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("sqlitestore: open %s: the file cannot be read: make it readable and writable by this process or set SESSION_STORE to another file: %w", path, err)
		}
		return fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0 && (errors.Is(err, io.EOF)):
		return nil // empty file: an empty database
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("sqlitestore: open %s: read header: %w", path, err)
	case string(head[:n]) != sqliteMagic:
		return fmt.Errorf("sqlitestore: %s is not a SQLite database (its header is not %q): %s", path, strings.TrimSuffix(sqliteMagic, "\x00"), hintMoveAside)
	}
	return nil
}

// dsn returns the driver name for the file at abs. It is a file: URI so that
// any character in the path is escaped; every connection gets the busy
// timeout and synchronous=NORMAL (durable across application crashes, which
// is what sessions need, at a fraction of the cost of FULL in WAL mode).
func dsn(abs string, busyTimeout time.Duration, queryOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(NORMAL)")
	if queryOnly {
		q.Add("_query_only", "1")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// init prepares the database: it checks the layout of an existing sessions
// table (before anything is written, so a foreign database is left
// untouched), switches to WAL mode, creates the schema, and checks that the
// file can be written.
func (s *Store) init(ctx context.Context) error {
	// Columns of an existing sessions table, as "name type,..." in order;
	// empty when there is no such table.
	var layout string
	if err := s.wdb.QueryRowContext(ctx,
		"SELECT coalesce(group_concat(name || ' ' || upper(type), ','), '') FROM (SELECT name, type FROM pragma_table_info('sessions') ORDER BY cid)",
	).Scan(&layout); err != nil {
		return s.fail("open", err)
	}
	const want = "token TEXT,data BLOB,expiry INTEGER"
	if layout != "" && layout != want {
		return fmt.Errorf("sqlitestore: open %s: it has a sessions table this store cannot use (columns %q, want %q): %s", s.path, layout, want, hintMoveAside)
	}

	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return s.fail("open", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlitestore: open %s: cannot switch to WAL journal mode (still %q): put the file on a local file system or set SESSION_STORE to another file", s.path, mode)
	}

	const schema = `
CREATE TABLE IF NOT EXISTS sessions (
	token  TEXT    NOT NULL PRIMARY KEY,
	data   BLOB    NOT NULL,
	expiry INTEGER NOT NULL -- Unix nanoseconds
);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry);`
	if _, err := s.wdb.ExecContext(ctx, schema); err != nil {
		return s.fail("create sessions table in", err)
	}

	return s.checkWritable(ctx)
}

// checkWritable makes a write and rolls it back, so that a read-only or
// locked file is reported by Open rather than by the first login. Neither
// CREATE TABLE IF NOT EXISTS on an existing table nor BEGIN IMMEDIATE alone
// would do: on a read-only file in WAL mode both succeed.
func (s *Store) checkWritable(ctx context.Context) (err error) {
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return s.fail("open", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return s.fail("check write access to", err)
	}
	defer func() {
		if _, rbErr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil && err == nil {
			err = s.fail("check write access to", rbErr)
		}
	}()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE sqlitestore_write_check (x)"); err != nil {
		return s.fail("check write access to", err)
	}
	return nil
}

// The statements of the store. Expiry times are Unix nanoseconds; a session
// whose expiry is not after the current time is expired.
const (
	findSQL   = "SELECT data FROM sessions WHERE token = ? AND expiry > ?"
	allSQL    = "SELECT token, data FROM sessions WHERE expiry > ?"
	commitSQL = `INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)
ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`
	deleteSQL = "DELETE FROM sessions WHERE token = ?"
	touchSQL  = "UPDATE sessions SET data = ?, expiry = ? WHERE token = ? AND expiry > ?"
	// expireSQL deletes at most a batch of expired rows.
	expireSQL = `DELETE FROM sessions WHERE token IN (
	SELECT token FROM sessions WHERE expiry <= ? LIMIT ?
)`
)

// prepare prepares the statements of the store. Reusing them instead of
// compiling the SQL on every call makes Find about a third faster.
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		db    *sql.DB
		query string
		stmt  **sql.Stmt
	}{
		{s.rdb, findSQL, &s.findStmt},
		{s.rdb, allSQL, &s.allStmt},
		{s.wdb, commitSQL, &s.commitStmt},
		{s.wdb, deleteSQL, &s.deleteStmt},
		{s.wdb, expireSQL, &s.expireStmt},
		{s.wdb, touchSQL, &s.touchStmt},
	} {
		stmt, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return s.fail("prepare statements for", err)
		}
		*p.stmt = stmt
	}
	return nil
}

// fail wraps err from an operation on the database, explaining the SQLite
// result codes an operator can do something about.
func (s *Store) fail(action string, err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("sqlitestore: %s %s: %w", action, s.path, err)
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("sqlitestore: %s is not a SQLite database: %s: %w", s.path, hintMoveAside, err)
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("sqlitestore: %s %s: the database is corrupt: %s: %w", action, s.path, hintMoveAside, err)
	case sqlite3.SQLITE_READONLY:
		if se.Code() == sqlite3.SQLITE_READONLY_DIRECTORY {
			return fmt.Errorf("sqlitestore: %s %s: its folder is read-only, and SQLite must create the -wal and -shm files there: make %s writable by this process or set SESSION_STORE to another file: %w", action, s.path, filepath.Dir(s.path), err)
		}
		return fmt.Errorf("sqlitestore: %s %s: the file is read-only: make it and its folder writable by this process or set SESSION_STORE to another file: %w", action, s.path, err)
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		return fmt.Errorf("sqlitestore: %s %s: cannot open the file or its -wal/-shm companions: make the file and its folder writable by this process or set SESSION_STORE to another file: %w", action, s.path, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("sqlitestore: %s %s: database is locked: another process kept it locked for longer than the busy timeout (%s): %w", action, s.path, s.busyTimeout, err)
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("sqlitestore: %s %s: the disk is full: %w", action, s.path, err)
	default:
		return fmt.Errorf("sqlitestore: %s %s: %w", action, s.path, err)
	}
}

// Find returns the data of the unexpired session token. found is false, and
// err nil, when there is no such session or it has expired.
func (s *Store) Find(token string) (b []byte, found bool, err error) {
	return s.FindCtx(context.Background(), token)
}

// FindCtx is Find with a context.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	err := s.findStmt.QueryRowContext(ctx, token, unixNano(s.now())).Scan(&b)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, s.fail("find session in", err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, true, nil
}

// Commit stores b as the data of session token until expiry, replacing any
// data and expiry the token already has.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx is Commit with a context.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if b == nil {
		b = []byte{} // NULL would violate NOT NULL
	}
	if _, err := s.commitStmt.ExecContext(ctx, token, b, unixNano(expiry)); err != nil {
		return s.fail("commit session to", err)
	}
	return nil
}

// TouchCtx replaces the data and expiry of a live session and reports whether there was one: unlike
// CommitCtx it never re-creates a session that was deleted (signed out) meanwhile.
func (s *Store) TouchCtx(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	if b == nil {
		b = []byte{}
	}
	res, err := s.touchStmt.ExecContext(ctx, b, unixNano(expiry), token, unixNano(s.now()))
	if err != nil {
		return false, s.fail("touch session in", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.fail("touch session in", err)
	}
	return n == 1, nil
}

// Delete removes session token. Deleting a token that does not exist is not
// an error.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// DeleteCtx is Delete with a context.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	if _, err := s.deleteStmt.ExecContext(ctx, token); err != nil {
		return s.fail("delete session from", err)
	}
	return nil
}

// All returns the data of every unexpired session, keyed by token. It
// returns an empty, non-nil map when there are none.
func (s *Store) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// AllCtx is All with a context.
func (s *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.allStmt.QueryContext(ctx, unixNano(s.now()))
	if err != nil {
		return nil, s.fail("list sessions in", err)
	}
	defer rows.Close()
	all := make(map[string][]byte)
	for rows.Next() {
		var token string
		var b []byte
		if err := rows.Scan(&token, &b); err != nil {
			return nil, s.fail("list sessions in", err)
		}
		if b == nil {
			b = []byte{}
		}
		all[token] = b
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list sessions in", err)
	}
	return all, nil
}

// Ping runs a query against the sessions table, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	err := s.rdb.QueryRowContext(ctx, "SELECT 1 FROM sessions LIMIT 1").Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s.fail("ping", err)
	}
	return nil
}

// Close stops the background cleanup and closes the database. Calling it
// again returns the result of the first call.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stopCleanup != nil {
			s.stopCleanup()
			<-s.cleanupDone
		}
		if err := s.closeDB(); err != nil {
			s.closeErr = fmt.Errorf("sqlitestore: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// closeDB closes the prepared statements and both connection pools.
func (s *Store) closeDB() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{s.findStmt, s.allStmt, s.commitStmt, s.deleteStmt, s.expireStmt, s.touchStmt} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	errs = append(errs, s.rdb.Close(), s.wdb.Close())
	return errors.Join(errs...)
}

// cleanupLoop deletes expired sessions on every tick until ctx is done.
// Failures are retried on the next tick; onCleanup, when set, sees them.
func (s *Store) cleanupLoop(ctx context.Context, ticks <-chan time.Time, stop func(), onCleanup func(int64, error)) {
	defer close(s.cleanupDone)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			n, err := s.deleteExpired(ctx)
			if onCleanup != nil {
				onCleanup(n, err)
			}
		}
	}
}

// deleteExpired removes every expired session, in batches so that other
// writers get the lock in between, and reports how many it removed.
func (s *Store) deleteExpired(ctx context.Context) (int64, error) {
	now := unixNano(s.now())
	var total int64
	for {
		res, err := s.expireStmt.ExecContext(ctx, now, cleanupBatch)
		if err != nil {
			return total, s.fail("delete expired sessions from", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, s.fail("delete expired sessions from", err)
		}
		total += n
		if n < cleanupBatch {
			return total, nil
		}
	}
}

// unixNano is t.UnixNano, saturated to the int64 range instead of
// overflowing for times before 1678 or after 2262.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}
