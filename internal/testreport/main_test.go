package main

import (
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"start","Package":"p/a"}`,
		`{"Action":"run","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"    a_test.go:9: chatter\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}`,
		`{"Action":"pass","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"run","Package":"p/a","Test":"TestDB"}`,
		`{"Action":"output","Package":"p/a","Test":"TestDB","Output":"=== RUN   TestDB\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestDB","Output":"    a_test.go:12: no PostgreSQL at 127.0.0.1:5432\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestDB","Output":"--- SKIP: TestDB (0.00s)\n"}`,
		`{"Action":"skip","Package":"p/a","Test":"TestDB"}`,
		`{"Action":"output","Package":"p/a","Output":"PASS\n"}`,
		`{"Action":"output","Package":"p/a","Output":"ok  \tp/a\t0.01s\n"}`,
		`{"Action":"pass","Package":"p/a"}`,
		`{"Action":"run","Package":"p/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/b","Test":"TestBad","Output":"=== RUN   TestBad\n"}`,
		`{"Action":"output","Package":"p/b","Test":"TestBad","Output":"    b_test.go:5: got 1, want 2\n"}`,
		`{"Action":"output","Package":"p/b","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}`,
		`{"Action":"fail","Package":"p/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/b","Output":"FAIL\n"}`,
		`{"Action":"output","Package":"p/b","Output":"FAIL\tp/b\t0.02s\n"}`,
		`{"Action":"fail","Package":"p/b"}`,
		`{"Action":"output","Package":"p/c","Output":"?   \tp/c\t[no test files]\n"}`,
		`{"Action":"skip","Package":"p/c"}`,
		`not json at all`,
	}, "\n")
	var out strings.Builder
	r := newReport(&out)
	if err := r.read(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	r.summary()
	want := "ok  \tp/a\t0.01s\n" +
		"    b_test.go:5: got 1, want 2\n--- FAIL: TestBad (0.00s)\n" +
		"FAIL\nFAIL\tp/b\t0.02s\n" +
		"?   \tp/c\t[no test files]\n" +
		"not json at all\n" +
		"\n1 skipped (not a full run):\n" +
		"SKIP p/a TestDB: a_test.go:12: no PostgreSQL at 127.0.0.1:5432\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestReportNothingSkipped(t *testing.T) {
	var out strings.Builder
	r := newReport(&out)
	r.summary()
	if out.String() != "No test was skipped.\n" {
		t.Errorf("got %q", out.String())
	}
}
