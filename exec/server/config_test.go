package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != DefaultDataDir || cfg.PGAddr != DefaultPGAddr || cfg.HTTPAddr != DefaultHTTPAddr {
		t.Fatalf("defaults: %+v", cfg)
	}
	if cfg.IngestMaxBody != DefaultIngestMaxBody || cfg.CheckpointInterval != DefaultCheckpointInterval || cfg.Demo {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sluice.conf")
	conf := "# comment\ndata-dir = /from/file\npg-addr = \"127.0.0.1:1111\"\nhttp-addr = 127.0.0.1:2222\ningest-max-body = 1MiB\ndemo = true\n"
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load([]string{"--config", file, "--http-addr", "127.0.0.1:3333"},
		env(map[string]string{"SLUICE_PG_ADDR": "127.0.0.1:4444", "SLUICE_HTTP_ADDR": "127.0.0.1:5555", "SLUICE_IDLE_TIMEOUT": "3s"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from/file" {
		t.Errorf("file should set data-dir, got %q", cfg.DataDir)
	}
	if cfg.PGAddr != "127.0.0.1:4444" {
		t.Errorf("env should beat file, got %q", cfg.PGAddr)
	}
	if cfg.HTTPAddr != "127.0.0.1:3333" {
		t.Errorf("flag should beat env, got %q", cfg.HTTPAddr)
	}
	if cfg.IngestMaxBody != 1<<20 || !cfg.Demo || cfg.IdleTimeout != 3*time.Second {
		t.Errorf("got %+v", cfg)
	}
}

func TestLoadConfigFromEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.conf")
	if err := os.WriteFile(file, []byte("data-dir = d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(nil, env(map[string]string{"SLUICE_CONFIG": file}))
	if err != nil || cfg.DataDir != "d" {
		t.Fatalf("cfg %+v err %v", cfg, err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("no-such-key = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--log-level", "loud"}, nil, "log-level"},
		{[]string{"--log-format", "xml"}, nil, "log-format"},
		{[]string{"--pg-tls-cert", "c.pem"}, nil, "together"},
		{[]string{"--ingest-max-body", "-3"}, nil, "invalid size"},
		{nil, map[string]string{"SLUICE_CHECKPOINT_INTERVAL": "soon"}, "SLUICE_CHECKPOINT_INTERVAL"},
		{[]string{"--config", bad}, nil, `unknown key "no-such-key"`},
		{[]string{"--pg-users", "alice"}, nil, "user:password"},
		{[]string{"extra"}, nil, "unexpected argument"},
	} {
		_, err := Load(tc.args, env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%v, %v) = %v, want error containing %q", tc.args, tc.env, err, tc.want)
		}
	}
	if _, err := Load([]string{"--help"}, env(nil)); err != ErrHelp {
		t.Errorf("--help: %v", err)
	}
}

func TestUsers(t *testing.T) {
	cfg, err := Load([]string{"--pg-users", "alice:pw1, bob:p:w"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PGUsers["alice"] != "pw1" || cfg.PGUsers["bob"] != "p:w" || len(cfg.PGUsers) != 2 {
		t.Fatalf("users %v", cfg.PGUsers)
	}
}

func TestUsageDocumentsEveryFlag(t *testing.T) {
	var b strings.Builder
	Usage(&b)
	for _, f := range Flags() {
		if !strings.Contains(b.String(), "--"+f.Name) || !strings.Contains(b.String(), f.Env) {
			t.Errorf("usage lacks %s / %s", f.Name, f.Env)
		}
	}
}

// TestREADMEDocumentsEveryFlag keeps the README's configuration reference
// in step with the flags.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, f := range Flags() {
		for _, want := range []string{"`--" + f.Name + "`", "`" + f.Env + "`"} {
			if !strings.Contains(readme, want) {
				t.Errorf("README lacks %s", want)
			}
		}
		if f.Default != "" && !strings.Contains(readme, "`"+f.Default+"`") {
			t.Errorf("README lacks the default of --%s (`%s`)", f.Name, f.Default)
		}
	}
}
