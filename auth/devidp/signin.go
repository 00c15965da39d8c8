package devidp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// ErrSignInFailed is wrapped by SignIn's error when the provider refused the credentials or the
// authorization request.
var ErrSignInFailed = errors.New("devidp: sign-in failed")

// maxPageBytes bounds the pages SignIn reads.
const maxPageBytes = 1 << 20

// SignIn signs in at a devidp provider the way a browser would, for tests of relying parties.
//
// startURL is the authorization URL (for example from oauth2.Config.AuthCodeURL) or a login page
// URL. client must have a cookie jar: the login form is bound to a browser cookie. SignIn follows
// the provider's redirects to the login page, submits username and password, and follows
// redirects while they stay on the provider's origin (the origin of startURL). It returns the
// first redirect that leaves the provider — the authorization response at the client's
// redirect_uri, with code, state and iss — without requesting it, so the caller decides how it
// reaches the relying party (for example client.Get(u.String()) with the same cookie jar).
//
// A wrong password or an error response from the provider returns an error wrapping
// ErrSignInFailed; for an error redirect to the client the URL is returned too.
func SignIn(ctx context.Context, client *http.Client, startURL, username, password string) (*url.URL, error) {
	if client == nil || client.Jar == nil {
		return nil, errors.New("devidp: sign in: the HTTP client needs a cookie jar (net/http/cookiejar)")
	}
	start, err := url.Parse(startURL)
	if err != nil || !start.IsAbs() {
		return nil, fmt.Errorf("devidp: sign in: start URL %q is not an absolute URL", startURL)
	}
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !sameOrigin(req.URL, start) {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, startURL, nil)
	if err != nil {
		return nil, fmt.Errorf("devidp: sign in: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("devidp: sign in: open %s: %w", startURL, err)
	}
	if u, done, err := leftProvider(resp); done {
		return u, err
	}
	page, err := readPage(resp)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s: %s", ErrSignInFailed, resp.Request.URL.Redacted(), resp.Status, pageMessage(page))
	}
	form, ok := findLoginForm(page)
	if !ok {
		return nil, fmt.Errorf("devidp: sign in: no login form at %s", resp.Request.URL.Redacted())
	}
	action, err := resp.Request.URL.Parse(form.action)
	if err != nil {
		return nil, fmt.Errorf("devidp: sign in: form action %q: %w", form.action, err)
	}
	form.values.Set("username", username)
	form.values.Set("password", password)

	post, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(form.values.Encode()))
	if err != nil {
		return nil, fmt.Errorf("devidp: sign in: %w", err)
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(post)
	if err != nil {
		return nil, fmt.Errorf("devidp: sign in: submit login form: %w", err)
	}
	if u, done, err := leftProvider(resp); done {
		return u, err
	}
	page, err = readPage(resp)
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %s: %s", ErrSignInFailed, resp.Status, pageMessage(page))
}

// leftProvider reports whether resp is a redirect away from the provider and, if so, returns its
// target. An authorization error response is returned with an error.
func leftProvider(resp *http.Response) (*url.URL, bool, error) {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil, false, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPageBytes))
	_ = resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return nil, true, fmt.Errorf("devidp: sign in: redirect without a usable Location: %w", err)
	}
	params := loc.Query()
	if loc.Fragment != "" {
		if frag, err := url.ParseQuery(loc.Fragment); err == nil && (frag.Has("code") || frag.Has("error")) {
			params = frag
		}
	}
	if e := params.Get("error"); e != "" {
		return loc, true, fmt.Errorf("%w: authorization error %q: %s", ErrSignInFailed, e, params.Get("error_description"))
	}
	return loc, true, nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

func readPage(resp *http.Response) (*html.Node, error) {
	defer func() { _ = resp.Body.Close() }()
	doc, err := html.Parse(io.LimitReader(resp.Body, maxPageBytes))
	if err != nil {
		return nil, fmt.Errorf("devidp: sign in: parse %s: %w", resp.Request.URL.Redacted(), err)
	}
	return doc, nil
}

type loginForm struct {
	action string
	values url.Values
}

// findLoginForm returns the action and input values of <form id="login-form">.
func findLoginForm(doc *html.Node) (loginForm, bool) {
	formNode := findNode(doc, func(n *html.Node) bool { return n.Data == "form" && attr(n, "id") == "login-form" })
	if formNode == nil {
		return loginForm{}, false
	}
	f := loginForm{action: attr(formNode, "action"), values: url.Values{}}
	for n := range formNode.Descendants() {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") != "" {
			f.values.Set(attr(n, "name"), attr(n, "value"))
		}
	}
	return f, true
}

// pageMessage returns the text of the page's error message, or its title.
func pageMessage(doc *html.Node) string {
	for _, id := range []string{"login-error", "page-error"} {
		if n := findNode(doc, func(n *html.Node) bool { return attr(n, "id") == id }); n != nil {
			return textOf(n)
		}
	}
	if n := findNode(doc, func(n *html.Node) bool { return n.Data == "title" }); n != nil {
		return textOf(n)
	}
	return "no error message on the page"
}

func findNode(doc *html.Node, match func(*html.Node) bool) *html.Node {
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && match(n) {
			return n
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
