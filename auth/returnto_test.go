package auth

import (
	"net/url"
	"strings"
	"testing"
)

// Open-redirect payloads from public advisories and oauth2-proxy's redirect test corpus: every one must
// fall back to "/".
var openRedirectPayloads = []string{
	"", "http://evil.example", "https://evil.example/", "//evil.example", "///evil.example", "////evil.example",
	`/\evil.example`, `\\evil.example`, `\/evil.example`, `/\/evil.example`, "/%2F/evil.example", "/%2f%2fevil.example",
	"%2F%2Fevil.example", "/%5Cevil.example", "/%5cevil.example", "/%255Cevil.example", "/%252F%252Fevil.example",
	"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example",
	"/\x00/evil.example", "/ /evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
	"data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "evil.example",
	"https:evil.example", "http:/evil.example", "/\u3000/evil.example", "/\u2028/evil.example",
	"//evil.example/%2e%2e", "/.\\evil.example", "/\\\\evil.example", "/..\\evil.example", "\t//evil.example",
	" /x", "https://app.example@evil.example", "//app.example@evil.example", "/\x7f/evil.example", "/%7f/evil.example",
	"/" + strings.Repeat("a", 3000),
}

func TestSafeReturnToRejects(t *testing.T) {
	for _, p := range openRedirectPayloads {
		if got := SafeReturnTo(p); got != "/" {
			t.Errorf("SafeReturnTo(%q) = %q, want /", p, got)
		}
	}
}

func TestSafeReturnToKeeps(t *testing.T) {
	for in, want := range map[string]string{
		"/":                   "/",
		"/profile":            "/profile",
		"/profile?tab=claims": "/profile?tab=claims",
		"/a/b/c?x=1&y=%2F":    "/a/b/c?x=1&y=%2F",
		"/page#section":       "/page",
		"/search?q=a%20b":     "/search?q=a%20b",
		"/caf%C3%A9":          "/caf%C3%A9",
		"/a//b":               "/a//b",
		"/..//x":              "/..//x",
		"/path;param":         "/path;param",
		"/?return_to=//evil":  "/?return_to=//evil",
		// Same-origin paths that merely look odd stay (the browser keeps them on this origin).
		"/%20/evil.example":      "/%20/evil.example",
		"/javascript:alert(1)//": "/javascript:alert(1)//",
	} {
		if got := SafeReturnTo(in); got != want {
			t.Errorf("SafeReturnTo(%q) = %q, want %q", in, got, want)
		}
	}
}

// staysOnOrigin resolves target the way a browser resolves a Location header against the app's origin.
func staysOnOrigin(target string) bool {
	base, _ := url.Parse("https://app.example/current/page")
	// Browsers drop ASCII tab and newline and read backslash as slash before resolving.
	cleaned := strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(target)
	u, err := base.Parse(cleaned)
	return err == nil && u.Scheme == "https" && u.Host == "app.example" && u.User == nil
}

func FuzzSafeReturnTo(f *testing.F) {
	for _, p := range openRedirectPayloads {
		f.Add(p)
	}
	f.Add("/profile?tab=1")
	f.Fuzz(func(t *testing.T, raw string) {
		got := SafeReturnTo(raw)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n") {
			t.Fatalf("SafeReturnTo(%q) = %q: not a plain absolute path", raw, got)
		}
		if !staysOnOrigin(got) {
			t.Fatalf("SafeReturnTo(%q) = %q leaves the origin", raw, got)
		}
		// Decoded once more (a proxy or framework may), it still stays on the origin.
		if d, err := url.PathUnescape(got); err == nil && !staysOnOrigin(d) {
			t.Fatalf("SafeReturnTo(%q) = %q leaves the origin once decoded (%q)", raw, got, d)
		}
		if SafeReturnTo(got) != got {
			t.Fatalf("SafeReturnTo is not idempotent on %q: %q then %q", raw, got, SafeReturnTo(got))
		}
	})
}
