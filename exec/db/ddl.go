package db

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/sqlerr"
)

// ddlResult is what a DDL statement reports back.
type ddlResult struct {
	tag     string
	notices []string
	changed bool // the catalog changed (not skipped by IF [NOT] EXISTS)
}

// execDDL runs a catalog-changing statement. oid is the object's OID when
// restoring from the persisted catalog, 0 for a new statement (which is
// then persisted).
func (d *DB) execDDL(ctx context.Context, stmt sql.Statement, oid uint32) (ddlResult, error) {
	d.ddlMu.Lock()
	defer d.ddlMu.Unlock()
	var (
		res ddlResult
		err error
	)
	switch s := stmt.(type) {
	case *sql.CreateSource:
		res, err = d.createSource(ctx, s, oid)
	case *sql.CreateView:
		res, err = d.createView(ctx, s, oid)
	case *sql.CreateSink:
		res, err = d.createSink(ctx, s, oid)
	case *sql.Drop:
		res, err = d.drop(ctx, s)
	default:
		return res, sqlerr.New(sqlerr.Internal, "statement %T is not DDL", stmt)
	}
	if err != nil {
		return res, err
	}
	if !res.changed {
		return res, nil
	}
	d.version.Add(1)
	if oid == 0 {
		if perr := d.persist(); perr != nil {
			return res, sqlerr.Wrap(sqlerr.Internal, fmt.Errorf("persist catalog: %w", perr))
		}
	}
	return res, nil
}

// checkNew returns (skip, error) for a name about to be created.
func (d *DB) checkNew(name string, ifNotExists bool) (bool, []string, error) {
	d.mu.RLock()
	o, exists := d.objects[strings.ToLower(name)]
	d.mu.RUnlock()
	if !exists {
		if _, sys := systemRelation(strings.ToLower(name)); sys {
			return false, nil, sqlerr.New(sqlerr.DuplicateTable, "relation %q already exists as a system table", name)
		}
		return false, nil, nil
	}
	if ifNotExists {
		return true, []string{fmt.Sprintf("relation %q already exists, skipping", name)}, nil
	}
	return false, nil, sqlerr.New(sqlerr.DuplicateTable, "%s %q already exists", o.kind.label(), name).
		WithHint("use CREATE ... IF NOT EXISTS, or DROP it first")
}

func (d *DB) allocOID(oid uint32) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if oid != 0 {
		if oid >= d.nextOID {
			d.nextOID = oid + 1
		}
		return oid
	}
	oid = d.nextOID
	d.nextOID++
	return oid
}

func (d *DB) add(o *object) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.objects[o.name] = o
	d.order = append(d.order, o.name)
}

func (d *DB) createSource(ctx context.Context, s *sql.CreateSource, oid uint32) (ddlResult, error) {
	tag := "CREATE SOURCE"
	kind := kindSource
	if s.IsTable {
		tag, kind = "CREATE TABLE", kindTable
	}
	skip, notices, err := d.checkNew(s.Name, s.IfNotExists)
	if err != nil || skip {
		return ddlResult{tag: tag, notices: notices}, err
	}
	rel, err := planner.New(d).BindSource(s)
	if err != nil {
		return ddlResult{}, err
	}
	o := &object{
		name:    strings.ToLower(s.Name),
		kind:    kind,
		sql:     s.Text(),
		rel:     rel,
		push:    s.IsTable || rel.Connector == "http",
		created: time.Now(),
	}
	if o.push {
		path := tableLogPath(d.cfg.DataDir, o.name)
		if oid == 0 {
			_ = os.Remove(path) // a new object never inherits a dropped one's rows
		}
		wal, rows, err := openTableLog(path)
		if err != nil {
			return ddlResult{}, sqlerr.Wrap(sqlerr.Internal, err)
		}
		if err := d.engine.AddTable(o.name, rel.Cols, rel.Watermark); err != nil {
			wal.close()
			return ddlResult{}, err
		}
		o.wal = wal
		// Replay what was accepted before a restart, before any view
		// starts, so views backfill from it.
		if len(rows) > 0 {
			if err := d.engine.Insert(ctx, o.name, rows); err != nil {
				return ddlResult{}, err
			}
			d.log.Info("table log replayed", "relation", o.name, "rows", len(rows))
		}
	}
	o.oid = d.allocOID(oid)
	d.add(o)
	return ddlResult{tag: tag, changed: true}, nil
}

func (d *DB) createView(ctx context.Context, v *sql.CreateView, oid uint32) (ddlResult, error) {
	skip, notices, err := d.checkNew(v.Name, v.IfNotExists)
	if err != nil || skip {
		return ddlResult{tag: "CREATE MATERIALIZED VIEW", notices: notices}, err
	}
	m, rel, err := planner.New(d).PlanView(v)
	if err != nil {
		return ddlResult{}, err
	}
	if oid == 0 {
		// A new view (not one the catalog restores): any state kept under
		// its name is another's.
		d.engine.DiscardState(m.Name)
	}
	if err := d.engine.StartView(ctx, m); err != nil {
		return ddlResult{}, err
	}
	// Like RisingWave's CREATE MATERIALIZED VIEW, return once the view has
	// taken in what its inputs already hold (table rows, upstream views), so
	// that a query right after it sees them.
	if err := d.engine.Flush(ctx); err != nil {
		d.log.Warn("flush after creating view", "view", v.Name, "err", err)
	}
	o := &object{
		name:    strings.ToLower(v.Name),
		kind:    kindView,
		sql:     v.Text(),
		rel:     rel,
		deps:    scannedNames(m),
		plan:    m,
		created: time.Now(),
	}
	o.oid = d.allocOID(oid)
	d.add(o)
	return ddlResult{tag: "CREATE MATERIALIZED VIEW", changed: true}, nil
}

func (d *DB) createSink(ctx context.Context, s *sql.CreateSink, oid uint32) (ddlResult, error) {
	skip, notices, err := d.checkNew(s.Name, s.IfNotExists)
	if err != nil || skip {
		return ddlResult{tag: "CREATE SINK", notices: notices}, err
	}
	p, err := planner.New(d).PlanSink(s)
	if err != nil {
		return ddlResult{}, err
	}
	conn, err := connectors.Lookup(p.Connector)
	if err != nil {
		return ddlResult{}, sqlerr.Wrap(sqlerr.InvalidParameterValue, err)
	}
	sink, err := conn.OpenSink(ctx, connectors.SinkSpec{
		Name:       strings.ToLower(s.Name),
		Schema:     p.Input.Schema(),
		Key:        p.Key,
		AppendOnly: p.AppendOnly,
		Options:    p.Options,
	})
	if err != nil {
		return ddlResult{}, sqlerr.Wrap(sqlerr.ConnectionException, fmt.Errorf("open %s sink %s: %w", p.Connector, s.Name, err))
	}
	if oid == 0 {
		d.engine.DiscardState(p.Name) // a new sink, as for views
	}
	if err := d.engine.StartSink(ctx, p, sink); err != nil {
		sink.Close()
		return ddlResult{}, err
	}
	o := &object{
		name:          strings.ToLower(s.Name),
		kind:          kindSink,
		sql:           s.Text(),
		deps:          scannedNames(p),
		sinkFrom:      s.From,
		sinkConnector: p.Connector,
		sink:          sink,
		plan:          p,
		created:       time.Now(),
	}
	o.oid = d.allocOID(oid)
	d.add(o)
	return ddlResult{tag: "CREATE SINK", changed: true}, nil
}

func (d *DB) drop(ctx context.Context, s *sql.Drop) (ddlResult, error) {
	want := kindFromSQL(s.Kind)
	tag := "DROP " + strings.ToUpper(want.label())
	var res ddlResult
	res.tag = tag
	for _, name := range s.Names {
		n := strings.TrimPrefix(strings.ToLower(name), "public.")
		d.mu.RLock()
		o, ok := d.objects[n]
		d.mu.RUnlock()
		if !ok {
			if s.IfExists {
				res.notices = append(res.notices, fmt.Sprintf("%s %q does not exist, skipping", want.label(), name))
				continue
			}
			return res, sqlerr.New(sqlerr.UndefinedTable, "%s %q does not exist", want.label(), name)
		}
		if o.kind != want {
			return res, sqlerr.New(sqlerr.WrongObjectType, "%q is a %s, not a %s", name, o.kind.label(), want.label()).
				WithHint("use DROP %s", strings.ToUpper(o.kind.label()))
		}
		deps := d.dependents(n)
		if len(deps) > 0 && !s.Cascade {
			names := make([]string, len(deps))
			for i, dep := range deps {
				names[i] = dep.kind.label() + " " + dep.name
			}
			return res, sqlerr.New(sqlerr.DependentObjects, "cannot drop %s %s because other objects depend on it", o.kind.label(), o.name).
				WithDetail("%s depend on it", strings.Join(names, ", ")).
				WithHint("use DROP ... CASCADE to drop the dependent objects too")
		}
		if err := d.dropCascade(o, &res); err != nil {
			return res, err
		}
		res.changed = true
	}
	return res, nil
}

// dropCascade drops o after everything that depends on it.
func (d *DB) dropCascade(o *object, res *ddlResult) error {
	for _, dep := range d.dependents(o.name) {
		if err := d.dropCascade(dep, res); err != nil {
			return err
		}
		res.notices = append(res.notices, fmt.Sprintf("drop cascades to %s %s", dep.kind.label(), dep.name))
	}
	if o.kind == kindView || o.kind == kindSink || o.push {
		if err := d.engine.Drop(o.name); err != nil {
			return err
		}
	}
	if o.sink != nil {
		if err := o.sink.Close(); err != nil {
			d.log.Warn("close sink", "sink", o.name, "err", err)
		}
	}
	if o.wal != nil {
		_ = o.wal.close()
		if err := os.Remove(o.wal.path); err != nil && !os.IsNotExist(err) {
			d.log.Warn("remove table log", "relation", o.name, "err", err)
		}
	}
	d.mu.Lock()
	delete(d.objects, o.name)
	d.order = slices.DeleteFunc(d.order, func(n string) bool { return n == o.name })
	d.mu.Unlock()
	return nil
}

// scannedNames lists the relations a plan reads, without duplicates.
func scannedNames(n plan.Node) []string {
	var out []string
	var walk func(plan.Node)
	walk = func(n plan.Node) {
		if s, ok := n.(*plan.Scan); ok && !slices.Contains(out, s.Name) {
			out = append(out, s.Name)
		}
		for _, c := range n.Children() {
			walk(c)
		}
	}
	walk(n)
	return out
}
