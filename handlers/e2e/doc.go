// Package e2e holds the real-browser tests of hxoidc: headless Chromium (driven with chromedp) against
// the real app (handlers/apptest) and the development OpenID provider (auth/devidp), both started
// in-process on 127.0.0.1 for each test.
//
// The tests cover the promise of the project end to end: popup sign-in and sign-out swap the
// session-aware fragments without a page reload, other tabs follow, a blocked popup and a browser
// without JavaScript fall back to the full-page redirect flow, an htmx request to a protected page
// leads through sign-in back to the page, Back after sign-out shows nothing private, the keyboard alone
// is enough, and no page logs an error or violates the Content-Security-Policy. They also save
// screenshots of the home page to /screenshots at the module root (git-ignored).
//
// They need Chromium: /usr/bin/chromium, or chromium on PATH. Without it the tests are skipped, or fail
// when the environment variable CI is "true". Run them with
//
//	go test -count=1 ./handlers/e2e/ -v
package e2e
