package assets

import (
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
