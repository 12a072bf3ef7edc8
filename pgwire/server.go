package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-db/sluice/pgwire/pgcatalog"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("pgwire: server closed")

// Server accepts Postgres wire protocol connections and runs their
// statements on a Backend.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
	metrics *metrics

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[uint32]*conn
	addr      net.Addr
	nextPID   uint32
	closed    bool
	active    atomic.Int64
	wg        sync.WaitGroup
	scram     scramCache
}

// NewServer returns a server for b. It starts nothing until Serve.
func NewServer(cfg Config, b Backend) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ServerVersion == "" {
		cfg.ServerVersion = DefaultServerVersion
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = 64 << 20
	}
	if cfg.Auth.SCRAMIterations == 0 {
		cfg.Auth.SCRAMIterations = 4096
	}
	return &Server{
		cfg:       cfg,
		backend:   b,
		log:       cfg.Logger,
		metrics:   newMetrics(cfg.Registerer),
		listeners: map[net.Listener]struct{}{},
		conns:     map[uint32]*conn{},
		nextPID:   uint32(time.Now().UnixNano()&0xffff) + 1000,
	}
}

// ListenAndServe listens on Config.Addr and serves until ctx ends or
// Shutdown.
func (s *Server) ListenAndServe(ctx context.Context) error {
	addr := s.cfg.Addr
	if addr == "" {
		addr = ":5432"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, l)
}

// Addr returns the address of the most recent listener, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve accepts connections on l until ctx ends or Shutdown is called; it
// closes l. Each connection runs on its own goroutines.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.addr = l.Addr()
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		_ = l.Close()
	}()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		delay = 0
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, nc)
		}()
	}
}

// Shutdown stops accepting, ends every connection (a running statement's
// ctx is cancelled and the client gets FATAL 57P01) and waits for their
// goroutines until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		_ = l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.terminate(errAdminShutdown)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shut down pgwire server: %w", ctx.Err())
	}
}

// register gives c a backend PID and secret key for CancelRequest.
func (s *Server) register(c *conn) error {
	if _, err := rand.Read(c.secret[:]); err != nil {
		return fmt.Errorf("make cancel key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errAdminShutdown
	}
	for {
		s.nextPID++
		if s.nextPID == 0 {
			continue
		}
		if _, taken := s.conns[s.nextPID]; !taken {
			break
		}
	}
	c.pid = s.nextPID
	c.started, c.state = time.Now(), "idle"
	s.conns[c.pid] = c
	return nil
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.pid] == c {
		delete(s.conns, c.pid)
	}
}

// cancel handles a CancelRequest: the statement running on the connection
// with that PID and key is cancelled. Like Postgres it answers nothing.
func (s *Server) cancel(pid uint32, key []byte) {
	s.mu.Lock()
	c := s.conns[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(c.secret[:], key) != 1 {
		s.log.Debug("pgwire: cancel request for unknown backend", "pid", pid)
		return
	}
	c.cancelRunning(errQueryCanceled)
}

// Activity describes every open connection, for pg_stat_activity: the
// database's pgcatalog.Lister can return it from ActivityLister.Activity.
func (s *Server) Activity() []pgcatalog.Activity {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]pgcatalog.Activity, 0, len(conns))
	for _, c := range conns {
		c.runMu.Lock()
		a := pgcatalog.Activity{
			PID: int32(c.pid), User: c.info.User, Database: c.info.Database, ApplicationName: c.info.ApplicationName,
			ClientAddr: c.info.RemoteAddr, BackendStart: c.started.UnixMicro(), State: c.state, Query: c.query,
		}
		if host, _, err := net.SplitHostPort(a.ClientAddr); err == nil {
			a.ClientAddr = host
		}
		if !c.queryStart.IsZero() {
			a.QueryStart = c.queryStart.UnixMicro()
		}
		c.runMu.Unlock()
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

type metrics struct {
	conns      prometheus.Gauge
	connsTotal prometheus.Counter
	latency    *prometheus.HistogramVec
	errs       *prometheus.CounterVec
	// The latency histograms per protocol, resolved once (a label lookup
	// per statement hashes the label values).
	simpleLatency, extendedLatency prometheus.Observer
}

// observe records the duration of one statement run over protocol.
func (m *metrics) observe(protocol string, d time.Duration) {
	switch protocol {
	case "simple":
		m.simpleLatency.Observe(d.Seconds())
	case "extended":
		m.extendedLatency.Observe(d.Seconds())
	default:
		m.latency.WithLabelValues(protocol).Observe(d.Seconds())
	}
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_pgwire_connections", Help: "Open Postgres wire connections.",
		}),
		connsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_pgwire_connections_total", Help: "Postgres wire connections accepted.",
		}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_pgwire_query_duration_seconds",
			Help:    "Time to run a statement, by protocol (simple or extended).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"protocol"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pgwire_errors_total", Help: "Error responses sent, by SQLSTATE class.",
		}, []string{"class"}),
	}
	m.simpleLatency = m.latency.WithLabelValues("simple")
	m.extendedLatency = m.latency.WithLabelValues("extended")
	if r != nil {
		for _, c := range []prometheus.Collector{m.conns, m.connsTotal, m.latency, m.errs} {
			if err := r.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					slog.Default().Warn("pgwire: register metric", "err", err)
				}
			}
		}
	}
	return m
}
