package devidp

import (
	"net/url"
	"testing"
)

func TestAddIssParameter(t *testing.T) {
	const iss = "http://127.0.0.1:9998"
	for _, tc := range []struct{ in, want string }{
		// Query responses, success and error.
		{"http://app.test/cb?code=abc&state=xyz", "http://app.test/cb?code=abc&iss=http%3A%2F%2F127.0.0.1%3A9998&state=xyz"},
		{"http://app.test/cb?error=access_denied&state=s", "http://app.test/cb?error=access_denied&iss=http%3A%2F%2F127.0.0.1%3A9998&state=s"},
		// Fragment responses keep the parameters in the fragment.
		{"http://app.test/cb#code=abc&state=xyz", "http://app.test/cb#code=abc&iss=http%3A%2F%2F127.0.0.1%3A9998&state=xyz"},
		// Not authorization responses: unchanged.
		{iss + "/login?authRequestID=abc", iss + "/login?authRequestID=abc"},
		{"/login?authRequestID=abc", "/login?authRequestID=abc"},
		{"http://app.test/somewhere?x=1", "http://app.test/somewhere?x=1"},
		// Already present: unchanged.
		{"http://app.test/cb?code=a&iss=x", "http://app.test/cb?code=a&iss=x"},
	} {
		if got := addIssParameter(tc.in, iss); got != tc.want {
			t.Errorf("addIssParameter(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	// The fragment variant parses back to the right values.
	u, _ := url.Parse(addIssParameter("http://app.test/cb#code=a%2Bb&state=s", iss))
	frag, err := url.ParseQuery(u.EscapedFragment())
	if err != nil || frag.Get("iss") != iss || frag.Get("code") != "a+b" {
		t.Fatalf("fragment %q: %v %v", u.EscapedFragment(), frag, err)
	}
}

func TestCanonicalHost(t *testing.T) {
	for _, tc := range []struct{ scheme, in, want string }{
		{"http", "LOCALHOST:9998", "localhost:9998"},
		{"http", "127.0.0.1:80", "127.0.0.1"},
		{"https", "localhost:443", "localhost"},
		{"http", "[::1]:80", "[::1]"},
		{"http", "[::1]:9998", "[::1]:9998"},
		{"https", "127.0.0.1:80", "127.0.0.1:80"},
	} {
		if got := canonicalHost(tc.scheme, tc.in); got != tc.want {
			t.Errorf("canonicalHost(%q, %q) = %q, want %q", tc.scheme, tc.in, got, tc.want)
		}
	}
}

func TestLineAt(t *testing.T) {
	data := []byte("a\nb\nc")
	for offset, want := range map[int64]int{0: 1, 1: 1, 2: 2, 4: 3, 99: 3, -1: 1} {
		if got := lineAt(data, offset); got != want {
			t.Errorf("lineAt(%d) = %d, want %d", offset, got, want)
		}
	}
}
