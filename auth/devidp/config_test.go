package devidp_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hxoidc/hxoidc/auth/devidp"
)

func validClients() []devidp.Client {
	return []devidp.Client{{
		ID:           "app",
		Secret:       "top-secret-value",
		RedirectURIs: []string{"http://localhost:3000/auth/callback"},
	}}
}

func quietConfig(t *testing.T) devidp.Config {
	return devidp.Config{
		Issuer:  "http://127.0.0.1:9998",
		DataDir: filepath.Join(t.TempDir(), "nested", "devidp"),
		Clients: validClients(),
		Logger:  slog.New(slog.DiscardHandler),
	}
}

func TestNewRefusesNonLoopbackIssuer(t *testing.T) {
	for _, issuer := range []string{
		"http://0.0.0.0:9998",
		"http://192.168.1.10:9998",
		"https://idp.example.com",
		"http://localhost.example.com:9998",
		"http://127.0.0.1:9998/path",
		"http://127.0.0.1:9998?x=1",
		"ftp://127.0.0.1",
		"",
	} {
		cfg := quietConfig(t)
		cfg.Issuer = issuer
		_, err := devidp.New(t.Context(), cfg)
		if err == nil {
			t.Errorf("issuer %q accepted", issuer)
			continue
		}
		if !strings.HasPrefix(err.Error(), "devidp: config: ") {
			t.Errorf("issuer %q: error %q lacks the devidp prefix", issuer, err)
		}
	}
	for _, issuer := range []string{"http://127.0.0.1:9998", "http://127.0.0.5:1", "http://[::1]:9998", "http://localhost:9998", "https://LOCALHOST:8443/"} {
		got, err := devidp.ValidateLoopbackIssuer(issuer)
		if err != nil {
			t.Errorf("issuer %q refused: %v", issuer, err)
		}
		if strings.HasSuffix(got, "/") {
			t.Errorf("issuer %q normalised to %q with a trailing slash", issuer, got)
		}
	}
	if _, err := devidp.ValidateLoopbackIssuer("http://10.0.0.1:9998"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("error for a LAN issuer does not mention loopback: %v", err)
	}
}

func TestDataDirCreatedPrivateAndKeyReused(t *testing.T) {
	cfg := quietConfig(t)
	p1, err := devidp.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Issuer() != cfg.Issuer {
		t.Fatalf("Issuer() = %q", p1.Issuer())
	}
	info, err := os.Stat(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(cfg.DataDir, "signing-key.pem")
	key1, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if perm := info.Mode().Perm(); perm != 0o700 {
			t.Errorf("data dir mode %o, want 700", perm)
		}
		for _, name := range []string{"signing-key.pem", "clients.json"} {
			fi, err := os.Stat(filepath.Join(cfg.DataDir, name))
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s mode %o, want 600", name, perm)
			}
		}
	}
	clients, err := os.ReadFile(filepath.Join(cfg.DataDir, "clients.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(clients, []byte("top-secret-value")) {
		t.Fatal("clients.json contains the client secret in clear")
	}
	if _, err := devidp.New(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	key2, _ := os.ReadFile(keyPath)
	if !bytes.Equal(key1, key2) {
		t.Fatal("the signing key changed on restart")
	}
}

func TestCorruptKeyFileIsAnErrorAndKept(t *testing.T) {
	cfg := quietConfig(t)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(cfg.DataDir, "signing-key.pem")
	garbage := []byte("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
	for name, content := range map[string][]byte{
		"not PEM":   []byte("hello"),
		"bad PKCS8": garbage,
	} {
		if err := os.WriteFile(keyPath, content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := devidp.New(t.Context(), cfg)
		if err == nil {
			t.Fatalf("%s: corrupt key accepted", name)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "devidp: ") || !strings.Contains(msg, keyPath) || !strings.Contains(msg, "delete") || strings.Contains(msg, "\n") {
			t.Fatalf("%s: error is not one line naming the file and the fix: %q", name, msg)
		}
		after, _ := os.ReadFile(keyPath)
		if !bytes.Equal(after, content) {
			t.Fatalf("%s: the corrupt key file was overwritten", name)
		}
	}
}

func TestCorruptStateFileIsAnError(t *testing.T) {
	cfg := quietConfig(t)
	if _, err := devidp.New(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	statePath := filepath.Join(cfg.DataDir, "state.json")
	if err := os.WriteFile(statePath, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := devidp.New(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), statePath) || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewValidatesClientsAndUsers(t *testing.T) {
	cases := map[string]func(*devidp.Config){
		"no redirect URI":       func(c *devidp.Config) { c.Clients[0].RedirectURIs = nil },
		"relative redirect URI": func(c *devidp.Config) { c.Clients[0].RedirectURIs = []string{"/cb"} },
		"fragment":              func(c *devidp.Config) { c.Clients[0].RedirectURIs = []string{"http://localhost/cb#x"} },
		"duplicate client":      func(c *devidp.Config) { c.Clients = append(c.Clients, c.Clients[0]) },
		"empty client list":     func(c *devidp.Config) { c.Clients = []devidp.Client{} },
		"bad back-channel URI":  func(c *devidp.Config) { c.Clients[0].BackChannelLogoutURI = "mailto:x" },
		"user without password": func(c *devidp.Config) { c.Users = []devidp.User{{Subject: "s", Username: "u"}} },
		"colon in subject":      func(c *devidp.Config) { c.Users = []devidp.User{{Subject: "a:b", Username: "u", Password: "p"}} },
		"duplicate username": func(c *devidp.Config) {
			c.Users = []devidp.User{{Subject: "a", Username: "u", Password: "p"}, {Subject: "b", Username: "u", Password: "p"}}
		},
		"no data dir":          func(c *devidp.Config) { c.DataDir = "" },
		"no persisted clients": func(c *devidp.Config) { c.Clients = nil },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := quietConfig(t)
			mutate(&cfg)
			if _, err := devidp.New(t.Context(), cfg); err == nil || !strings.HasPrefix(err.Error(), "devidp: ") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestLoadUsers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	good := write("good.json", `[
  {"subject": "u1", "username": "alice", "password": "pw", "name": "Alice", "email": "alice@example.test", "email_verified": true, "given_name": "Alice", "family_name": "A", "picture": "http://localhost/a.png", "locale": "fr-FR"},
  {"subject": "u2", "username": "bob", "password": "pw2"}
]`)
	users, err := devidp.LoadUsers(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].Email != "alice@example.test" || !users[0].EmailVerified || users[0].Locale != "fr-FR" || users[1].Username != "bob" {
		t.Fatalf("users = %+v", users)
	}

	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"syntax.json", "[\n  {\"subject\": \"u1\",\n   \"username\": \"a\" \"password\": \"p\"}\n]", []string{"syntax.json:3:", "invalid JSON"}},
		{"missing-password.json", "[\n  {\"subject\": \"u1\", \"username\": \"a\", \"password\": \"p\"},\n  {\"subject\": \"u2\",\n   \"username\": \"b\"}\n]", []string{"missing-password.json:3:", "user #2", `"b"`, `missing "password"`}},
		{"missing-subject.json", `[{"username": "a", "password": "p"}]`, []string{"missing-subject.json:1:", `missing "subject"`}},
		{"missing-username.json", `[{"subject": "s", "password": "p"}]`, []string{`missing "username"`}},
		{"unknown-field.json", "[\n\n  {\"subject\": \"s\", \"username\": \"a\", \"passwd\": \"p\"}]", []string{"unknown-field.json:3:", "passwd"}},
		{"wrong-type.json", "[\n  {\"subject\": \"s\", \"username\": \"a\", \"password\": \"p\",\n   \"email_verified\": \"yes\"}]", []string{"wrong-type.json:3:", "email_verified"}},
		{"object.json", `{"users": []}`, []string{"object.json:1:", "array"}},
		{"truncated.json", "[\n  {\"subject\": \"s\"", []string{"truncated.json:2:", "end of file"}},
		{"empty.json", "[]", []string{"empty.json:1:", "no users"}},
		{"duplicate.json", "[\n {\"subject\": \"s\", \"username\": \"a\", \"password\": \"p\"},\n {\"subject\": \"s\", \"username\": \"b\", \"password\": \"p\"}\n]", []string{"duplicate.json:1:", "already used"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(tc.name, tc.content)
			_, err := devidp.LoadUsers(path)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "devidp: load users: "+dir) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q does not start with the file path on one line", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	if _, err := devidp.LoadUsers(filepath.Join(dir, "absent.json")); err == nil || !strings.Contains(err.Error(), "absent.json") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestDefaultUsers(t *testing.T) {
	users := devidp.DefaultUsers()
	if len(users) != 2 || users[0].Username != "ada" || users[1].Username != "grace" {
		t.Fatalf("default users = %+v", users)
	}
	for _, u := range users {
		if u.Password != devidp.DefaultPassword || u.Email == "" || u.Name == "" {
			t.Fatalf("default user incomplete: %+v", u)
		}
	}
}
