package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-db/sluice/connectors"
	_ "github.com/sluice-db/sluice/connectors/clickhouse" // registers 'clickhouse'
	_ "github.com/sluice-db/sluice/connectors/datagen"    // registers 'datagen'
	_ "github.com/sluice-db/sluice/connectors/file"       // registers 'file'
	"github.com/sluice-db/sluice/connectors/httpingest"
	_ "github.com/sluice-db/sluice/connectors/pulsar" // registers 'pulsar'
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/exec/db"
	"github.com/sluice-db/sluice/exec/server"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// openDatabase opens the database in cfg.DataDir (restoring the catalog
// and restarting views and sinks), runs the demo script when asked, and
// builds the Postgres endpoint.
func openDatabase(ctx context.Context, cfg server.Config, log *slog.Logger, reg *prometheus.Registry) (server.Deps, error) {
	quiet := cfg.QuietAdvance
	if quiet == 0 {
		quiet = -1 // db: negative disables
	}
	d, err := db.Open(ctx, db.Config{
		DataDir:            cfg.DataDir,
		Logger:             log,
		Registerer:         reg,
		IdleTimeout:        cfg.IdleTimeout,
		QuietAdvance:       quiet,
		CheckpointInterval: cfg.CheckpointInterval,
		Parallelism:        cfg.Parallelism,
		SubscriberQueue:    cfg.SubscriberQueue,
		Users:              cfg.PGUsers,
	})
	if err != nil {
		return server.Deps{}, fmt.Errorf("open database in %s: %w", cfg.DataDir, err)
	}
	if cfg.Demo {
		if err := d.Exec(ctx, server.DemoSQL); err != nil {
			return server.Deps{}, errors.Join(fmt.Errorf("create demo objects: %w", err), d.Close(ctx))
		}
		log.Info("demo source and views ready", "views", server.DemoViews)
	}
	pgcfg := pgwire.Config{Addr: cfg.PGAddr, Logger: log, Registerer: reg}
	if len(cfg.PGUsers) > 0 {
		pgcfg.Auth = pgwire.AuthConfig{Method: pgwire.AuthSCRAM, Users: cfg.PGUsers}
	} else {
		// Trust loopback clients; others would need a password user.
		pgcfg.Auth = pgwire.AuthConfig{Method: pgwire.AuthDefault}
	}
	if cfg.PGTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.PGTLSCert, cfg.PGTLSKey)
		if err != nil {
			return server.Deps{}, errors.Join(fmt.Errorf("load --pg-tls-cert/--pg-tls-key: %w", err), d.Close(ctx))
		}
		pgcfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	a := &dbAdapter{d: d}
	pg := pgwire.NewServer(pgcfg, d)
	d.SetActivitySource(pg.Activity)
	return server.Deps{
		DB:         a,
		Ingest:     a,
		Subscriber: a,
		PG:         pg,
		Registry:   reg,
		Logger:     log,
	}, nil
}

// dbAdapter presents exec/db to the server package.
type dbAdapter struct{ d *db.DB }

func (a *dbAdapter) Ready() bool                     { return a.d.Ready() }
func (a *dbAdapter) Close(ctx context.Context) error { return a.d.Close(ctx) }
func (a *dbAdapter) RecordDeadLetter(dl connectors.DeadLetter) {
	a.d.RecordDeadLetter(dl)
}

func (a *dbAdapter) Ingest(ctx context.Context, source string, rows []types.Row) error {
	return a.d.Ingest(ctx, source, rows)
}

func isUndefined(err error) bool {
	var se *sqlerr.Error
	return errors.As(err, &se) && (se.Code == sqlerr.UndefinedTable || se.Code == sqlerr.UndefinedObject)
}

func isWrongObject(err error) bool {
	var se *sqlerr.Error
	return errors.As(err, &se) && se.Code == sqlerr.WrongObjectType
}

func (a *dbAdapter) IngestRelation(name string) (httpingest.Relation, error) {
	rel, err := a.d.Relation(name)
	if err != nil {
		if isUndefined(err) {
			return httpingest.Relation{}, fmt.Errorf("%w: %v", httpingest.ErrNotFound, err)
		}
		if isWrongObject(err) {
			return httpingest.Relation{Name: name, Push: false}, nil // a sink: 409
		}
		return httpingest.Relation{}, err
	}
	n := rel.NumPhysical
	if n == 0 || n > len(rel.Cols) {
		n = len(rel.Cols)
	}
	return httpingest.Relation{
		Name:    rel.Name,
		Push:    rel.Kind == plan.RelTable || (rel.Kind == plan.RelSource && httpingest.IsPush(rel.Connector)),
		Schema:  rel.Cols[:n],
		Options: rel.Options,
	}, nil
}

func (a *dbAdapter) Stats() server.Stats {
	e := a.d.Engine()
	var st server.Stats
	bySource := map[string]int{}
	for _, s := range e.SourceStats() {
		i, ok := bySource[s.Name]
		if !ok {
			i = len(st.Sources)
			bySource[s.Name] = i
			st.Sources = append(st.Sources, server.SourceStats{Name: s.Name, Lag: -1})
		}
		ss := &st.Sources[i]
		// A source read by several views counts once per reading job;
		// report the furthest reader.
		ss.Events = max(ss.Events, s.Rows)
		for _, l := range s.Lag {
			if ss.Lag < 0 {
				ss.Lag = 0
			}
			ss.Lag += l.Backlog
			ss.LagUnit = l.Unit
		}
	}
	for _, v := range e.ViewStats() {
		if v.Kind == "sink" {
			st.Sinks = append(st.Sinks, server.SinkStats{Name: v.Name, Events: v.RowsOut})
			continue
		}
		vs := server.ViewStats{Name: v.Name, EventsIn: v.RowsIn, EventsOut: v.RowsOut, StateBytes: v.StateBytes, LateEvents: v.Late}
		if v.Watermark != chunk.NoTime && v.Watermark != chunk.MaxWatermark {
			vs.Watermark = time.UnixMicro(v.Watermark)
		}
		st.Views = append(st.Views, vs)
	}
	for _, c := range e.CheckpointStats() {
		st.Checkpoints = append(st.Checkpoints, server.CheckpointStats{Job: c.Job, Count: c.Count, Failures: c.Failures,
			LastDuration: c.LastDuration, LastEpoch: c.LastEpoch, LastBytes: c.LastBytes})
	}
	for _, r := range e.Recoveries() {
		st.Recoveries = append(st.Recoveries, server.RecoveryStats{Job: r.Job, Duration: r.Duration, Skipped: len(r.Skipped)})
	}
	_, st.DeadLetters = a.d.DeadLetterCounts()
	return st
}

func (a *dbAdapter) Subscribe(ctx context.Context, view string) (server.Subscription, error) {
	rel, err := a.d.Relation(view)
	if err != nil {
		if isUndefined(err) || isWrongObject(err) {
			return nil, fmt.Errorf("%w: %v", server.ErrNoSuchView, err)
		}
		return nil, err
	}
	sub, err := a.d.Engine().Subscribe(ctx, rel.Name)
	if err != nil {
		return nil, err
	}
	return &subAdapter{s: sub, schema: rel.Cols}, nil
}

type subAdapter struct {
	s      *exec.Subscription
	schema types.Schema
}

func (s *subAdapter) Schema() types.Schema { return s.schema }
func (s *subAdapter) Close() error         { s.s.Close(); return nil }
func (s *subAdapter) Next(ctx context.Context) (server.Update, error) {
	u, err := s.s.Next(ctx)
	if err != nil {
		return server.Update{}, err
	}
	return server.Update{Delete: u.Op == chunk.Delete, Row: u.Row, IsProgress: u.IsProgress, Progress: u.Progress}, nil
}
