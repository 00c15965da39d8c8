// Package assets embeds the static files of the app (CSS, the auth bridge script, vendored htmx) and serves
// them under content-hashed URLs, so they can be cached forever and a deploy never serves a stale file.
//
//	assets.Path("app.css")            // "/assets/app.3f2a9c01de.css"
//	assets.Path("vendor/htmx.min.js") // "/assets/vendor/htmx-4.0.1.min.5b7e0a91c2.js" (whatever version is vendored)
//	e.GET("/assets/*", echo.WrapHandler(assets.Handler()))
package assets

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Prefix is the URL path under which Handler serves the files.
const Prefix = "/assets/"

//go:embed static
var static embed.FS

// hashLen is how many hex digits of the SHA-256 of a file go into its URL.
const hashLen = 10

type file struct {
	name        string // path inside static/, e.g. "vendor/htmx-4.0.1.min.js"
	url         string // hashed URL, e.g. "/assets/vendor/htmx-4.0.1.min.0123456789.js"
	data        []byte
	etag        string
	contentType string
}

type index struct {
	byName map[string]*file // name and alias → file
	byURL  map[string]*file // hashed URL → file
}

var (
	once sync.Once
	idx  *index
)

func load() *index {
	once.Do(func() { idx = build(static) })
	return idx
}

// build hashes every file under static/. It is separate from load so tests can feed it other trees.
func build(fsys fs.FS) *index {
	x := &index{byName: map[string]*file{}, byURL: map[string]*file{}}
	sub, err := fs.Sub(fsys, "static")
	if err != nil {
		panic(err) // cannot happen with a literal, valid directory name
	}
	_ = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		h := hex.EncodeToString(sum[:])
		f := &file{
			name:        name,
			url:         hashedURL(name, h[:hashLen]),
			data:        data,
			etag:        `"` + h[:32] + `"`,
			contentType: contentType(name),
		}
		x.byName[name] = f
		x.byURL[f.url] = f
		return nil
	})
	x.addVendorAliases()
	return x
}

// hashedURL turns "dir/base.ext" into "/assets/dir/base.<hash>.ext".
func hashedURL(name, hash string) string {
	dir, base := path.Split(name)
	ext := path.Ext(base)
	if ext == "" {
		return Prefix + dir + base + "." + hash
	}
	return Prefix + dir + strings.TrimSuffix(base, ext) + "." + hash + ext
}

// versioned matches vendored file names carrying a version, e.g. "htmx-4.0.1.min.js" or "htmx-4.1.0-beta.2.js".
var versioned = regexp.MustCompile(`^(.+)-v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z]+(?:\.\d+)?)?((?:\.min)?\.[a-z0-9]+)$`)

// addVendorAliases lets views name vendored files without their version: "vendor/htmx.min.js" resolves to
// "vendor/htmx-4.0.1.min.js". If several versions are vendored, the highest wins.
func (x *index) addVendorAliases() {
	type cand struct {
		f   *file
		ver [3]int
		pre string
	}
	best := map[string]cand{}
	names := make([]string, 0, len(x.byName))
	for n := range x.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		dir, base := path.Split(n)
		if !strings.HasPrefix(dir, "vendor/") {
			continue
		}
		m := versioned.FindStringSubmatch(base)
		if m == nil {
			continue
		}
		alias := dir + m[1] + m[6]
		c := cand{f: x.byName[n], pre: m[5]}
		for i := range 3 {
			c.ver[i], _ = strconv.Atoi(m[2+i])
		}
		if old, ok := best[alias]; !ok || newer(c.ver, c.pre, old.ver, old.pre) {
			best[alias] = c
		}
	}
	for alias, c := range best {
		if _, taken := x.byName[alias]; !taken {
			x.byName[alias] = c.f
		}
	}
}

func newer(a [3]int, apre string, b [3]int, bpre string) bool {
	for i := range 3 {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	// A release is newer than its pre-releases.
	if (apre == "") != (bpre == "") {
		return apre == ""
	}
	return apre > bpre
}

var contentTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".map":   "application/json; charset=utf-8",
	".json":  "application/json; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".webp":  "image/webp",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// Path returns the content-hashed URL of a static file, e.g. Path("app.css") == "/assets/app.<10 hex>.css".
// Vendored files may be named without their version ("vendor/htmx.min.js"). An unknown name yields
// "/assets/"+name, which Handler answers with 404; it never panics (views tests assert every name exists).
func Path(name string) string {
	if f, ok := load().byName[strings.TrimPrefix(name, "/")]; ok {
		return f.url
	}
	return Prefix + strings.TrimPrefix(name, "/")
}

// Handler serves the embedded files under their hashed URLs (see Path) with
// "Cache-Control: public, max-age=31536000, immutable", the right Content-Type, an ETag (If-None-Match → 304)
// and X-Content-Type-Options: nosniff. Unhashed, stale-hash or unknown paths and directories answer 404.
// Only GET and HEAD are allowed.
//
// Mount it either on the full path (e.g. echo: e.GET("/assets/*", echo.WrapHandler(assets.Handler()))) or
// behind http.StripPrefix("/assets", ...): both forms of the path are understood.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := load()
		p := r.URL.Path
		if !strings.HasPrefix(p, Prefix) {
			p = strings.TrimSuffix(Prefix, "/") + p
		}
		f, ok := x.byURL[p]
		if !ok {
			w.Header().Set("Cache-Control", "no-store")
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", f.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.data))
	})
}

// Names lists the embedded files (paths inside static/, e.g. "app.css", "vendor/htmx-4.0.1.min.js").
func Names() []string {
	x := load()
	var out []string
	for _, f := range x.byURL {
		out = append(out, f.name)
	}
	sort.Strings(out)
	return out
}

// Exists reports whether Path(name) resolves to an embedded file (aliases included).
func Exists(name string) bool {
	_, ok := load().byName[strings.TrimPrefix(name, "/")]
	return ok
}
