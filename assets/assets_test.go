package assets

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandlerCachesOnlyCurrentVersion(t *testing.T) {
	a, err := New(fstest.MapFS{"app.css": {Data: []byte("body{}")}})
	if err != nil {
		t.Fatal(err)
	}
	url := a.URL("app.css")
	if !strings.HasPrefix(url, "/assets/app.css?v=") || len(url) <= len("/assets/app.css?v=") {
		t.Fatalf("URL = %q", url)
	}
	tests := []struct {
		path, wantCache string
		wantStatus      int
	}{
		{url, "public, max-age=31536000, immutable", http.StatusOK},
		{"/assets/app.css?v=stale", "no-cache", http.StatusOK},
		{"/assets/app.css", "no-cache", http.StatusOK},
		{"/assets/missing.js", "", http.StatusNotFound},
		{"/assets/../assets.go", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.wantStatus || rec.Header().Get("Cache-Control") != tt.wantCache {
			t.Errorf("GET %s: %d %q, want %d %q", tt.path, rec.Code, rec.Header().Get("Cache-Control"), tt.wantStatus, tt.wantCache)
		}
		if tt.wantStatus == http.StatusOK && rec.Body.String() != "body{}" {
			t.Errorf("GET %s: body %q", tt.path, rec.Body.String())
		}
	}
	if a.Has("vendor/htmx.min.js") || a.URL("vendor/htmx.min.js") != "" {
		t.Error("absent file reported present")
	}
}

func TestEmbeddedHasStylesheet(t *testing.T) {
	a, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if !a.Has(Stylesheet) {
		t.Fatalf("embedded assets lack %s", Stylesheet)
	}
}

// TestRevalidation: a file asked for without its version (or with an old
// one) is revalidated, and its ETag lets the answer be a 304 without a body,
// in each encoding.
func TestRevalidation(t *testing.T) {
	css := []byte(strings.Repeat("body { color: black; }\n", 40))
	a, err := New(fstest.MapFS{"app.css": {Data: css}})
	if err != nil {
		t.Fatal(err)
	}
	for _, encoding := range []string{"", "gzip"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req := httptest.NewRequest(method, "/assets/app.css", nil)
			req.Header.Set("Accept-Encoding", encoding)
			first := httptest.NewRecorder()
			a.Handler().ServeHTTP(first, req)
			etag := first.Header().Get("ETag")
			if first.Code != http.StatusOK || !strings.HasPrefix(etag, `"`) {
				t.Fatalf("%s %q: %d, ETag %q", method, encoding, first.Code, etag)
			}
			if got := first.Header().Get("Content-Encoding"); got != encoding {
				t.Errorf("%s %q: Content-Encoding %q", method, encoding, got)
			}
			if method == http.MethodGet && encoding == "gzip" {
				zr, err := gzip.NewReader(first.Body)
				if err != nil {
					t.Fatal(err)
				}
				if b, err := io.ReadAll(zr); err != nil || !bytes.Equal(b, css) {
					t.Errorf("gunzipped body differs (%v)", err)
				}
			}
			if method == http.MethodHead && first.Body.Len() != 0 {
				t.Errorf("HEAD %q: body of %d bytes", encoding, first.Body.Len())
			}

			req.Header.Set("If-None-Match", etag)
			again := httptest.NewRecorder()
			a.Handler().ServeHTTP(again, req)
			if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
				t.Errorf("%s %q with If-None-Match %s: %d with %d bytes, want 304", method, encoding, etag, again.Code, again.Body.Len())
			}
		}
	}
	// Each encoding has its own ETag: a gzipped copy never answers for
	// the plain one.
	plain, zipped := httptest.NewRecorder(), httptest.NewRecorder()
	a.Handler().ServeHTTP(plain, httptest.NewRequest(http.MethodGet, "/assets/app.css", nil))
	req := httptest.NewRequest(http.MethodGet, "/assets/app.css", nil)
	req.Header.Set("Accept-Encoding", "gzip;q=0.5, br")
	a.Handler().ServeHTTP(zipped, req)
	if plain.Header().Get("ETag") == zipped.Header().Get("ETag") {
		t.Errorf("plain and gzipped share ETag %s", plain.Header().Get("ETag"))
	}
	if zipped.Header().Get("Vary") != "Accept-Encoding" || plain.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("Vary %q / %q", plain.Header().Get("Vary"), zipped.Header().Get("Vary"))
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                    false,
		"identity":            false,
		"gzip":                true,
		"br, gzip":            true,
		"GZIP;q=0.8":          true,
		"gzip;q=0":            false,
		"gzip; q=0.000":       false,
		"*":                   true,
		"deflate, x-gzip-ish": false,
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Accept-Encoding", header)
		if got := acceptsGzip(req); got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", header, got, want)
		}
	}
}
