package interop

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/PuerkitoBio/goquery"
)

// person is who fills in the provider's forms.
type person struct {
	Username, Password string
}

// visit is the outcome of walking a provider's pages.
type visit struct {
	// Left is the first redirect that leaves the provider (for example the authorization response at
	// the app's redirect_uri), not requested; nil when the walk ended on a provider page without a form.
	Left *url.URL
	// Page is the text of the last provider page when the walk ended there.
	Page string
	// Forms are the actions of the forms submitted, in order; Passwords counts those with a password field.
	Forms     []string
	Passwords int
	// Trace is every hop, for failure messages.
	Trace []string
}

// walk drives a provider's pages the way a person in a browser would: it follows redirects while they stay
// on the provider's origin and submits each page's form (the login form with who's name and password, a
// consent form, a logout confirmation) with its default button. It stops at the first redirect that leaves
// the provider, without requesting it, or at a provider page that has no form. client must keep cookies
// and must not follow redirects (apptest.Browser.HTTP).
func walk(client *http.Client, start, providerOrigin string, who person) (*visit, error) {
	v := &visit{}
	req, err := http.NewRequest(http.MethodGet, start, nil)
	if err != nil {
		return v, err
	}
	for range 20 {
		resp, err := client.Do(req)
		if err != nil {
			return v, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return v, fmt.Errorf("read %s: %w", req.URL.Redacted(), err)
		}
		v.Trace = append(v.Trace, fmt.Sprintf("%s %s -> %d", req.Method, req.URL.Redacted(), resp.StatusCode))

		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return v, fmt.Errorf("%s %s: redirect without Location: %w", req.Method, req.URL.Redacted(), err)
			}
			if origin(loc) != providerOrigin {
				v.Left = loc
				return v, nil
			}
			if req, err = http.NewRequest(http.MethodGet, loc.String(), nil); err != nil {
				return v, err
			}
		case resp.StatusCode == http.StatusOK:
			doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
			if err != nil {
				return v, fmt.Errorf("parse %s: %w", req.URL.Redacted(), err)
			}
			form := doc.Find("form").First()
			if form.Length() == 0 {
				v.Page = pageText(doc)
				return v, nil
			}
			action, values, hasPassword := fillForm(doc, form, who)
			target, err := req.URL.Parse(action)
			if err != nil {
				return v, fmt.Errorf("form action %q on %s: %w", action, req.URL.Redacted(), err)
			}
			method := strings.ToUpper(strings.TrimSpace(form.AttrOr("method", "get")))
			v.Forms = append(v.Forms, target.Path)
			if hasPassword {
				v.Passwords++
			}
			if method == http.MethodPost {
				req, err = http.NewRequest(http.MethodPost, target.String(), strings.NewReader(values.Encode()))
				if err == nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					// What a browser sends with a form post from the provider's own page.
					req.Header.Set("Origin", providerOrigin)
				}
			} else {
				target.RawQuery = values.Encode()
				req, err = http.NewRequest(http.MethodGet, target.String(), nil)
			}
			if err != nil {
				return v, err
			}
		default:
			doc, _ := goquery.NewDocumentFromReader(bytes.NewReader(body))
			text := string(body)
			if doc != nil {
				text = pageText(doc)
			}
			return v, fmt.Errorf("%s %s: status %d: %.400s", req.Method, req.URL.Redacted(), resp.StatusCode, text)
		}
	}
	return v, fmt.Errorf("still on the provider after 20 requests: %s", strings.Join(v.Trace, "; "))
}

// fillForm returns the form's action and the values a browser would submit: its inputs as they are, the
// login name and password filled in, and the name and value of its default button (the first submit
// button inside the form or associated with it by the form attribute, as oidc-provider's logout page does).
func fillForm(doc *goquery.Document, form *goquery.Selection, who person) (string, url.Values, bool) {
	values := url.Values{}
	hasPassword := false
	form.Find("input").Each(func(_ int, in *goquery.Selection) {
		name, ok := in.Attr("name")
		if !ok || name == "" {
			return
		}
		typ := strings.ToLower(in.AttrOr("type", "text"))
		switch {
		case typ == "password":
			values.Set(name, who.Password)
			hasPassword = true
		case typ == "submit" || typ == "button" || typ == "image" || typ == "reset":
		case (typ == "checkbox" || typ == "radio") && !in.Is("[checked]"):
		case (typ == "text" || typ == "email") && (name == "username" || name == "login" || name == "email"):
			values.Set(name, who.Username)
		default:
			values.Add(name, in.AttrOr("value", ""))
		}
	})
	var buttons *goquery.Selection
	if id, ok := form.Attr("id"); ok && id != "" {
		buttons = doc.Find(`button, input[type="submit"]`).FilterFunction(func(_ int, b *goquery.Selection) bool {
			if f, ok := b.Attr("form"); ok {
				return f == id
			}
			return b.Closest("form").IsSelection(form)
		})
	} else {
		buttons = form.Find(`button, input[type="submit"]`).FilterFunction(func(_ int, b *goquery.Selection) bool {
			_, other := b.Attr("form")
			return !other
		})
	}
	buttons = buttons.FilterFunction(func(_ int, b *goquery.Selection) bool {
		t := strings.ToLower(b.AttrOr("type", "submit"))
		return t == "submit"
	})
	if def := buttons.First(); def.Length() == 1 {
		if name := def.AttrOr("name", ""); name != "" {
			values.Set(name, def.AttrOr("value", ""))
		}
	}
	return form.AttrOr("action", ""), values, hasPassword
}

func pageText(doc *goquery.Document) string {
	return strings.Join(strings.Fields(doc.Find("body").Text()), " ")
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }
