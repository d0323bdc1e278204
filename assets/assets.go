// Package assets serves Chatzilla's static files (CSS, and the htmx scripts
// that `make assets` copies from node_modules) from the binary itself.
//
// Every URL carries a hash of the file's content, so browsers may cache a file
// for a year: a new build with a changed file has a new URL. Text files are
// gzipped once, at start, for the clients that accept it.
package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// The vendor folder is git-ignored and filled by `make assets` from npm; the
// embed pattern names only "static" so a build without it still compiles.
//
//go:embed static
var static embed.FS

// Files the pages refer to by name.
const (
	Stylesheet = "app.css"
	Script     = "chat.js"
	Icon       = "favicon.svg"
	// HTMX is htmx and its SSE extension in one file (see vendor.sh).
	HTMX = "vendor/htmx-sse.min.js"
)

// Prefix is where the assets are served.
const Prefix = "/assets/"

// Assets is a set of files with content hashes, each also kept gzipped.
type Assets struct {
	files map[string]*file // by name under static/
}

type file struct {
	hash    string // short content hash, the version in the URL
	content []byte
	gzipped []byte // nil when gzip would not make it smaller
	modTime time.Time
}

// Embedded returns the files built into the binary.
func Embedded() (*Assets, error) {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	return New(sub)
}

// New reads, hashes and compresses every file of files. They are a few small
// files, so holding them in memory twice costs little, and compressing them
// once here saves doing it on every request.
func New(files fs.FS) (*Assets, error) {
	a := &Assets{files: make(map[string]*file)}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		f := &file{hash: hex.EncodeToString(sum[:6]), content: b}
		if f.gzipped, err = compress(b); err != nil {
			return err
		}
		if info, err := d.Info(); err == nil {
			f.modTime = info.ModTime() // zero for embedded files
		}
		a.files[name] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("assets: reading: %w", err)
	}
	return a, nil
}

func compress(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() >= len(b) {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// Has reports whether the named file is present. The htmx scripts are absent
// from a build made without `make assets`; pages then work as plain forms.
func (a *Assets) Has(name string) bool {
	_, ok := a.files[name]
	return ok
}

// URL is the versioned address of the named file, or "" if it is absent.
func (a *Assets) URL(name string) string {
	f, ok := a.files[name]
	if !ok {
		return ""
	}
	return Prefix + name + "?v=" + f.hash
}

// Handler serves the files under Prefix, gzipped to clients that accept it.
// A request that names the current version may be cached for a year; any
// other is revalidated against the ETag, so a stale page never pins an old
// file.
func (a *Assets) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := a.files[strings.TrimPrefix(r.URL.Path, Prefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		if r.URL.Query().Get("v") == f.hash {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		if ctype := mime.TypeByExtension(path.Ext(r.URL.Path)); ctype != "" {
			h.Set("Content-Type", ctype)
		}
		body, etag := f.content, `"`+f.hash+`"`
		if f.gzipped != nil {
			h.Add("Vary", "Accept-Encoding")
			if acceptsGzip(r) {
				// Each encoding is its own representation, with its own
				// ETag, so a cache never mixes them up.
				body, etag = f.gzipped, `"`+f.hash+`-gzip"`
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", f.modTime, bytes.NewReader(body))
	})
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip
// (with a q-value above 0).
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.TrimSpace(coding) != "*" {
				continue
			}
			q, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			if !found || (q != "0" && strings.Trim(q, "0.") != "") {
				return true
			}
		}
	}
	return false
}
