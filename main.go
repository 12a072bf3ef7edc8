// Command sluice is the Sluice server: continuous SQL over streams, served
// over the Postgres wire protocol. Run `sluice --help` for the flags; see
// README.md for a tour.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-db/sluice/exec/server"
)

// version is set with -ldflags "-X main.version=..." by release builds.
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// versionString returns the version with the VCS revision when known.
func versionString() string {
	v := "sluice " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			v += " (" + rev + dirty + ")"
		}
		v += " " + bi.GoVersion
	}
	return v
}

// run is main without os.Exit: it returns the exit code.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version", "-version":
			fmt.Fprintln(stdout, versionString())
			return 0
		case "help":
			server.Usage(stdout)
			return 0
		case "serve":
			args = args[1:]
		}
	}
	cfg, err := server.Load(args, getenv)
	if errors.Is(err, server.ErrHelp) {
		server.Usage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 2
	}
	log := cfg.NewLogger(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		// After the first signal, restore the default handling so that a
		// second Ctrl-C ends a shutdown that takes too long.
		<-ctx.Done()
		stop()
	}()
	log.Info("starting sluice", "version", versionString(), "data_dir", cfg.DataDir)
	log.Debug("configuration", "config_file", cfg.ConfigFile, "pg_addr", cfg.PGAddr, "http_addr", cfg.HTTPAddr,
		"demo", cfg.Demo, "checkpoint_interval", cfg.CheckpointInterval, "idle_timeout", cfg.IdleTimeout,
		"quiet_advance", cfg.QuietAdvance, "ingest_max_body", cfg.IngestMaxBody, "ingest_token_set", cfg.IngestToken != "",
		"pg_users", len(cfg.PGUsers), "pg_tls", cfg.PGTLSCert != "")
	reg := prometheus.NewRegistry()
	deps, err := openDatabase(ctx, cfg, log, reg)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := server.Run(ctx, cfg, deps, nil); err != nil {
		log.Error("stopped with an error", "err", err)
		return 1
	}
	log.Info("stopped cleanly")
	return 0
}
