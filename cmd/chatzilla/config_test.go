package main

import (
	"bytes"
	"context"
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
			if !c.SessionSecretGenerated || len(c.SessionSecret) < 32 {
				t.Error("no generated session secret")
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
