package devidp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultPassword is the password of the built-in demo users (see DefaultUsers).
const DefaultPassword = "dev"

// Default lifetimes used when the corresponding Config field is zero.
const (
	DefaultAccessTokenLifetime  = 15 * time.Minute
	DefaultRefreshTokenLifetime = 24 * time.Hour
	DefaultIDTokenLifetime      = time.Hour
)

// defaultBackChannelTimeout bounds each back-channel logout POST when Config.HTTPClient is nil.
const defaultBackChannelTimeout = 5 * time.Second

// User is a person who can sign in at the provider. The JSON form (snake_case) is the format of
// the users file read by LoadUsers.
type User struct {
	// Subject is the stable, unique "sub" claim. It must not contain ':'.
	Subject string `json:"subject"`
	// Username is what the person types on the login page; unique.
	Username string `json:"username"`
	// Password is compared in constant time. This is a development provider: it is stored as given.
	Password      string `json:"password"`
	Name          string `json:"name,omitempty"`
	GivenName     string `json:"given_name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	// Picture is a URL, sent as the "picture" claim.
	Picture string `json:"picture,omitempty"`
	// Locale is a BCP 47 tag such as "en-GB", sent as the "locale" claim.
	Locale string `json:"locale,omitempty"`
}

// DefaultUsers returns the built-in demo users, used when Config.Users is nil: Ada Lovelace
// (username "ada") and Grace Hopper (username "grace"), both with the password "dev"
// (DefaultPassword) and a verified e-mail address under example.test.
func DefaultUsers() []User {
	return []User{
		{
			Subject:       "user-ada",
			Username:      "ada",
			Password:      DefaultPassword,
			Name:          "Ada Lovelace",
			GivenName:     "Ada",
			FamilyName:    "Lovelace",
			Email:         "ada@example.test",
			EmailVerified: true,
			Locale:        "en-GB",
		},
		{
			Subject:       "user-grace",
			Username:      "grace",
			Password:      DefaultPassword,
			Name:          "Grace Hopper",
			GivenName:     "Grace",
			FamilyName:    "Hopper",
			Email:         "grace@example.test",
			EmailVerified: true,
			Locale:        "en-US",
		},
	}
}

// Client is a relying party registered at the provider.
type Client struct {
	// ID is the client_id.
	ID string `json:"id"`
	// Secret is the client secret. Empty means a public client: token endpoint auth method "none"
	// and PKCE with S256 mandatory. A confidential client may authenticate with
	// client_secret_basic or client_secret_post.
	Secret string `json:"-"`
	// RedirectURIs are the allowed redirect_uri values, compared exactly.
	RedirectURIs []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs are the allowed post_logout_redirect_uri values, compared exactly.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// BackChannelLogoutURI, if set, receives a logout token when a session the client took part
	// in ends.
	BackChannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
}

// Config configures a Provider. Only Issuer and DataDir are required.
type Config struct {
	// Issuer is the issuer URL, e.g. "http://127.0.0.1:9998". Its host must be a loopback address
	// (127.0.0.0/8, ::1) or "localhost"; it must have no path, query or fragment. The provider
	// serves it at the root of its Handler.
	Issuer string
	// DataDir holds the signing key, the client registry and the sessions and tokens (see the
	// package documentation). It is created with mode 0700 if missing. Give each running provider
	// its own DataDir: two providers sharing one would overwrite each other's state.json.
	DataDir string
	// Users are the people who can sign in. Nil means DefaultUsers().
	Users []User
	// Clients are the registered relying parties. Non-nil replaces the registry persisted in
	// DataDir (and is persisted); nil uses the persisted registry, which must then exist.
	Clients []Client
	// Logger receives the provider's logs. Nil means slog.Default(). (The zitadel/oidc library
	// itself always logs to slog.Default().)
	Logger *slog.Logger
	// HTTPClient sends back-channel logout requests. Nil means a client with a 5 s timeout.
	// Redirects are never followed.
	HTTPClient *http.Client
	// AccessTokenLifetime is the lifetime of access tokens; zero means DefaultAccessTokenLifetime.
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime is the lifetime of each refresh token (every rotation issues a fresh
	// one); zero means DefaultRefreshTokenLifetime.
	RefreshTokenLifetime time.Duration
	// IDTokenLifetime is the lifetime of ID tokens; zero means DefaultIDTokenLifetime.
	IDTokenLifetime time.Duration
}

// ValidateLoopbackIssuer checks that issuer is an absolute http or https URL without path, query
// or fragment whose host is a loopback address or "localhost", and returns it without a trailing
// slash.
func ValidateLoopbackIssuer(issuer string) (string, error) {
	if issuer == "" {
		return "", errors.New("issuer is empty; set it to the URL the provider is reached at, e.g. http://127.0.0.1:9998")
	}
	u, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("issuer %q is not a URL: %w", issuer, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("issuer %q must start with http:// or https://", issuer)
	}
	if u.Host == "" {
		return "", fmt.Errorf("issuer %q has no host", issuer)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("issuer %q must not have user info, a query or a fragment", issuer)
	}
	if u.Path != "" && u.Path != "/" {
		return "", fmt.Errorf("issuer %q must not have a path; the provider is served at the root", issuer)
	}
	if !IsLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("issuer %q is not a loopback address: this development provider only runs on 127.0.0.0/8, ::1 or localhost", issuer)
	}
	return u.Scheme + "://" + u.Host, nil
}

// IsLoopbackHost reports whether host (a host name or IP address, without port or brackets) is
// "localhost" or a loopback IP address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateUsers checks that every user has a subject, username and password, that subjects and
// usernames are unique, and that subjects contain no ':' (opaque access tokens embed the subject
// after a ':').
func validateUsers(users []User) error {
	if len(users) == 0 {
		return errors.New("no users: give at least one, or leave Users nil for the demo users")
	}
	subjects := make(map[string]int, len(users))
	usernames := make(map[string]int, len(users))
	for i, u := range users {
		if err := validateUser(u); err != nil {
			return fmt.Errorf("user #%d%s: %w", i+1, userLabel(u), err)
		}
		if j, dup := subjects[u.Subject]; dup {
			return fmt.Errorf("user #%d%s: subject %q is already used by user #%d", i+1, userLabel(u), u.Subject, j)
		}
		if j, dup := usernames[u.Username]; dup {
			return fmt.Errorf("user #%d%s: username %q is already used by user #%d", i+1, userLabel(u), u.Username, j)
		}
		subjects[u.Subject] = i + 1
		usernames[u.Username] = i + 1
	}
	return nil
}

func validateUser(u User) error {
	switch {
	case strings.TrimSpace(u.Subject) == "":
		return errors.New(`missing "subject"`)
	case strings.TrimSpace(u.Username) == "":
		return errors.New(`missing "username"`)
	case u.Password == "":
		return errors.New(`missing "password"`)
	case strings.Contains(u.Subject, ":"):
		return fmt.Errorf(`"subject" %q must not contain ':'`, u.Subject)
	}
	return nil
}

func userLabel(u User) string {
	if u.Username != "" {
		return fmt.Sprintf(" (%q)", u.Username)
	}
	return ""
}

// validateClients checks the client registry: unique non-empty IDs, at least one redirect URI, and
// absolute http(s) URLs without fragments everywhere.
func validateClients(clients []Client) error {
	if len(clients) == 0 {
		return errors.New("no clients: register at least one")
	}
	seen := make(map[string]bool, len(clients))
	for i, c := range clients {
		label := fmt.Sprintf("client #%d", i+1)
		if c.ID != "" {
			label = fmt.Sprintf("client %q", c.ID)
		}
		if strings.TrimSpace(c.ID) == "" {
			return fmt.Errorf("%s: missing ID", label)
		}
		if seen[c.ID] {
			return fmt.Errorf("%s: ID registered twice", label)
		}
		seen[c.ID] = true
		if len(c.RedirectURIs) == 0 {
			return fmt.Errorf("%s: no redirect URIs", label)
		}
		for _, u := range c.RedirectURIs {
			if err := validateClientURL(u); err != nil {
				return fmt.Errorf("%s: redirect URI: %w", label, err)
			}
		}
		for _, u := range c.PostLogoutRedirectURIs {
			if err := validateClientURL(u); err != nil {
				return fmt.Errorf("%s: post-logout redirect URI: %w", label, err)
			}
		}
		if c.BackChannelLogoutURI != "" {
			if err := validateClientURL(c.BackChannelLogoutURI); err != nil {
				return fmt.Errorf("%s: back-channel logout URI: %w", label, err)
			}
		}
	}
	return nil
}

func validateClientURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http:// or https:// URL", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%q must not have a fragment", raw)
	}
	return nil
}

// LoadUsers reads a users file: a JSON array of objects with the fields of User in snake_case,
// for example
//
//	[{"subject": "u1", "username": "alice", "password": "pw", "name": "Alice", "email": "alice@example.test"}]
//
// Errors name the file and the line of the problem: bad JSON, an unknown field, a user missing
// subject, username or password, or a duplicate subject or username.
func LoadUsers(path string) ([]User, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devidp: load users: %w", err)
	}
	users, err := parseUsers(data)
	if err != nil {
		return nil, fmt.Errorf("devidp: load users: %s:%w", path, err)
	}
	return users, nil
}

// parseUsers decodes a users file. Errors start with "<line>: " (the caller prefixes the file).
func parseUsers(data []byte) ([]User, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErrorAt(data, dec.InputOffset(), err)
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '[' {
		return nil, fmt.Errorf("%d: expected a JSON array of users, found %v", lineAt(data, 0), tok)
	}
	var users []User
	for dec.More() {
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonErrorAt(data, start, err)
		}
		// InputOffset is the end of the previous token; skip the separator and white space so the
		// line reported is the one of the opening brace.
		start += int64(len(data[start:]) - len(bytes.TrimLeft(data[start:], ", \t\r\n")))
		n := len(users) + 1
		line := lineAt(data, start)
		var u User
		ud := json.NewDecoder(bytes.NewReader(raw))
		ud.DisallowUnknownFields()
		if err := ud.Decode(&u); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) {
				return nil, fmt.Errorf("%d: user #%d: field %q: expected %s, found JSON %s",
					lineAt(data, start+typeErr.Offset), n, typeErr.Field, typeErr.Type, typeErr.Value)
			}
			return nil, fmt.Errorf("%d: user #%d: %w", line, n, err)
		}
		if err := validateUser(u); err != nil {
			return nil, fmt.Errorf("%d: user #%d%s: %w", line, n, userLabel(u), err)
		}
		users = append(users, u)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonErrorAt(data, dec.InputOffset(), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%d: unexpected data after the array of users", lineAt(data, dec.InputOffset()))
	}
	if err := validateUsers(users); err != nil {
		return nil, fmt.Errorf("%d: %w", lineAt(data, 0), err)
	}
	return users, nil
}

// jsonErrorAt turns a decoding error into "<line>: <message>", using the error's own offset when
// it has one.
func jsonErrorAt(data []byte, offset int64, err error) error {
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		offset = syntaxErr.Offset
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%d: unexpected end of file (unterminated JSON)", lineAt(data, int64(len(data))))
	}
	return fmt.Errorf("%d: invalid JSON: %w", lineAt(data, offset), err)
}

// lineAt returns the 1-based line number of byte offset in data.
func lineAt(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	return bytes.Count(data[:offset], []byte{'\n'}) + 1
}
