package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-db/sluice/connectors/httpingest"
)

// Database is what the server needs from the database besides ingest:
// readiness, statistics for /metrics and the final shutdown.
type Database interface {
	// Ready reports whether the catalog is loaded and views restarted.
	Ready() bool
	// Stats is read at every /metrics scrape.
	Stats() Stats
	// Close takes the final checkpoint, flushes sinks and stops.
	Close(ctx context.Context) error
}

// PGServer is the Postgres wire endpoint (pgwire.Server).
type PGServer interface {
	Serve(ctx context.Context, l net.Listener) error
	Shutdown(ctx context.Context) error
}

// Deps are the parts Run wires together.
type Deps struct {
	DB     Database
	Ingest httpingest.Target
	// Subscriber serves GET /subscribe/{view}; nil disables the endpoint
	// (404).
	Subscriber Subscriber
	PG         PGServer
	// Registry collects every metric; Run registers the stats collector,
	// Go and process collectors on it.
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// Now is the wall clock (time.Now when nil).
	Now func() time.Time
}

// Addrs are the addresses Run listens on (useful with port 0).
type Addrs struct{ PG, HTTP string }

// NewHTTPHandler returns the HTTP API: POST /ingest/{source},
// GET /subscribe/{view}, GET /live/{view} (a page showing the view live
// from /subscribe), GET /metrics, GET /healthz, GET /readyz, and with
// cfg.Pprof GET /debug/pprof/ (net/http/pprof).
// Subscription streams end when streams is cancelled.
func NewHTTPHandler(streams context.Context, cfg Config, d Deps) http.Handler {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	mux := http.NewServeMux()
	mux.Handle("/ingest/{source}", httpingest.NewHandler(d.Ingest, httpingest.Config{
		Token: cfg.IngestToken, MaxBody: cfg.IngestMaxBody, Now: now, Logger: d.Logger, Registerer: d.Registry,
	}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{Registry: d.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if d.DB == nil || !d.DB.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	if d.Subscriber != nil {
		mux.Handle("GET /subscribe/{view}", &sseHandler{sub: d.Subscriber, logger: d.Logger, streams: streams, keepalive: 15 * time.Second})
		mux.HandleFunc("GET /live/{view}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(livePage)
		})
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "sluice: POST /ingest/{source}, GET /subscribe/{view}, GET /live/{view}, GET /metrics, GET /healthz, GET /readyz\n")
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// RegisterMetrics adds the stats collector and the Go and process
// collectors to reg.
func RegisterMetrics(reg *prometheus.Registry, db Database, now func() time.Time) error {
	for _, c := range []prometheus.Collector{
		NewStatsCollector(db.Stats, now),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// Run listens on cfg.PGAddr and cfg.HTTPAddr, serves until ctx is
// cancelled, then shuts down in order: stop accepting connections, end
// open ones, close the database (final checkpoint, sink flush) within
// cfg.ShutdownTimeout. listening, when not nil, receives the bound
// addresses once both listeners are open. Run returns nil after a clean
// shutdown.
func Run(ctx context.Context, cfg Config, d Deps, listening func(Addrs)) (err error) {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	closeDB := func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		start := now()
		if err := d.DB.Close(cctx); err != nil {
			return fmt.Errorf("close database: %w", err)
		}
		log.Info("database closed", "took", now().Sub(start).Round(time.Millisecond))
		return nil
	}
	if err := RegisterMetrics(d.Registry, d.DB, now); err != nil {
		return errors.Join(err, closeDB())
	}
	pgL, err := net.Listen("tcp", cfg.PGAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on --pg-addr %s: %w", cfg.PGAddr, err), closeDB())
	}
	httpL, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		pgL.Close()
		return errors.Join(fmt.Errorf("listen on --http-addr %s: %w", cfg.HTTPAddr, err), closeDB())
	}
	addrs := Addrs{PG: pgL.Addr().String(), HTTP: httpL.Addr().String()}
	log.Info("sluice listening", "pg", addrs.PG, "http", addrs.HTTP, "data_dir", cfg.DataDir)

	// streams ends SSE subscriptions when the HTTP server shuts down (they
	// would otherwise keep Shutdown waiting); pgCtx ends the Postgres
	// endpoint after its graceful Shutdown.
	streams, stopStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStreams()
	pgCtx, stopPG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPG()
	hs := &http.Server{
		Handler:           NewHTTPHandler(streams, cfg, d),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	hs.RegisterOnShutdown(stopStreams)
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Go(func() {
		if err := d.PG.Serve(pgCtx, pgL); err != nil && pgCtx.Err() == nil {
			errc <- fmt.Errorf("postgres endpoint: %w", err)
		}
	})
	wg.Go(func() {
		if err := hs.Serve(httpL); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http endpoint: %w", err)
		}
	})
	if listening != nil {
		listening(addrs)
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: no new connections")
	case runErr = <-errc:
		log.Error("endpoint failed, shutting down", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := hs.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown http: %w", err))
	}
	if err := d.PG.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown postgres endpoint: %w", err))
	}
	stopPG()
	wg.Wait()
	errs = append(errs, closeDB())
	return errors.Join(append([]error{runErr}, errs...)...)
}
