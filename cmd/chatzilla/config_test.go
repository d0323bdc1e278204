package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	secret := strings.Repeat("x", 32)
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // the variable the error must name; "" for success
		check   func(t *testing.T, c config)
	}{
		{"defaults", nil, "", func(t *testing.T, c config) {
			if c.Port != 5000 || c.HistorySize != 100 || c.MaxMessageLength != 2000 || c.TrustProxy || c.Production {
				t.Errorf("%+v", c)
			}
			if c.Database != (database{Kind: "sqlite", Path: "chatzilla.db"}) {
				t.Errorf("database %+v", c.Database)
			}
			if c.SessionSecretFile != ".chatzilla/session-secret" || c.SessionSecret != "" {
				t.Errorf("no secret given: file %q, secret %q; want the development secret's file", c.SessionSecretFile, c.SessionSecret)
			}
		}},
		{"sqlite path", map[string]string{"DATABASE_URL": "sqlite:/tmp/x.db"}, "", func(t *testing.T, c config) {
			if c.Database.Path != "/tmp/x.db" {
				t.Errorf("%+v", c.Database)
			}
		}},
		{"heroku postgres", map[string]string{"DYNO": "web.1", "DATABASE_URL": "postgres://u:p@h/db", "SESSION_SECRET": secret}, "", func(t *testing.T, c config) {
			if c.Database.Kind != "postgres" || !c.Production || !c.TrustProxy {
				t.Errorf("%+v", c)
			}
		}},
		{"postgresql scheme", map[string]string{"DATABASE_URL": "postgresql://h/db"}, "", nil},
		{"bad port", map[string]string{"PORT": "http"}, "PORT", nil},
		{"port out of range", map[string]string{"PORT": "70000"}, "PORT", nil},
		{"bad history", map[string]string{"HISTORY_SIZE": "0"}, "HISTORY_SIZE", nil},
		{"bad length", map[string]string{"MESSAGE_MAX_LENGTH": "lots"}, "MESSAGE_MAX_LENGTH", nil},
		{"bad trust", map[string]string{"TRUST_PROXY": "maybe"}, "TRUST_PROXY", nil},
		{"no trusted hops", map[string]string{"TRUST_PROXY_HOPS": "0"}, "TRUST_PROXY_HOPS", nil},
		{"bad streams per address", map[string]string{"STREAMS_PER_ADDRESS": "0"}, "STREAMS_PER_ADDRESS", nil},
		{"bad connections per address", map[string]string{"CONNECTIONS_PER_ADDRESS": "many"}, "CONNECTIONS_PER_ADDRESS", nil},
		{"bad stream open rate", map[string]string{"STREAM_OPEN_RATE": "0"}, "STREAM_OPEN_RATE", nil},
		{"bad stream open burst", map[string]string{"STREAM_OPEN_BURST": "-1"}, "STREAM_OPEN_BURST", nil},
		{"bad replay bound", map[string]string{"REPLAY_MAX": "0"}, "REPLAY_MAX", nil},
		{"abuse limits", map[string]string{"TRUST_PROXY_HOPS": "2", "STREAMS_PER_ADDRESS": "20000", "REPLAY_MAX": "100"}, "", func(t *testing.T, c config) {
			if c.TrustProxyHops != 2 || c.MaxStreamsPerAddress != 20000 || c.MaxReplay != 100 || c.MaxConnsPerAddress != 1000 || c.StreamOpenRate != 2 || c.StreamOpenBurst != 20 {
				t.Errorf("%+v", c)
			}
		}},
		{"unknown database", map[string]string{"DATABASE_URL": "mysql://h/db"}, "DATABASE_URL", nil},
		{"empty sqlite path", map[string]string{"DATABASE_URL": "sqlite:"}, "DATABASE_URL", nil},
		{"short secret", map[string]string{"SESSION_SECRET": "short"}, "SESSION_SECRET", nil},
		{"short old secret", map[string]string{"SESSION_SECRET": secret, "SESSION_SECRET_OLD": "short"}, "SESSION_SECRET_OLD", nil},
		{"production needs a database", map[string]string{"DYNO": "web.1", "SESSION_SECRET": secret}, "DATABASE_URL", nil},
		{"production needs a secret", map[string]string{"DYNO": "web.1", "DATABASE_URL": "postgres://h/db"}, "SESSION_SECRET", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr+" ") {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"chatzilla", "-h"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if !strings.Contains(out.String(), s.name) {
			t.Errorf("-h does not list %s:\n%s", s.name, out.String())
		}
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"chatzilla"}, func(k string) string {
		return map[string]string{"PORT": "nope"}[k]
	}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "PORT") {
		t.Fatalf("err = %v, want one naming PORT", err)
	}
}

// TestDevelopmentSecretIsKept starts without SESSION_SECRET twice: the second
// start uses the secret the first one made and kept, so whoever joined is
// still joined after the restart.
func TestDevelopmentSecretIsKept(t *testing.T) {
	file := t.TempDir() + "/.chatzilla/session-secret"
	env := map[string]string{
		"SESSION_SECRET":      "",
		"SESSION_SECRET_FILE": file,
		"DATABASE_URL":        "sqlite:" + t.TempDir() + "/chat.db",
	}
	first := startChatzilla(t, env)
	if !strings.Contains(first.logs.String(), "made now") {
		t.Errorf("start log does not say the secret was made:\n%s", first.logs.String())
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", info.Mode().Perm())
	}
	made, _ := os.ReadFile(file)
	bob := join(t, first.URL, "bob@example.com")
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	second := startChatzilla(t, env)
	if !strings.Contains(second.logs.String(), "kept from an earlier run") {
		t.Errorf("start log does not say the secret was kept:\n%s", second.logs.String())
	}
	if kept, _ := os.ReadFile(file); !bytes.Equal(kept, made) {
		t.Error("the secret changed between starts")
	}
	if !bob.at(second.URL).joined() {
		t.Error("not joined after a restart with the kept secret")
	}
}

func TestDevelopmentSecretFileErrors(t *testing.T) {
	short := t.TempDir() + "/secret"
	if err := os.WriteFile(short, []byte("too short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	blocked := t.TempDir() + "/file"
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{short, blocked + "/secret"} {
		if _, _, err := devSessionSecret(path); err == nil || !strings.Contains(err.Error(), "SESSION_SECRET_FILE") {
			t.Errorf("%s: err %v, want one naming SESSION_SECRET_FILE", path, err)
		}
	}
}

func TestProductionWithoutSecretRefusesToStart(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"chatzilla"}, func(k string) string {
		return map[string]string{"DYNO": "web.1", "DATABASE_URL": "postgres://h/db", "SESSION_SECRET_FILE": t.TempDir() + "/s"}[k]
	}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "SESSION_SECRET") {
		t.Errorf("run in production without a secret: %v", err)
	}
}

func TestStartLogEndsWithALink(t *testing.T) {
	inst := startChatzilla(t, nil)
	port := strings.TrimPrefix(inst.URL, "http://127.0.0.1:")
	if !regexp.MustCompile(`msg="chatzilla started" .* url=http://localhost:` + port + `\n`).MatchString(inst.logs.String()) {
		t.Errorf("the start line does not end with http://localhost:%s:\n%s", port, inst.logs.String())
	}
}
