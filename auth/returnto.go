package auth

import (
	"net/url"
	"strings"
	"unicode"
)

// SafeReturnTo returns raw when it is a same-origin relative path that every browser and proxy reads the
// same way, and "/" otherwise. It accepts only an absolute path ("/x"), never a scheme, host, user info,
// backslash, control or space character, or anything that a browser might resolve to another origin
// ("//evil", "/\evil", "/%2F%2Fevil", "/%5Cevil", "/\t/evil"). The fragment is dropped: it never reaches
// the server anyway.
func SafeReturnTo(raw string) string {
	const fallback = "/"
	if raw == "" || len(raw) > 2048 || raw[0] != '/' {
		return fallback
	}
	for _, r := range raw {
		// Browsers strip tab and newline from URLs and treat backslash as slash, which turns "/\t/x" or
		// "/\\x" into the protocol-relative "//x".
		if r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return fallback
		}
	}
	if len(raw) > 1 && (raw[1] == '/' || raw[1] == '\\') {
		return fallback
	}
	// Decoding once (and twice, for double-encoded payloads) must not reveal a slash or backslash that a
	// later hop (proxy, framework, browser) could turn into "//host" or "/\host".
	decoded := raw
	for range 2 {
		d, err := url.PathUnescape(decoded)
		if err != nil {
			return fallback
		}
		decoded = d
		if strings.HasPrefix(decoded, "//") || strings.HasPrefix(decoded, "/\\") || strings.ContainsAny(decoded, "\\") {
			return fallback
		}
		for _, r := range decoded {
			if unicode.IsControl(r) {
				return fallback
			}
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return fallback
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}
