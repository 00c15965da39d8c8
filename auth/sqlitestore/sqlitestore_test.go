package sqlitestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// testConfig is the default configuration with the given changes applied.
func testConfig(mods ...func(*config)) config {
	cfg := defaultConfig()
	for _, m := range mods {
		m(&cfg)
	}
	return cfg
}

// withClock makes the store read the time from *now.
func withClock(now *time.Time) func(*config) {
	return func(c *config) { c.now = func() time.Time { return *now } }
}

func withBusyTimeout(d time.Duration) func(*config) {
	return func(c *config) { c.busyTimeout = d }
}

// openTest opens a store without background cleanup at path (a fresh file
// in a temporary folder when path is empty) and closes it after the test.
func openTest(t testing.TB, path string, mods ...func(*config)) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "sessions.db")
	}
	s, err := open(path, -1, testConfig(mods...))
	if err != nil {
		t.Fatalf("open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rowCount counts all rows, expired or not, in the store's table.
func rowCount(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.rdb.QueryRow("SELECT count(*) FROM sessions").Scan(&n); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	return n
}

func mustFind(t *testing.T, s *Store, token string) ([]byte, bool) {
	t.Helper()
	b, found, err := s.Find(token)
	if err != nil {
		t.Fatalf("Find(%q): %v", token, err)
	}
	return b, found
}

func mustCommit(t *testing.T, s *Store, token string, b []byte, expiry time.Time) {
	t.Helper()
	if err := s.Commit(token, b, expiry); err != nil {
		t.Fatalf("Commit(%q): %v", token, err)
	}
}

func TestRoundTrip(t *testing.T) {
	s := openTest(t, "")
	big := make([]byte, 1<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want []byte
	}{
		{"text", []byte("hello"), []byte("hello")},
		{"binary with NUL bytes", []byte{0, 1, 0, 255, 0}, []byte{0, 1, 0, 255, 0}},
		{"empty", []byte{}, []byte{}},
		{"nil is stored as empty", nil, []byte{}},
		{"1 MiB", big, big},
	}
	expiry := time.Now().Add(time.Hour)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := "tok-" + tt.name
			mustCommit(t, s, token, tt.data, expiry)
			got, found := mustFind(t, s, token)
			if !found {
				t.Fatal("Find: not found")
			}
			if got == nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("Find = %d bytes (nil %t), want %d bytes", len(got), got == nil, len(tt.want))
			}
		})
	}

	if b, found := mustFind(t, s, "no-such-token"); found || b != nil {
		t.Fatalf("Find(unknown) = %q, %t; want nil, false", b, found)
	}
}

func TestCommitUpserts(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	s := openTest(t, "", withClock(&now))

	mustCommit(t, s, "tok", []byte("first"), now.Add(time.Hour))
	mustCommit(t, s, "tok", []byte("second"), now.Add(2*time.Hour))
	if got, _ := mustFind(t, s, "tok"); string(got) != "second" {
		t.Fatalf("after second Commit, Find = %q, want %q", got, "second")
	}
	if n := rowCount(t, s); n != 1 {
		t.Fatalf("rows = %d, want 1", n)
	}

	// The expiry is replaced too: moving it into the past hides the session.
	mustCommit(t, s, "tok", []byte("third"), now.Add(-time.Second))
	if _, found := mustFind(t, s, "tok"); found {
		t.Fatal("session found after Commit with a past expiry")
	}
	// ... and moving it back revives it with the new data.
	mustCommit(t, s, "tok", []byte("fourth"), now.Add(time.Second))
	if got, _ := mustFind(t, s, "tok"); string(got) != "fourth" {
		t.Fatalf("Find = %q, want %q", got, "fourth")
	}
}

func TestExpiryIsComparedWithSubSecondPrecision(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 500_000_000, time.UTC)
	s := openTest(t, "", withClock(&now))
	tests := []struct {
		name   string
		expiry time.Time
		found  bool
	}{
		{"a day ago", now.Add(-24 * time.Hour), false},
		{"1ms ago", now.Add(-time.Millisecond), false},
		{"1ns ago", now.Add(-time.Nanosecond), false},
		{"exactly now", now, false},
		{"in 1ns", now.Add(time.Nanosecond), true},
		{"in 1ms", now.Add(time.Millisecond), true},
		{"same second, later", now.Add(400 * time.Millisecond), true},
		{"in a day", now.Add(24 * time.Hour), true},
		{"zero time", time.Time{}, false},
		{"year 9999", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustCommit(t, s, tt.name, []byte("x"), tt.expiry)
			if _, found := mustFind(t, s, tt.name); found != tt.found {
				t.Fatalf("Find found = %t, want %t", found, tt.found)
			}
			all, err := s.All()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := all[tt.name]; ok != tt.found {
				t.Fatalf("All contains it = %t, want %t", ok, tt.found)
			}
		})
	}

	// A session that was live becomes invisible once the clock passes it.
	mustCommit(t, s, "later", []byte("x"), now.Add(time.Minute))
	now = now.Add(time.Minute)
	if _, found := mustFind(t, s, "later"); found {
		t.Fatal("session found after its expiry passed")
	}
}

func TestDeleteExpired(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openTest(t, "", withClock(&now))

	// More expired rows than one cleanup batch, to cover the batching.
	const expired = 2*cleanupBatch + 7
	tx, err := s.wdb.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range expired {
		if _, err := tx.Exec("INSERT INTO sessions VALUES (?, ?, ?)",
			fmt.Sprintf("old-%d", i), []byte("x"), unixNano(now.Add(-time.Duration(i+1)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, "boundary", []byte("x"), now) // expires exactly now
	mustCommit(t, s, "live-1", []byte("x"), now.Add(time.Nanosecond))
	mustCommit(t, s, "live-2", []byte("x"), now.Add(time.Hour))

	n, err := s.deleteExpired(context.Background())
	if err != nil {
		t.Fatalf("deleteExpired: %v", err)
	}
	if n != expired+1 {
		t.Fatalf("deleteExpired removed %d rows, want %d", n, expired+1)
	}
	if got := rowCount(t, s); got != 2 {
		t.Fatalf("rows left = %d, want 2", got)
	}
	for _, tok := range []string{"live-1", "live-2"} {
		if _, found := mustFind(t, s, tok); !found {
			t.Errorf("%s was removed", tok)
		}
	}

	n, err = s.deleteExpired(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("second deleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func TestCleanupGoroutine(t *testing.T) {
	tests := []struct {
		name       string
		interval   time.Duration
		wantTicker bool
		wantPeriod time.Duration
	}{
		{"zero means five minutes", 0, true, 5 * time.Minute},
		{"explicit interval", 90 * time.Second, true, 90 * time.Second},
		{"negative disables cleanup", -1, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			ticks := make(chan time.Time)
			results := make(chan int64)
			var period time.Duration
			var started, stopped bool
			cfg := testConfig(withClock(&now), func(c *config) {
				c.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
					started, period = true, d
					return ticks, func() { stopped = true }
				}
				c.onCleanup = func(n int64, err error) {
					if err != nil {
						t.Errorf("cleanup: %v", err)
					}
					results <- n
				}
			})
			s, err := open(filepath.Join(t.TempDir(), "s.db"), tt.interval, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if started != tt.wantTicker || period != tt.wantPeriod {
				t.Fatalf("ticker started = %t with %v, want %t with %v", started, period, tt.wantTicker, tt.wantPeriod)
			}
			if !tt.wantTicker {
				return
			}

			mustCommit(t, s, "old", []byte("x"), now.Add(-time.Second))
			mustCommit(t, s, "new", []byte("x"), now.Add(time.Second))
			ticks <- now
			if n := <-results; n != 1 {
				t.Fatalf("cleanup removed %d rows, want 1", n)
			}
			if got := rowCount(t, s); got != 1 {
				t.Fatalf("rows left = %d, want 1", got)
			}

			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// Close waited for the goroutine, which stopped its ticker.
			if !stopped {
				t.Fatal("ticker not stopped after Close")
			}
		})
	}
}

func TestAllReturnsOnlyLiveSessions(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openTest(t, "", withClock(&now))

	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if all == nil || len(all) != 0 {
		t.Fatalf("All on an empty store = %#v, want an empty non-nil map", all)
	}

	mustCommit(t, s, "a", []byte("A"), now.Add(time.Hour))
	mustCommit(t, s, "b", []byte("B"), now.Add(time.Millisecond))
	mustCommit(t, s, "gone", []byte("G"), now.Add(-time.Millisecond))
	mustCommit(t, s, "empty", nil, now.Add(time.Hour))

	all, err = s.AllCtx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "A", "b": "B", "empty": ""}
	if len(all) != len(want) {
		t.Fatalf("All returned %d sessions, want %d: %q", len(all), len(want), all)
	}
	for tok, data := range want {
		got, ok := all[tok]
		if !ok || string(got) != data || got == nil {
			t.Errorf("All[%q] = %q (present %t), want %q", tok, got, ok, data)
		}
	}
}

func TestDelete(t *testing.T) {
	s := openTest(t, "")
	exp := time.Now().Add(time.Hour)
	mustCommit(t, s, "a", []byte("A"), exp)
	mustCommit(t, s, "b", []byte("B"), exp)

	if err := s.Delete("a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, found := mustFind(t, s, "a"); found {
		t.Fatal("deleted session still found")
	}
	if _, found := mustFind(t, s, "b"); !found {
		t.Fatal("Delete removed another session")
	}
	if err := s.DeleteCtx(context.Background(), "never-existed"); err != nil {
		t.Fatalf("Delete of an unknown token: %v, want nil", err)
	}
}

func TestSessionsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	exp := time.Now().Add(time.Hour)

	s1, err := Open(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s1, "kept", []byte("alice"), exp)
	mustCommit(t, s1, "dropped", []byte("bob"), exp)
	if err := s1.Delete("dropped"); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, found := mustFind(t, s2, "kept"); !found || string(got) != "alice" {
		t.Fatalf("after restart Find = %q, %t; want %q, true", got, found, "alice")
	}
	if _, found := mustFind(t, s2, "dropped"); found {
		t.Fatal("deleted session came back after restart")
	}
}

func TestOpenCreatesPrivateFileAndFolders(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "sessions.db")
	openTest(t, path)

	for _, dir := range []string{filepath.Join(root, "a"), filepath.Join(root, "a", "b")} {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&^0o700 != 0 {
			t.Errorf("%s has mode %v, want at most 0700", dir, perm)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file has mode %v, want 0600", perm)
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	dir := t.TempDir()
	name := "odd name?x=1#frag%20&_pragma=y.db"
	s := openTest(t, filepath.Join(dir, name))
	mustCommit(t, s, "t", []byte("v"), time.Now().Add(time.Hour))

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), name) {
			t.Errorf("unexpected file %q in the folder: the path was not escaped", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		t.Fatalf("database not created under its exact name: %v", err)
	}
}

func TestOpenRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s := openTest(t, filepath.Join("data", "sessions.db"))
	mustCommit(t, s, "t", []byte("v"), time.Now().Add(time.Hour))
	if _, err := os.Stat(filepath.Join("data", "sessions.db")); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	dir := t.TempDir()
	aFile := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(aFile, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	aDir := filepath.Join(dir, "a-dir")
	if err := os.Mkdir(aDir, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"empty path", "", []string{"empty path", "SESSION_STORE"}},
		{"path is a directory", aDir, []string{aDir, "is a directory"}},
		{"parent is a file", filepath.Join(aFile, "sessions.db"), []string{filepath.Join(aFile, "sessions.db"), "cannot create its folder " + aFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.path, -1)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "sqlitestore: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	if b, err := os.ReadFile(aFile); err != nil || string(b) != "not a folder" {
		t.Fatalf("the file in the way was changed: %q, %v", b, err)
	}
	if entries, err := os.ReadDir(aDir); err != nil || len(entries) != 0 {
		t.Fatalf("the directory was changed: %v, %v", entries, err)
	}
}

// assertUntouched fails if the file at path no longer holds want, or if
// Open left SQLite companion files next to it.
func assertUntouched(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s was modified (%d bytes, had %d)", path, len(got), len(want))
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(path + suffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open left %s%s behind (stat: %v)", path, suffix, err)
		}
	}
}

func TestOpenRefusesFilesThatAreNotSQLite(t *testing.T) {
	random := make([]byte, 8192)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	magicThenJunk := append([]byte("SQLite format 3\x00"), random[:4080]...)
	tests := []struct {
		name     string
		contents []byte
		want     string
	}{
		{"random bytes", random, "is not a SQLite database"},
		{"short garbage", []byte("garbage"), "is not a SQLite database"},
		{"text file", []byte("SESSION_SECRET=hunter2\nOTHER=1\n"), "is not a SQLite database"},
		{"truncated header", []byte("SQLite form"), "is not a SQLite database"},
		{"SQLite header then junk", magicThenJunk, "is not a SQLite database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sessions.db")
			if err := os.WriteFile(path, tt.contents, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, -1)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			t.Logf("Open: %v", err)
			msg := err.Error()
			for _, w := range []string{"sqlitestore: ", path, tt.want, "move it aside", "SESSION_STORE"} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			assertUntouched(t, path, tt.contents)
		})
	}
}

func TestOpenRefusesForeignSessionsTable(t *testing.T) {
	tests := []struct {
		name   string
		schema string
	}{
		{"other columns", "CREATE TABLE sessions (id INTEGER PRIMARY KEY, user TEXT); INSERT INTO sessions (user) VALUES ('x')"},
		{"scs sqlite3store layout (REAL expiry)", "CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL); INSERT INTO sessions VALUES ('t', x'00', julianday('now'))"},
		{"extra column", "CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry INTEGER NOT NULL, user TEXT)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.db")
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tt.schema); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			s, err := Open(path, -1)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			t.Logf("Open: %v", err)
			for _, w := range []string{path, "sessions table this store cannot use", "move it aside"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			assertUntouched(t, path, before)
		})
	}
}

// TestOpenReadOnly checks the errors for a database file or folder this
// process cannot write. Permissions do not bind root, so when the tests run
// as root the test re-runs itself in a child process as user nobody.
func TestOpenReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		rerunAsNobody(t)
		return
	}

	// newDB creates a closed, populated store at dir/name.
	newDB := func(t *testing.T, dir string) string {
		path := filepath.Join(dir, "sessions.db")
		s, err := Open(path, -1)
		if err != nil {
			t.Fatal(err)
		}
		mustCommit(t, s, "tok", []byte("v"), time.Now().Add(time.Hour))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string
		want  string
	}{
		{"read-only file", func(t *testing.T, dir string) string {
			path := newDB(t, dir)
			chmod(t, path, 0o400)
			return path
		}, "the file is read-only"},
		{"missing file in a read-only folder", func(t *testing.T, dir string) string {
			chmod(t, dir, 0o500)
			return filepath.Join(dir, "sessions.db")
		}, "its folder is read-only"},
		{"writable file in a read-only folder", func(t *testing.T, dir string) string {
			path := newDB(t, dir)
			chmod(t, dir, 0o500)
			return path
		}, "its folder is read-only"},
		{"read-only file in a read-only folder", func(t *testing.T, dir string) string {
			path := newDB(t, dir)
			chmod(t, path, 0o400)
			chmod(t, dir, 0o500)
			return path
		}, "writable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(dir, 0o700) }) // so TempDir can remove it
			path := tt.setup(t, dir)
			before, _ := os.ReadFile(path)

			s, err := Open(path, -1)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			t.Logf("Open: %v", err)
			msg := err.Error()
			for _, w := range []string{"sqlitestore: ", path, tt.want, "SESSION_STORE"} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("%s was modified", path)
			}
		})
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// rerunAsNobody runs the current test in a copy of the test binary as user
// nobody (65534) and fails if it does not pass there.
func rerunAsNobody(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The go build folder and t.TempDir are private to root, so nobody
	// gets its own world-readable folder with a copy of the binary and a
	// world-writable temporary folder.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		chmod(t, d, 0o755)
	}
	bin := filepath.Join(dir, "sqlitestore.test")
	copyFile(t, exe, bin, 0o755)
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	chmod(t, tmp, 0o1777)

	var out bytes.Buffer
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Dir = tmp
	cmd.Env = []string{"TMPDIR=" + tmp, "PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534, NoSetGroups: true},
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("running as root without permission to switch to user nobody, so file permissions cannot be tested: %v", err)
		}
		t.Fatal(err)
	}
	err = cmd.Wait()
	t.Logf("as user nobody:\n%s", out.String())
	if err != nil {
		t.Fatalf("test failed as user nobody: %v", err)
	}
	if !strings.Contains(out.String(), "--- PASS: "+t.Name()) || strings.Contains(out.String(), "--- SKIP") {
		t.Fatal("test did not pass as user nobody")
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// holdWriteLock takes the write lock on the database at path from a
// separate connection, as another process would, until the test ends or
// release is called.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(),
		"INSERT INTO sessions VALUES ('other', x'00', 9223372036854775807)"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
				t.Error(err)
			}
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

func TestLockedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := openTest(t, path, withBusyTimeout(20*time.Millisecond))
	exp := time.Now().Add(time.Hour)
	mustCommit(t, s, "before", []byte("v"), exp)

	release := holdWriteLock(t, path)

	writes := []struct {
		name string
		call func() error
	}{
		{"Commit", func() error { return s.Commit("tok", []byte("v"), exp) }},
		{"Delete", func() error { return s.Delete("before") }},
		{"cleanup", func() error { _, err := s.deleteExpired(context.Background()); return err }},
	}
	for _, w := range writes {
		err := w.call()
		if err == nil {
			t.Fatalf("%s succeeded while another connection held the write lock", w.name)
		}
		for _, want := range []string{"sqlitestore: ", path, "database is locked"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s error %q does not contain %q", w.name, err, want)
			}
		}
	}

	// In WAL mode reads do not wait for the writer.
	if got, found := mustFind(t, s, "before"); !found || string(got) != "v" {
		t.Fatalf("Find during the other write = %q, %t", got, found)
	}

	// A second Open while the lock is held fails at Open, not later.
	s2, err := open(path, -1, testConfig(withBusyTimeout(20*time.Millisecond)))
	if err == nil {
		s2.Close()
		t.Fatal("Open succeeded while another connection held the write lock")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("Open error %q does not name the file and the lock", err)
	}

	// Once the lock is released the same store works again.
	release()
	mustCommit(t, s, "tok", []byte("after"), exp)
	if got, _ := mustFind(t, s, "tok"); string(got) != "after" {
		t.Fatalf("Find after release = %q", got)
	}
}

func TestConcurrentCommitAndFind(t *testing.T) {
	s := openTest(t, "")
	const goroutines, rounds = 50, 40
	exp := time.Now().Add(time.Hour)

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				own := fmt.Sprintf("g%d-r%d", g, r)
				shared := fmt.Sprintf("shared-%d", r%5)
				if err := s.Commit(own, []byte(own), exp); err != nil {
					errs <- err
					return
				}
				if err := s.Commit(shared, []byte(own), exp); err != nil {
					errs <- err
					return
				}
				b, found, err := s.Find(own)
				if err != nil || !found || string(b) != own {
					errs <- fmt.Errorf("Find(%s) = %q, %t, %v", own, b, found, err)
					return
				}
				if _, _, err := s.Find(shared); err != nil {
					errs <- err
					return
				}
				if r%10 == 0 {
					if _, err := s.All(); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if want := goroutines*rounds + 5; len(all) != want {
		t.Fatalf("All has %d sessions, want %d", len(all), want)
	}
}

// TestTwoStoresOnOneFile is the hot-reload case: the old and the new server
// process have the same file open, and both keep working.
func TestTwoStoresOnOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	oldStore, err := Open(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	newStore := openTest(t, path)
	exp := time.Now().Add(time.Hour)

	var wg sync.WaitGroup
	errs := make(chan error, 2*25)
	for i, s := range []*Store{oldStore, newStore} {
		for g := range 25 {
			wg.Go(func() {
				for r := range 20 {
					tok := fmt.Sprintf("s%d-g%d-r%d", i, g, r)
					if err := s.Commit(tok, []byte(tok), exp); err != nil {
						errs <- err
						return
					}
					if _, _, err := s.Find(tok); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Each sees what the other wrote.
	for _, s := range []*Store{oldStore, newStore} {
		all, err := s.All()
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2*25*20 {
			t.Fatalf("All = %d sessions, want %d", len(all), 2*25*20)
		}
	}

	// The old process exits; the new one carries on.
	if err := oldStore.Close(); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, newStore, "after-restart", []byte("v"), exp)
	if _, found := mustFind(t, newStore, "s0-g0-r0"); !found {
		t.Fatal("session written by the old store lost after it closed")
	}
}

// helperDBEnv names the database a helper process opens; see
// TestHelperProcess.
const helperDBEnv = "SQLITESTORE_TEST_HELPER_DB"

// TestHelperProcess is not a test: TestTwoProcesses runs the test binary
// with only this test selected and helperDBEnv set, as a second process
// that uses the same database file.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperDBEnv)
	if path == "" {
		t.Skip("helper process for TestTwoProcesses")
	}
	s := openTest(t, path)
	if got, found := mustFind(t, s, "from-parent"); !found || string(got) != "p" {
		t.Fatalf("child: Find(from-parent) = %q, %t", got, found)
	}
	exp := time.Now().Add(time.Hour)
	for i := range 300 {
		tok := fmt.Sprintf("child-%d", i)
		mustCommit(t, s, tok, []byte(tok), exp)
		if _, found := mustFind(t, s, tok); !found {
			t.Fatalf("child: %s not found after Commit", tok)
		}
	}
}

// TestTwoProcesses runs a second process on the same file while this one
// keeps writing: the situation during a hot-reload restart.
func TestTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s := openTest(t, path)
	exp := time.Now().Add(time.Hour)
	mustCommit(t, s, "from-parent", []byte("p"), exp)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), helperDBEnv+"="+path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Write from this process until the child is done.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var written int
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("helper process: %v\n%s", err, out.String())
			}
			waiting = false
		default:
			mustCommit(t, s, fmt.Sprintf("parent-%d", written), []byte("p"), exp)
			written++
		}
	}
	t.Logf("this process committed %d sessions while the child ran", written)
	if !strings.Contains(out.String(), "--- PASS: TestHelperProcess") {
		t.Fatalf("helper process did not pass:\n%s", out.String())
	}

	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + written + 300; len(all) != want {
		t.Fatalf("All = %d sessions, want %d (1 + %d from this process + 300 from the child)", len(all), want, written)
	}
	if got, found := mustFind(t, s, "child-299"); !found || string(got) != "child-299" {
		t.Fatalf("Find(child-299) = %q, %t", got, found)
	}
}

func TestConcurrentOpenOfNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "sessions.db")
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(path, -1) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	mustCommit(t, stores[0], "t", []byte("v"), time.Now().Add(time.Hour))
	if _, found := mustFind(t, stores[n-1], "t"); !found {
		t.Fatal("stores opened together do not share data")
	}
}

func TestWithSessionManager(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")

	newManager := func(t *testing.T) (*scs.SessionManager, *Store) {
		s, err := Open(path, -1)
		if err != nil {
			t.Fatal(err)
		}
		sm := scs.New()
		sm.Store = s
		return sm, s
	}
	handler := func(sm *scs.SessionManager) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
			if err := sm.RenewToken(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			sm.Put(r.Context(), "user", "alice")
		})
		mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, sm.GetString(r.Context(), "user"))
		})
		return sm.LoadAndSave(mux)
	}
	get := func(t *testing.T, h http.Handler, cookie *http.Cookie) string {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/me", nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /me: %d %s", rec.Code, rec.Body)
		}
		return rec.Body.String()
	}

	sm, s := newManager(t)
	h := handler(sm)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /login: %d %s", rec.Code, rec.Body)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != sm.Cookie.Name {
		t.Fatalf("login set cookies %v, want one session cookie", cookies)
	}
	cookie := cookies[0]

	if got := get(t, h, cookie); got != "alice" {
		t.Fatalf("GET /me = %q, want alice", got)
	}
	if got := get(t, h, &http.Cookie{Name: cookie.Name, Value: "forged-token"}); got != "" {
		t.Fatalf("GET /me with an unknown token = %q, want empty", got)
	}

	// Restart: a new store and session manager on the same file.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sm2, s2 := newManager(t)
	defer s2.Close()
	if got := get(t, handler(sm2), cookie); got != "alice" {
		t.Fatalf("after restart GET /me = %q, want alice", got)
	}
}

func TestPing(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping on an empty store: %v", err)
	}
	mustCommit(t, s, "t", []byte("v"), time.Now().Add(time.Hour))
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping with a cancelled context = %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}

func TestCloseIsIdempotentAndFinal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, time.Hour) // with a cleanup goroutine to stop
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	calls := map[string]func() error{
		"Find":   func() error { _, _, err := s.Find("t"); return err },
		"Commit": func() error { return s.Commit("t", nil, time.Now().Add(time.Hour)) },
		"Delete": func() error { return s.Delete("t") },
		"All":    func() error { _, err := s.All(); return err },
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s after Close succeeded", name)
		} else if !strings.Contains(err.Error(), path) {
			t.Errorf("%s after Close: %q does not name the file", name, err)
		}
	}
}

func TestUnixNano(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want int64
	}{
		{"epoch", time.Unix(0, 0), 0},
		{"nanosecond precision", time.Unix(1_700_000_000, 123_456_789), 1_700_000_000_123_456_789},
		{"time zone does not matter", time.Unix(5, 6).In(time.FixedZone("X", 3600)), 5_000_000_006},
		{"latest representable", time.Unix(0, math.MaxInt64), math.MaxInt64},
		{"after 2262 saturates", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{"zero time saturates", time.Time{}, math.MinInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unixNano(tt.in); got != tt.want {
				t.Fatalf("unixNano(%v) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func BenchmarkCommit(b *testing.B) {
	s := openTest(b, "")
	data := bytes.Repeat([]byte("x"), 256)
	exp := time.Now().Add(time.Hour)
	for i := 0; b.Loop(); i++ {
		if err := s.Commit(fmt.Sprintf("tok-%d", i%1000), data, exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFind(b *testing.B) {
	s := openTest(b, "")
	data := bytes.Repeat([]byte("x"), 256)
	exp := time.Now().Add(time.Hour)
	for i := range 1000 {
		if err := s.Commit(fmt.Sprintf("tok-%d", i), data, exp); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		if _, found, err := s.Find(fmt.Sprintf("tok-%d", i%1000)); err != nil || !found {
			b.Fatal(found, err)
		}
	}
}

func BenchmarkCommitParallel(b *testing.B) {
	s := openTest(b, "")
	data := bytes.Repeat([]byte("x"), 256)
	exp := time.Now().Add(time.Hour)
	var mu sync.Mutex
	next := 0
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		id := next
		next++
		mu.Unlock()
		for i := 0; pb.Next(); i++ {
			if err := s.Commit(fmt.Sprintf("tok-%d-%d", id, i%1000), data, exp); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkFindParallel(b *testing.B) {
	s := openTest(b, "")
	data := bytes.Repeat([]byte("x"), 256)
	exp := time.Now().Add(time.Hour)
	for i := range 1000 {
		if err := s.Commit(fmt.Sprintf("tok-%d", i), data, exp); err != nil {
			b.Fatal(err)
		}
	}
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, found, err := s.Find(fmt.Sprintf("tok-%d", i%1000)); err != nil || !found {
				b.Error(found, err)
				return
			}
		}
	})
}

// BenchmarkMixedParallel is a login-heavy load: one write per three reads.
func BenchmarkMixedParallel(b *testing.B) {
	s := openTest(b, "")
	data := bytes.Repeat([]byte("x"), 256)
	exp := time.Now().Add(time.Hour)
	for i := range 1000 {
		if err := s.Commit(fmt.Sprintf("tok-%d", i), data, exp); err != nil {
			b.Fatal(err)
		}
	}
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			tok := fmt.Sprintf("tok-%d", i%1000)
			var err error
			if i%4 == 0 {
				err = s.Commit(tok, data, exp)
			} else {
				_, _, err = s.Find(tok)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestTouchNeverRecreates(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if found, err := s.TouchCtx(ctx, "gone", []byte("x"), exp); err != nil || found {
		t.Fatalf("touch of a missing session: found=%t err=%v", found, err)
	}
	if _, found, _ := s.Find("gone"); found {
		t.Fatal("touch re-created a missing session")
	}
	if err := s.Commit("live", []byte("a"), exp); err != nil {
		t.Fatal(err)
	}
	if found, err := s.TouchCtx(ctx, "live", []byte("b"), exp.Add(time.Hour)); err != nil || !found {
		t.Fatalf("touch of a live session: found=%t err=%v", found, err)
	}
	if b, _, _ := s.Find("live"); string(b) != "b" {
		t.Errorf("touch did not replace the data: %q", b)
	}
	if err := s.Commit("expired", []byte("a"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if found, _ := s.TouchCtx(ctx, "expired", []byte("b"), exp); found {
		t.Errorf("touch revived an expired session")
	}
}
