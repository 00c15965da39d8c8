package handlers_test

// Denial of service and malformed input: huge query strings, many and odd cookies, oversize and
// malformed bodies, odd paths, a hanging provider.

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/auth/authtest"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

// TestAttackHugeQueryStrings: up to most of a megabyte of query on every browser route: never a 5xx, always
// HTML, a signed-in session unharmed.
func TestAttackHugeQueryStrings(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	big := strings.Repeat("A", 250<<10) // three of them stay under net/http's 1 MB header limit
	many := strings.Repeat("a=1&", 50000)
	for _, path := range []string{"/", "/profile", "/fragments/header", "/auth/signed-out", "/auth/login", "/auth/callback", "/nope"} {
		for name, q := range map[string]string{
			"one huge value":        "return_to=/" + big + "&state=" + big,
			"many parameters":       many,
			"huge error":            "error=" + big + "&error_description=" + big + "&state=" + big,
			"bad escapes":           "state=%zz&code=%&return_to=%%2F&error=%",
			"semicolons":            "state=a;code=b;return_to=//evil.example",
			"invalid UTF-8":         "return_to=/%ff%fe&state=%c0%af&error=%ed%a0%80",
			"huge code and state":   "code=" + big + "&state=" + big + "&iss=" + big,
			"thousands of iss/code": strings.Repeat("iss=x&code=y&", 20000) + "state=s",
		} {
			r := b.Get(path + "?" + q)
			if r.StatusCode >= 500 {
				t.Errorf("%s with %s: status %d", path, name, r.StatusCode)
			}
			if ct := r.Header.Get("Content-Type"); r.StatusCode != http.StatusSeeOther && !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s with %s: Content-Type %q", path, name, ct)
			}
			if loc := r.Header.Get("Location"); loc != "" && !strings.HasPrefix(loc, e.op.URL()) {
				atkSameOrigin(t, e.app, path+" "+name, loc)
			}
			if len(r.Header.Get("Location")) > 8<<10 {
				t.Errorf("%s with %s: the query is reflected into a %d-byte Location", path, name, len(r.Header.Get("Location")))
			}
		}
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("session harmed: %q", got)
	}
}

// TestAttackOddCookies: hundreds of cookies, a huge or malformed session cookie, two session cookies:
// pages answer, nothing panics, and a valid session is never damaged by them.
func TestAttackOddCookies(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	valid := b.SessionCookie().Value
	name := e.app.Sessions.CookieName()
	var many []string
	for i := range 400 {
		many = append(many, "c"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+"="+strings.Repeat("v", 50))
	}
	for label, cookie := range map[string]string{
		"400 cookies":                   strings.Join(many, "; ") + "; " + name + "=" + valid,
		"huge session cookie":           name + "=" + strings.Repeat("Z", 60000),
		"session cookie with odd bytes": name + "=\"%00%0d%0a\\\"",
		"empty session cookie":          name + "=",
		"garbage first, valid second":   name + "=garbage; " + name + "=" + valid,
		"valid first, garbage second":   name + "=" + valid + "; " + name + "=garbage",
		"cookie header of semicolons":   strings.Repeat(";", 10000),
		"prefixed name variants":        "__Host-" + name + "=" + valid + "; __Secure-" + name + "=x",
	} {
		for _, path := range []string{"/", "/fragments/header", "/auth/login?return_to=/", "/profile"} {
			r := atkDo(t, e.app, nil, http.MethodGet, path, "", "Cookie", cookie, "HX-Request", "true")
			if r.StatusCode >= 500 {
				t.Errorf("%s on %s: %d %.200s", label, path, r.StatusCode, r.Body)
			}
			for _, c := range r.Cookies() {
				if c.Name == name && c.Value == valid && label != "400 cookies" && label != "valid first, garbage second" {
					t.Errorf("%s on %s: the valid session token was handed out", label, path)
				}
			}
		}
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("the valid session was damaged: %q", got)
	}
	if strings.Contains(e.app.Logs.String(), "PANIC") {
		t.Errorf("panic logged")
	}
}

// TestAttackOversizeAndMalformedBodies: bodies past the 64 KiB cap, chunked or not, and malformed forms
// on the sign-out route: a readable 4xx, one log line, the session intact.
func TestAttackOversizeAndMalformedBodies(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	token := b.CSRFToken()
	same := []string{"Origin", e.app.URL, "Sec-Fetch-Site", "same-origin"}
	for _, tc := range []struct {
		name, body, ctype string
		status            int
	}{
		{"100 KiB form with the right token", "csrf_token=" + url.QueryEscape(token) + "&pad=" + strings.Repeat("A", 100<<10), "application/x-www-form-urlencoded", 413},
		{"malformed form", "csrf_token=%zz&%", "application/x-www-form-urlencoded", 403},
		{"multipart without boundary", "csrf_token=" + token, "multipart/form-data", 403},
		{"multipart with a broken body", "--X\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n", "multipart/form-data; boundary=X", 403},
		{"JSON", `{"csrf_token":"` + token + `"}`, "application/json", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := atkCount(e.app, atkFailedLine)
			r := atkDo(t, e.app, b, http.MethodPost, "/auth/logout", tc.body, append([]string{"Content-Type", tc.ctype}, same...)...)
			if r.StatusCode != tc.status {
				t.Errorf("status %d, want %d", r.StatusCode, tc.status)
			}
			if !strings.Contains(r.Body, `data-testid="error"`) {
				t.Errorf("no readable error page: %.200s", r.Body)
			}
			if n := atkCount(e.app, atkFailedLine) - before; n != 1 {
				t.Errorf("%d 'request failed' lines, want 1", n)
			}
			if got := headerName(t, b); got != "Ada Lovelace" {
				t.Fatalf("session harmed: %q", got)
			}
		})
	}
	// Chunked, no Content-Length, past the cap.
	req, _ := http.NewRequest(http.MethodPost, e.app.URL+"/auth/logout", &slowReader{n: 200 << 10})
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.app.URL)
	resp, err := b.HTTP.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("chunked oversize body: status %d", resp.StatusCode)
		}
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("session harmed by a chunked body: %q", got)
	}
}

// slowReader yields n bytes of a form field.
type slowReader struct{ n, off int }

func (r *slowReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := min(len(p), r.n-r.off)
	for i := range k {
		p[i] = 'a'
	}
	if r.off == 0 && k > 2 {
		copy(p, "x=")
	}
	r.off += k
	return k, nil
}

// TestAttackOddPaths: odd, encoded and overlong paths get the 404 page, never a 5xx or a redirect away.
func TestAttackOddPaths(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	for _, p := range []string{
		"/%00", "/%ff%fe", "/..%2f..%2fetc%2fpasswd", "/assets/..%2f..%2fgo.mod", "/assets/../../go.mod", "/assets/%2e%2e/%2e%2e/go.mod",
		"/" + strings.Repeat("a/", 20000), "/auth/callback/", "/auth/CALLBACK", "/profile/", "/profile%2f", "/;jsessionid=1",
		"/fragments/header/../../profile", "/%E2%80%AE", "/auth/login/..",
	} {
		r := atkDo(t, e.app, b, http.MethodGet, e.app.URL+p, "")
		if r.StatusCode >= 500 {
			t.Errorf("%.60s: %d", p, r.StatusCode)
		}
		if strings.Contains(r.Body, "module github.com/hxoidc") {
			t.Errorf("%.60s: served a file outside the assets", p)
		}
		if loc := r.Header.Get("Location"); loc != "" && !strings.HasPrefix(loc, e.op.URL()) {
			atkSameOrigin(t, e.app, p, loc)
		}
	}
}

// TestAttackDiscoveryStampede: while the provider hangs on discovery, sign-in attempts of different
// browsers must each fail fast (one provider timeout at most), not queue behind each other.
func TestAttackDiscoveryStampede(t *testing.T) {
	// Regression test for a fixed bug: auth.Client.Discover serialises discoveries with a mutex and each waiter runs its own discovery after the previous failed: N concurrent sign-ins against a hanging provider answer after ~N x OIDC_HTTP_TIMEOUT
	op := authtest.New(t, authtest.Options{ClientSecret: "s3cret"})
	// Down (fast failures) at start, so the background retries (1 s, 2 s, 4 s apart) stay short ...
	op.SetBehavior(func(b *authtest.Behavior) { b.DiscoveryStatus = 503 })
	app := apptest.Start(t, apptest.Options{Issuer: op.Issuer(), ClientID: op.ClientID(), ClientSecret: op.ClientSecret(),
		Env: map[string]string{auth.EnvHTTPTimeout: "1s"}})
	// ... then hanging, 2.5 s after the retry at +3 s: past the 2 s gate of auth.Client.metadata.
	time.Sleep(5500 * time.Millisecond)
	op.SetBehavior(func(b *authtest.Behavior) { b.DiscoveryStatus = 0; b.DiscoveryHang = true })
	const n = 5
	var wg sync.WaitGroup
	took := make([]time.Duration, n)
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			r := app.Browser().Get("/auth/login?return_to=/")
			took[i], codes[i] = time.Since(start), r.StatusCode
		}()
	}
	wg.Wait()
	for i := range n {
		if codes[i] != http.StatusServiceUnavailable {
			t.Errorf("sign-in %d: status %d", i, codes[i])
		}
		if took[i] > 2500*time.Millisecond {
			t.Errorf("sign-in %d answered after %s (provider timeout 1s): attempts queue behind each other", i, took[i].Round(100*time.Millisecond))
		}
	}
}

// TestAttackHangingProviderFreezesTheBrowser: a callback waiting on a hanging token endpoint holds its
// session's lock; the person's other tabs (the home page, the header re-check) must still answer.
func TestAttackHangingProviderFreezesTheBrowser(t *testing.T) {
	// Regression test for a fixed bug: Sessions.Serialize holds the per-cookie lock for the whole callback (up to 25 s with a hanging provider): every other page and htmx request of that browser waits that long
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, func(o *apptest.Options) { o.CallbackTimeout = 4 * time.Second })
	b := e.app.Browser()
	mustSignIn(t, e, b)
	cb, err := e.op.Approve(b.StartSignIn("/"))
	if err != nil {
		t.Fatal(err)
	}
	e.op.SetBehavior(func(bh *authtest.Behavior) { bh.TokenHang = true })
	done := make(chan struct{})
	go func() { defer close(done); b.Get(cb) }()
	deadline := time.Now().Add(5 * time.Second)
	for e.op.Requests().Token < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	r := b.Get("/fragments/header", "HX-Request", "true")
	took := time.Since(start)
	e.op.SetBehavior(func(bh *authtest.Behavior) { bh.TokenHang = false })
	<-done
	if r.StatusCode != http.StatusOK || took > time.Second {
		t.Errorf("the header of a signed-in tab took %s (status %d) while another tab's callback waited on the provider", took.Round(100*time.Millisecond), r.StatusCode)
	}
}
