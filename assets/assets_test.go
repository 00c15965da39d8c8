package assets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

var hashedRe = regexp.MustCompile(`^/assets/(?:[a-z0-9_-]+/)*[A-Za-z0-9_.-]+\.[0-9a-f]{10}\.[a-z0-9]+$`)

func get(t *testing.T, h http.Handler, method, url string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestEveryFileServedUnderItsHashedPath(t *testing.T) {
	h := Handler()
	names := Names()
	for _, want := range []string{"app.css", "auth.js"} {
		if !Exists(want) {
			t.Errorf("static/%s is not embedded", want)
		}
	}
	if len(names) < 3 {
		t.Fatalf("too few embedded files: %v", names)
	}
	for _, name := range names {
		url := Path(name)
		if !hashedRe.MatchString(url) {
			t.Errorf("Path(%q) = %q, not a hashed URL", name, url)
		}
		embedded, err := fs.ReadFile(static, "static/"+name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(embedded)
		if !strings.Contains(url, "."+hex.EncodeToString(sum[:])[:10]+".") {
			t.Errorf("Path(%q) = %q does not carry the content hash", name, url)
		}

		res := get(t, h, http.MethodGet, url)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", url, res.StatusCode)
		}
		if !bytes.Equal(body, embedded) {
			t.Errorf("GET %s: body differs from the embedded file", url)
		}
		if got := res.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", url, got)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", url, got)
		}
		etag := res.Header.Get("ETag")
		if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
			t.Errorf("GET %s: ETag %q", url, etag)
		}
		ct := res.Header.Get("Content-Type")
		switch {
		case strings.HasSuffix(name, ".css"):
			if ct != "text/css; charset=utf-8" {
				t.Errorf("GET %s: Content-Type %q", url, ct)
			}
		case strings.HasSuffix(name, ".js"):
			if ct != "text/javascript; charset=utf-8" {
				t.Errorf("GET %s: Content-Type %q", url, ct)
			}
		case strings.HasSuffix(name, ".svg"):
			if ct != "image/svg+xml" {
				t.Errorf("GET %s: Content-Type %q", url, ct)
			}
		}

		// Conditional request → 304 without a body.
		res = get(t, h, http.MethodGet, url, "If-None-Match", etag)
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s If-None-Match: status %d, want 304", url, res.StatusCode)
		}
		// HEAD: headers, no body.
		res = get(t, h, http.MethodHead, url)
		body, _ = io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || len(body) != 0 {
			t.Errorf("HEAD %s: status %d, %d body bytes", url, res.StatusCode, len(body))
		}
		// Mounted behind http.StripPrefix("/assets", ...).
		res = get(t, http.StripPrefix("/assets", h), http.MethodGet, url)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s through StripPrefix: status %d", url, res.StatusCode)
		}
	}
}

func TestHTMXAlias(t *testing.T) {
	url := Path("vendor/htmx.min.js")
	if !regexp.MustCompile(`^/assets/vendor/htmx-\d+\.\d+\.\d+\.min\.[0-9a-f]{10}\.js$`).MatchString(url) {
		t.Fatalf("Path(vendor/htmx.min.js) = %q", url)
	}
	if res := get(t, Handler(), http.MethodGet, url); res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
}

func TestNotFound(t *testing.T) {
	h := Handler()
	css := Path("app.css")
	wrongHash := regexp.MustCompile(`\.[0-9a-f]{10}\.`).ReplaceAllString(css, ".0000000000.")
	for _, url := range []string{
		"/assets/app.css",            // unhashed
		wrongHash,                    // wrong hash
		"/assets/",                   // directory listing
		"/assets/vendor/",            // directory listing
		"/assets/vendor",             // directory
		"/assets/nope.0123456789.js", // unknown
		"/assets/../assets/assets.go",
		"/assets/static/app.css",
		css + "x",
	} {
		res := get(t, h, http.MethodGet, url)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", url, res.StatusCode)
		}
		if cc := res.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
			t.Errorf("GET %s: 404 must not be cached forever (%q)", url, cc)
		}
	}
	if res := get(t, h, http.MethodPost, css); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: status %d, want 405", css, res.StatusCode)
	}
}

func TestUnknownNameDoesNotPanic(t *testing.T) {
	if got := Path("no/such/file.css"); got != "/assets/no/such/file.css" {
		t.Errorf("Path(unknown) = %q", got)
	}
	if Exists("no/such/file.css") {
		t.Error("Exists(unknown) = true")
	}
}

func TestVendorAliasPicksHighestVersion(t *testing.T) {
	x := build(fstest.MapFS{
		"static/vendor/htmx-4.0.1.min.js":        {Data: []byte("a")},
		"static/vendor/htmx-4.0.10.min.js":       {Data: []byte("b")},
		"static/vendor/htmx-4.0.9.min.js":        {Data: []byte("c")},
		"static/vendor/htmx-4.1.0-beta.1.min.js": {Data: []byte("d")},
		"static/vendor/htmx-4.0.10.js":           {Data: []byte("e")},
		"static/app.css":                         {Data: []byte("f")},
	})
	if got := x.byName["vendor/htmx.min.js"].name; got != "vendor/htmx-4.1.0-beta.1.min.js" {
		t.Errorf("alias → %s", got)
	}
	if got := x.byName["vendor/htmx.js"].name; got != "vendor/htmx-4.0.10.js" {
		t.Errorf("alias → %s", got)
	}
	if _, ok := x.byName["htmx.min.js"]; ok {
		t.Error("aliases only apply under vendor/")
	}
	if !newer([3]int{4, 1, 0}, "", [3]int{4, 1, 0}, "-beta.1") || newer([3]int{4, 1, 0}, "-rc.1", [3]int{4, 1, 0}, "") {
		t.Error("a release must beat its pre-releases")
	}
}
