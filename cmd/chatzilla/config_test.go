package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
			// Written out again on purpose: a default changed in the table
			// by mistake fails here.
			want := config{
				Port:                 5000,
				Database:             database{Kind: "sqlite", Path: "chatzilla.db"},
				SessionSecretFile:    ".chatzilla/session-secret",
				HistorySize:          100,
				MaxMessageLength:     2000,
				TrustProxyHops:       1,
				FloodControl:         true,
				MessageRate:          5,
				JoinRate:             1,
				MessageBurst:         20,
				JoinBurst:            10,
				MaxStreams:           50000,
				MaxStreamsPerSession: 10,
				MaxStreamsPerAddress: 500,
				MaxConnsPerAddress:   1000,
				StreamOpenRate:       2,
				StreamOpenBurst:      20,
				MaxReplay:            2000,
				PresenceGrace:        5 * time.Second,
				SignIn:               "open",
				MailFrom:             "Chatzilla <chatzilla@localhost>",
			}
			if c != want {
				t.Errorf("defaults\n got %+v\nwant %+v", c, want)
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
		{"smtp means email sign-in", map[string]string{"SMTP_URL": "log:"}, "", func(t *testing.T, c config) {
			if c.SignIn != "email" || c.PublicURL != "" {
				t.Errorf("SMTP_URL alone: sign-in %q, public URL %q; want email, and the URL left for run", c.SignIn, c.PublicURL)
			}
		}},
		{"open with smtp", map[string]string{"SMTP_URL": "log:", "SIGN_IN": "open"}, "", func(t *testing.T, c config) {
			if c.SignIn != "open" {
				t.Errorf("sign-in %q", c.SignIn)
			}
		}},
		{"email needs smtp", map[string]string{"SIGN_IN": "email"}, "SMTP_URL", nil},
		{"bad sign-in mode", map[string]string{"SIGN_IN": "magic"}, "SIGN_IN", nil},
		{"public URL", map[string]string{"PUBLIC_URL": "https://chat.example.com/"}, "", func(t *testing.T, c config) {
			if c.PublicURL != "https://chat.example.com" {
				t.Errorf("PUBLIC_URL kept as %q", c.PublicURL)
			}
		}},
		{"public URL with a path", map[string]string{"PUBLIC_URL": "https://chat.example.com/x?y"}, "PUBLIC_URL", nil},
		{"public URL not http", map[string]string{"PUBLIC_URL": "javascript:alert(1)"}, "PUBLIC_URL", nil},
		{"heroku email needs a public URL", map[string]string{"DYNO": "web.1", "DATABASE_URL": "postgres://u:p@h/db", "SESSION_SECRET": secret, "SMTP_URL": "smtp://u:p@mail.example.com:587"}, "PUBLIC_URL", nil},
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
	for _, s := range settings(new(config)) {
		if !strings.Contains(out.String(), s.name) {
			t.Errorf("-h does not list %s:\n%s", s.name, out.String())
		}
	}
}

// TestSettingDefaultsParse checks that every default the table states (and
// -h shows) is one its own parser takes, and that setting every variable to
// its stated default changes nothing.
func TestSettingDefaultsParse(t *testing.T) {
	env := map[string]string{}
	seen := map[string]bool{}
	for _, s := range settings(new(config)) {
		if seen[s.name] {
			t.Errorf("%s is in the table twice", s.name)
		}
		seen[s.name] = true
		if s.val == nil {
			continue
		}
		for _, production := range []bool{false, true} {
			if err := s.val.set(s.name, s.fallback(production)); err != nil {
				t.Errorf("%s: default %q (production %v): %v", s.name, s.fallback(production), production, err)
			}
		}
		env[s.name] = s.def
	}
	unset, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	set, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if set != unset {
		t.Errorf("every variable set to its stated default\n got %+v\nwant %+v", set, unset)
	}
}

// TestSettingRangesAtBounds checks every bounded setting at its bounds and
// just past them, through loadConfig, and that -h states the range the parser
// enforces where it states one.
func TestSettingRangesAtBounds(t *testing.T) {
	var help bytes.Buffer
	printUsage(&help)
	load := func(name, text string) error {
		_, err := loadConfig(func(k string) string { return map[string]string{name: text}[k] })
		return err
	}
	bounded := 0
	for _, s := range settings(new(config)) {
		var ok, bad []string
		wantErr := s.name + " must be "
		switch v := s.val.(type) {
		case *intValue:
			ok = []string{strconv.Itoa(v.lo), strconv.Itoa(v.hi)}
			bad = []string{strconv.Itoa(v.lo - 1), strconv.Itoa(v.hi + 1), "1.5", "many"}
			wantErr = fmt.Sprintf("%s must be a whole number from %d to %d, not ", s.name, v.lo, v.hi)
			line := regexp.MustCompile(`(?m)^  ` + s.name + ` .*$`).FindString(help.String())
			if stated := fmt.Sprintf("(%d-%d)", v.lo, v.hi); v.shown != strings.Contains(line, stated) {
				t.Errorf("%s: -h line %q, shown %v, range %s", s.name, line, v.shown, stated)
			}
		case rate:
			ok = []string{"0.001", strconv.FormatFloat(maxRate, 'f', -1, 64)}
			bad = []string{"0", "-1", strconv.FormatFloat(maxRate*1.01, 'f', -1, 64), "NaN", "fast"}
			wantErr = s.name + " must be a number above 0 (per second), not "
		case durationUpTo:
			ok = []string{"0s", v.max.String()}
			bad = []string{"-1ns", (v.max + time.Nanosecond).String(), "5"}
			wantErr = s.name + " must be a duration like 5s or 500ms (at most 1h), not "
		default:
			continue
		}
		bounded++
		for _, text := range ok {
			if err := load(s.name, text); err != nil {
				t.Errorf("%s=%s: %v", s.name, text, err)
			}
		}
		for _, text := range bad {
			if err := load(s.name, text); err == nil || !strings.HasPrefix(err.Error(), wantErr) {
				t.Errorf("%s=%s: err %v, want %q...", s.name, text, err, wantErr)
			}
		}
	}
	if bounded < 15 {
		t.Errorf("only %d bounded settings checked", bounded)
	}
}

// TestReadmeConfigurationTable checks README's table of variables against
// the settings table: every variable, its default, and the ranges -h states.
func TestReadmeConfigurationTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Configuration\n")
	section, _, _ = strings.Cut(section, "\n## ")
	type row struct{ def, meaning string }
	rows := map[string]row{}
	for _, m := range regexp.MustCompile("(?m)^\\| (`[A-Z_]+`(?: / `[A-Z_]+`)*) \\| ?([^|]*?) ?\\| (.*) \\|$").FindAllStringSubmatch(section, -1) {
		names := strings.Split(m[1], " / ")
		defs := strings.Split(m[2], " / ")
		for i, name := range names {
			def := m[2]
			if len(defs) == len(names) {
				def = defs[i]
			}
			rows[strings.Trim(name, "`")] = row{strings.ReplaceAll(def, "`", ""), m[3]}
		}
	}
	// The README says where the development secret comes from instead.
	stated := map[string]string{"SESSION_SECRET": "kept in SESSION_SECRET_FILE"}
	for _, s := range settings(new(config)) {
		r, ok := rows[s.name]
		if !ok {
			t.Errorf("README's configuration table has no %s", s.name)
			continue
		}
		want := cmp.Or(stated[s.name], s.defaultText())
		if r.def != want {
			t.Errorf("README: %s defaults to %q, the table says %q", s.name, r.def, want)
		}
		if v, ok := s.val.(*intValue); ok && v.shown {
			if rng := fmt.Sprintf("(%d–%d", v.lo, v.hi); !strings.Contains(r.meaning, rng) {
				t.Errorf("README: %s says %q, not the range %s)", s.name, r.meaning, rng)
			}
		}
	}
	if len(rows) != len(settings(new(config))) {
		t.Errorf("README's table has %d variables, the settings table %d", len(rows), len(settings(new(config))))
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
