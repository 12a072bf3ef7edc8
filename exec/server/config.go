package server

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of a sluice server process. Every field
// has a flag, an environment variable and a config-file key; see Flags for
// names and defaults.
type Config struct {
	// ConfigFile is the optional "key = value" file that was read.
	ConfigFile string
	// DataDir holds the catalog, checkpoints and table logs.
	DataDir string
	// PGAddr is the Postgres wire endpoint (host:port).
	PGAddr string
	// HTTPAddr is the HTTP endpoint: ingest, /metrics, /healthz, /readyz,
	// /subscribe.
	HTTPAddr string
	// Demo creates the demo clickstream source and views at start (once:
	// objects that exist already are kept).
	Demo bool
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel, LogFormat string
	// CheckpointInterval is how often the engine checkpoints.
	CheckpointInterval time.Duration
	// Parallelism is how many hash-partitioned copies of each keyed
	// aggregate run.
	Parallelism int
	// SubscriberQueue is how many updates a subscriber (SUBSCRIBE, FETCH
	// of a subscribe cursor, /subscribe) may fall behind before it is
	// dropped with SQLSTATE 54000.
	SubscriberQueue int
	// IdleTimeout is the default for sources' idle_timeout option.
	IdleTimeout time.Duration
	// QuietAdvance is the default for sources' quiet_advance option: when
	// every input of a job is silent this long, event time advances with
	// processing time (0 = off).
	QuietAdvance time.Duration
	// IngestToken, when set, is the bearer token HTTP ingest requires.
	IngestToken string
	// IngestMaxBody is the largest ingest request body in bytes.
	IngestMaxBody int64
	// PGUsers are password users for the Postgres endpoint (empty: trust).
	PGUsers map[string]string
	// PGTLSCert and PGTLSKey, when both set, enable TLS on the Postgres
	// endpoint.
	PGTLSCert, PGTLSKey string
	// ShutdownTimeout bounds the final checkpoint and sink flush on SIGTERM.
	ShutdownTimeout time.Duration
	// Pprof serves Go's profiles at /debug/pprof/ on the HTTP address.
	Pprof bool
}

// Flag describes one configuration setting, for --help and the README.
type Flag struct {
	Name, Env, Default, Usage string
}

// Defaults.
const (
	DefaultDataDir            = "./sluice-data"
	DefaultPGAddr             = "127.0.0.1:4566"
	DefaultHTTPAddr           = "127.0.0.1:8080"
	DefaultCheckpointInterval = time.Second
	DefaultIdleTimeout        = 10 * time.Second
	DefaultQuietAdvance       = 10 * time.Second
	DefaultSubscriberQueue    = 1 << 18
	DefaultIngestMaxBody      = 16 << 20
	DefaultShutdownTimeout    = 30 * time.Second
)

// ErrHelp is returned by Load when the user asked for help (-h, --help).
var ErrHelp = flag.ErrHelp

// envPrefix is prepended to the upper-cased flag name (dashes become
// underscores) to form the environment variable.
const envPrefix = "SLUICE_"

// EnvName returns the environment variable of a flag name.
func EnvName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// byteSize is a flag.Value for sizes such as 16MiB, 512k or 1048576.
type byteSize struct{ p *int64 }

func (b byteSize) String() string {
	if b.p == nil {
		return ""
	}
	return strconv.FormatInt(*b.p, 10)
}

func (b byteSize) Set(s string) error {
	n, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b.p = n
	return nil
}

// ParseByteSize parses a size in bytes with an optional unit: B, K/KB/KiB,
// M/MB/MiB, G/GB/GiB (all powers of 1024), case-insensitive.
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"gib", 1 << 30}, {"gb", 1 << 30}, {"g", 1 << 30}, {"mib", 1 << 20}, {"mb", 1 << 20}, {"m", 1 << 20},
		{"kib", 1 << 10}, {"kb", 1 << 10}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suf))
			mult = u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q (want a positive number with an optional unit such as 16MiB)", s)
	}
	return n * mult, nil
}

// usersFlag is a flag.Value for "user:password,user2:password2".
type usersFlag struct{ m *map[string]string }

func (u usersFlag) String() string {
	if u.m == nil || len(*u.m) == 0 {
		return ""
	}
	names := make([]string, 0, len(*u.m))
	for n := range *u.m {
		names = append(names, n+":***")
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func (u usersFlag) Set(s string) error {
	out := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, pw, ok := strings.Cut(part, ":")
		if !ok || name == "" {
			return fmt.Errorf("invalid user %q (want user:password)", part)
		}
		out[name] = pw
	}
	*u.m = out
	return nil
}

// newFlagSet declares every setting on a FlagSet bound to cfg.
func newFlagSet(cfg *Config, out io.Writer) (*flag.FlagSet, []Flag) {
	fs := flag.NewFlagSet("sluice", flag.ContinueOnError)
	fs.SetOutput(out)
	var docs []Flag
	str := func(p *string, name, def, usage string) {
		fs.StringVar(p, name, def, usage)
		docs = append(docs, Flag{name, EnvName(name), def, usage})
	}
	dur := func(p *time.Duration, name string, def time.Duration, usage string) {
		fs.DurationVar(p, name, def, usage)
		docs = append(docs, Flag{name, EnvName(name), def.String(), usage})
	}
	str(&cfg.ConfigFile, "config", "", "optional config file of \"key = value\" lines (keys are these flag names)")
	str(&cfg.DataDir, "data-dir", DefaultDataDir, "directory for the catalog, checkpoints and table data")
	str(&cfg.PGAddr, "pg-addr", DefaultPGAddr, "Postgres wire protocol listen address (psql, pgx, JDBC, Grafana)")
	str(&cfg.HTTPAddr, "http-addr", DefaultHTTPAddr, "HTTP listen address: POST /ingest/{source}, GET /subscribe/{view}, /metrics, /healthz, /readyz")
	fs.BoolVar(&cfg.Demo, "demo", false, "create the demo clickstream source and views at start")
	docs = append(docs, Flag{"demo", EnvName("demo"), "false", "create the demo clickstream source and views at start"})
	str(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	str(&cfg.LogFormat, "log-format", "text", "log format: text or json")
	dur(&cfg.CheckpointInterval, "checkpoint-interval", DefaultCheckpointInterval, "how often state and source positions are checkpointed")
	fs.IntVar(&cfg.Parallelism, "parallelism", 1, "copies of each keyed aggregate, hash-partitioned by key across cores (results do not change)")
	docs = append(docs, Flag{"parallelism", EnvName("parallelism"), "1", "copies of each keyed aggregate, hash-partitioned by key across cores (results do not change)"})
	fs.IntVar(&cfg.SubscriberQueue, "subscriber-queue", DefaultSubscriberQueue, "updates a subscriber may fall behind before it is dropped with SQLSTATE 54000 (memory stays bounded when a client stops reading)")
	docs = append(docs, Flag{"subscriber-queue", EnvName("subscriber-queue"), strconv.Itoa(DefaultSubscriberQueue), "updates a subscriber may fall behind before it is dropped with SQLSTATE 54000 (memory stays bounded when a client stops reading)"})
	dur(&cfg.IdleTimeout, "idle-timeout", DefaultIdleTimeout, "default idle_timeout of sources: a partition silent this long stops holding back the watermark")
	dur(&cfg.QuietAdvance, "quiet-advance", DefaultQuietAdvance, "default quiet_advance of sources: when every input of a view is silent this long, event time advances with the wall clock (0 = off)")
	str(&cfg.IngestToken, "ingest-token", "", "bearer token required by POST /ingest/{source} (empty = no token)")
	cfg.IngestMaxBody = DefaultIngestMaxBody
	fs.Var(byteSize{&cfg.IngestMaxBody}, "ingest-max-body", "largest accepted ingest request body (bytes, or with unit KiB/MiB/GiB)")
	docs = append(docs, Flag{"ingest-max-body", EnvName("ingest-max-body"), "16MiB", "largest accepted ingest request body (bytes, or with unit KiB/MiB/GiB); larger bodies get 413"})
	fs.Var(usersFlag{&cfg.PGUsers}, "pg-users", "Postgres password users as user:password,... (empty = no password asked)")
	docs = append(docs, Flag{"pg-users", EnvName("pg-users"), "", "Postgres password users as user:password,... (empty = no password asked)"})
	str(&cfg.PGTLSCert, "pg-tls-cert", "", "PEM certificate file: enables TLS on the Postgres endpoint (with --pg-tls-key)")
	str(&cfg.PGTLSKey, "pg-tls-key", "", "PEM private key file for --pg-tls-cert")
	dur(&cfg.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "on SIGTERM/SIGINT, how long the final checkpoint and sink flush may take")
	const pprofUsage = "serve Go profiles at /debug/pprof/ on --http-addr (CPU samples carry job and node labels); off because they show internals and a CPU profile costs CPU while it runs"
	fs.BoolVar(&cfg.Pprof, "pprof", false, pprofUsage)
	docs = append(docs, Flag{"pprof", EnvName("pprof"), "false", pprofUsage})
	return fs, docs
}

// Flags returns the documentation of every setting, in declaration order.
func Flags() []Flag {
	var c Config
	_, docs := newFlagSet(&c, io.Discard)
	return docs
}

// Usage writes the --help text.
func Usage(w io.Writer) {
	fmt.Fprintf(w, `sluice — SQL on streams, served over the Postgres protocol

Usage:
  sluice [serve] [flags]   run the server (the default command)
  sluice version           print the version
  sluice help              print this help

Every flag can also be given as an environment variable (shown below) or as
a "name = value" line in the --config file. Precedence: flag, environment,
config file, default.

Flags:
`)
	for _, f := range Flags() {
		def := f.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s\n      %s\n      env %s, default %s\n", f.Name, f.Usage, f.Env, def)
	}
}

// Load builds the configuration from command-line args (without the program
// name and command), the environment (getenv, usually os.Getenv) and the
// optional config file. It returns ErrHelp for -h/--help.
func Load(args []string, getenv func(string) string) (Config, error) {
	var cfg Config
	fs, _ := newFlagSet(&cfg, io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, ErrHelp
		}
		return cfg, fmt.Errorf("parse flags: %w", err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (see sluice --help)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// Environment overrides the file, flags override both.
	fromEnv := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			fromEnv[f.Name] = v
		}
	})
	if v, ok := fromEnv["config"]; ok {
		cfg.ConfigFile = v
	}
	var fileVals map[string]string
	if cfg.ConfigFile != "" {
		b, err := os.ReadFile(cfg.ConfigFile)
		if err != nil {
			return cfg, fmt.Errorf("read config file: %w", err)
		}
		fileVals, err = parseConfigFile(b)
		if err != nil {
			return cfg, fmt.Errorf("config file %s: %w", cfg.ConfigFile, err)
		}
		for k := range fileVals {
			if fs.Lookup(k) == nil || k == "config" {
				return cfg, fmt.Errorf("config file %s: unknown key %q", cfg.ConfigFile, k)
			}
		}
	}
	var setErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" || setErr != nil {
			return
		}
		v, ok := fromEnv[f.Name]
		src := EnvName(f.Name)
		if !ok {
			v, ok = fileVals[f.Name]
			src = "config file key " + f.Name
		}
		if ok {
			if err := fs.Set(f.Name, v); err != nil {
				setErr = fmt.Errorf("%s: %w", src, err)
			}
		}
	})
	if setErr != nil {
		return cfg, setErr
	}
	return cfg, cfg.Validate()
}

// parseConfigFile reads "key = value" lines; # starts a comment line;
// values may be double-quoted.
func parseConfigFile(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want key = value", line)
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			uq, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			v = uq
		}
		out[k] = v
	}
	return out, sc.Err()
}

// Validate checks values that flag parsing alone cannot.
func (c Config) Validate() error {
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("invalid --log-format %q (want text or json)", c.LogFormat)
	}
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if (c.PGTLSCert == "") != (c.PGTLSKey == "") {
		return errors.New("--pg-tls-cert and --pg-tls-key must be given together")
	}
	if c.Parallelism < 1 {
		return errors.New("--parallelism must be at least 1")
	}
	if c.SubscriberQueue < 1 {
		return errors.New("--subscriber-queue must be at least 1")
	}
	if c.CheckpointInterval <= 0 {
		return errors.New("--checkpoint-interval must be positive")
	}
	if c.IdleTimeout < 0 || c.QuietAdvance < 0 {
		return errors.New("--idle-timeout and --quiet-advance must not be negative")
	}
	if c.IngestMaxBody <= 0 {
		return errors.New("--ingest-max-body must be positive")
	}
	return nil
}

// ParseLogLevel maps debug|info|warn|error to a slog level.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("invalid --log-level %q (want debug, info, warn or error)", s)
}

// NewLogger returns the process logger for the configured level and format.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	lvl, _ := ParseLogLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
