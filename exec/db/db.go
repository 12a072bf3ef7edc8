package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/pgwire/pgcatalog"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// firstUserOID is the first OID given to user objects; Postgres starts at
// 16384, and pgwire/pgcatalog keeps a few OIDs just above that for itself.
const firstUserOID = 16400

// Config configures a DB. Zero values take the documented defaults.
type Config struct {
	// DataDir holds the catalog and checkpoints. Required.
	DataDir string
	Logger  *slog.Logger
	// Registerer receives the database's metrics (may be nil).
	Registerer prometheus.Registerer
	// IdleTimeout is the default `idle_timeout` of sources: an input silent
	// this long stops holding back the watermark. Default 5s.
	IdleTimeout time.Duration
	// QuietAdvance is the default `quiet_advance` of sources: when every
	// input of a job is silent this long, its watermark advances with
	// processing time so windows close. Default 10s; negative disables.
	QuietAdvance time.Duration
	// CheckpointInterval is how often state is checkpointed. Default 1s.
	CheckpointInterval time.Duration
	// Users are password users for the pg endpoint (may be nil).
	Users map[string]string
	// Parallelism is how many copies of each keyed aggregate run (hash
	// partitioned by key). Default 1.
	Parallelism int
	// SubscriberQueue bounds how many updates a subscriber may fall
	// behind (exec.Config.SubscriberQueue). Default 262144.
	SubscriberQueue int
	// Clock is the engine clock; nil means the real clock.
	Clock exec.Clock
	// DatabaseName is what current_database() reports. Default "sluice".
	DatabaseName string
}

// DB is a running database. Its methods are safe for concurrent use.
type DB struct {
	cfg    Config
	log    *slog.Logger
	engine *exec.Engine

	ddlMu sync.Mutex // serialises DDL and catalog persistence

	mu      sync.RWMutex // guards objects, order, nextOID
	objects map[string]*object
	order   []string
	nextOID uint32

	plans *planCache
	// noAutoParam turns auto-parameterisation of simple queries off
	// (tests compare both paths).
	noAutoParam bool
	dead        deadLetterLog
	// activity lists the open connections for pg_stat_activity (set by
	// the shell once the pg endpoint exists).
	activity atomic.Pointer[func() []pgcatalog.Activity]
	ready    atomic.Bool
	closed   atomic.Bool
	version  atomic.Uint64 // bumped by every DDL; prepared plans re-plan when it moved
}

// objKind is the kind of a catalog object.
type objKind uint8

const (
	kindSource objKind = iota
	kindTable
	kindView
	kindSink
)

func (k objKind) String() string { return [...]string{"source", "table", "view", "sink"}[k] }

func (k objKind) label() string {
	return [...]string{"source", "table", "materialized view", "sink"}[k]
}

func kindFromSQL(k sql.ObjectKind) objKind {
	switch k {
	case sql.ObjTable:
		return kindTable
	case sql.ObjView:
		return kindView
	case sql.ObjSink:
		return kindSink
	}
	return kindSource
}

// object is one catalog entry.
type object struct {
	name string
	kind objKind
	sql  string
	oid  uint32
	rel  *planner.Relation // nil for sinks
	// deps are the names of the relations the object reads.
	deps []string
	// push is true for tables and sources fed by Ingest (connector 'http');
	// their rows are logged durably in wal before the engine sees them.
	push bool
	wal  *tableLog
	// sink state.
	sinkFrom      string
	sinkConnector string
	sink          connectors.Sink
	plan          plan.Node
	created       time.Time
}

// Open opens (or creates) the database in cfg.DataDir, replaying the
// persisted catalog: sources and tables are re-created and views and sinks
// restarted.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("open database: data directory not set")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Second
	}
	if cfg.QuietAdvance == 0 {
		cfg.QuietAdvance = 10 * time.Second
	}
	if cfg.QuietAdvance < 0 {
		cfg.QuietAdvance = 0
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = time.Second
	}
	if cfg.DatabaseName == "" {
		cfg.DatabaseName = "sluice"
	}
	if cfg.Clock == nil {
		cfg.Clock = exec.RealClock{}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	d := &DB{
		cfg:     cfg,
		log:     cfg.Logger,
		objects: map[string]*object{},
		nextOID: firstUserOID,
		plans:   newPlanCache(1024),
	}
	d.dead.max = 10000
	if err := d.dead.open(filepath.Join(cfg.DataDir, deadLetterFile)); err != nil {
		return nil, err
	}
	d.engine = exec.NewEngine(exec.Config{
		Clock:        cfg.Clock,
		Logger:       cfg.Logger,
		IdleTimeout:  cfg.IdleTimeout,
		QuietAdvance: cfg.QuietAdvance,
		DeadLetter:   d.RecordDeadLetter,
		// Operator state and source positions are checkpointed under the
		// data directory; a restart resumes from the last good checkpoint.
		CheckpointDir:      filepath.Join(cfg.DataDir, "checkpoints"),
		CheckpointInterval: cfg.CheckpointInterval,
		Parallelism:        cfg.Parallelism,
		SubscriberQueue:    cfg.SubscriberQueue,
	})
	stored, err := loadCatalog(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	for _, so := range stored.Objects {
		stmt, err := sql.ParseOne(so.SQL)
		if err != nil {
			return nil, fmt.Errorf("restore %s %s: %w", so.Kind, so.Name, err)
		}
		if _, err := d.execDDL(ctx, stmt, so.OID); err != nil {
			return nil, fmt.Errorf("restore %s %s: %w", so.Kind, so.Name, err)
		}
	}
	if stored.NextOID > d.nextOID {
		d.nextOID = stored.NextOID
	}
	if len(stored.Objects) > 0 {
		d.log.Info("catalog restored", "objects", len(stored.Objects), "duration", time.Since(start))
	}
	d.ready.Store(true)
	return d, nil
}

// Close stops every job (sinks flush their last epoch) and the engine.
func (d *DB) Close(ctx context.Context) error {
	if d.closed.Swap(true) {
		return nil
	}
	d.ready.Store(false)
	err := d.engine.Close(ctx)
	d.dead.close()
	d.mu.Lock()
	for _, o := range d.objects {
		if o.wal != nil {
			_ = o.wal.close()
		}
		if o.sink != nil {
			if cerr := o.sink.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close sink %s: %w", o.name, cerr)
			}
		}
	}
	d.mu.Unlock()
	return err
}

// Ready reports whether the database has restored its catalog and serves.
func (d *DB) Ready() bool { return d.ready.Load() && !d.closed.Load() }

// SetActivitySource tells the database how to list the open connections
// for pg_stat_activity (pgwire.Server.Activity).
func (d *DB) SetActivitySource(f func() []pgcatalog.Activity) { d.activity.Store(&f) }

// Engine returns the streaming engine (for the product shell's metrics and
// live push).
func (d *DB) Engine() *exec.Engine { return d.engine }

// Exec runs a script of statements (the demo setup, tests). Statements that
// return rows are run and their rows discarded.
func (d *DB) Exec(ctx context.Context, script string) error {
	stmts, err := sql.Parse(script)
	if err != nil {
		return err
	}
	s := d.newSession(sessionInfo{User: "sluice", Database: d.cfg.DatabaseName})
	defer s.Close()
	for _, st := range stmts {
		p, err := s.prepareStmt(ctx, st, nil)
		if err != nil {
			return err
		}
		res, err := p.Execute(ctx, nil)
		if err != nil {
			return err
		}
		for {
			row, err := res.Next(ctx)
			if err != nil {
				res.Close()
				return err
			}
			if row == nil {
				break
			}
		}
		res.Close()
	}
	return nil
}

// Ingest appends rows to a table or to a source fed over HTTP
// (connector = 'http'). Rows must match the relation's physical columns.
func (d *DB) Ingest(ctx context.Context, name string, rows []types.Row) error {
	o, err := d.lookup(name)
	if err != nil {
		return err
	}
	if !o.push {
		return sqlerr.New(sqlerr.FeatureNotSupported, "%s %q does not accept pushed rows", o.kind.label(), o.name).
			WithHint("create it with connector = 'http', or use a table")
	}
	return d.insert(ctx, o, rows)
}

// insert logs rows durably, then hands them to the engine.
func (d *DB) insert(ctx context.Context, o *object, rows []types.Row) error {
	if len(rows) == 0 {
		return nil
	}
	if err := o.wal.append(rows); err != nil {
		return sqlerr.Wrap(sqlerr.Internal, fmt.Errorf("%s %s: %w", o.kind.label(), o.name, err))
	}
	return d.engine.Insert(ctx, o.name, rows)
}

// Relation implements planner.Catalog: user objects by name, and the system
// tables (sluice_*, pg_catalog.*, information_schema.*).
func (d *DB) Relation(name string) (*planner.Relation, error) {
	n := strings.ToLower(name)
	n = strings.TrimPrefix(n, "public.")
	d.mu.RLock()
	o, ok := d.objects[n]
	d.mu.RUnlock()
	if ok && o.rel != nil {
		return o.rel, nil
	}
	if rel, ok := systemRelation(n); ok {
		return rel, nil
	}
	if ok {
		return nil, sqlerr.New(sqlerr.WrongObjectType, "%q is a %s, not a relation that can be read", name, o.kind.label())
	}
	return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
}

func (d *DB) lookup(name string) (*object, error) {
	n := strings.TrimPrefix(strings.ToLower(name), "public.")
	d.mu.RLock()
	o, ok := d.objects[n]
	d.mu.RUnlock()
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
	}
	return o, nil
}

// objectsSnapshot returns the catalog objects in creation order.
func (d *DB) objectsSnapshot() []*object {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]*object, 0, len(d.order))
	for _, n := range d.order {
		out = append(out, d.objects[n])
	}
	return out
}

// persist writes the catalog; the caller holds ddlMu.
func (d *DB) persist() error {
	d.mu.RLock()
	c := &storedCatalog{Version: 1, NextOID: d.nextOID}
	for _, n := range d.order {
		o := d.objects[n]
		c.Objects = append(c.Objects, storedObject{Name: o.name, Kind: o.kind.String(), SQL: o.sql, OID: o.oid})
	}
	d.mu.RUnlock()
	return saveCatalog(d.cfg.DataDir, c)
}

// dependents returns the objects that read name.
func (d *DB) dependents(name string) []*object {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []*object
	for _, n := range d.order {
		o := d.objects[n]
		if slices.Contains(o.deps, name) {
			out = append(out, o)
		}
	}
	return out
}
