package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-db/sluice/exec/batch"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/pgwire/pgcatalog"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

type sessionInfo = pgwire.SessionInfo

// session is one client's state. It is used by one goroutine at a time.
type session struct {
	db       *DB
	info     sessionInfo
	settings *settings
	mu       sync.Mutex // guards cursors (Close may race with a pump)
	cursors  map[string]*cursor
	subSeq   int
	// timeoutText is the statement_timeout setting last parsed into
	// timeout (StatementTimeout).
	timeoutText string
	timeout     time.Duration
	// catalogFn caches catalogFuncs (see funcs).
	catalogOnce sync.Once
	catalogFn   map[string]func(*expr.Context, []types.Value) (types.Value, error)
}

// NewSession implements pgwire.Backend.
func (d *DB) NewSession(_ context.Context, info pgwire.SessionInfo) (pgwire.Session, error) {
	if d.closed.Load() {
		return nil, sqlerr.New("57P03", "the database is shutting down")
	}
	return d.newSession(info), nil
}

func (d *DB) newSession(info sessionInfo) *session {
	if info.Database == "" {
		info.Database = d.cfg.DatabaseName
	}
	return &session{
		db:       d,
		info:     info,
		settings: newSettings(info.User, info.ApplicationName, info.Params),
		cursors:  map[string]*cursor{},
	}
}

// ReportedSettings implements pgwire.Session.
func (s *session) ReportedSettings() map[string]string { return s.settings.reported() }

// StatementTimeout returns the session's statement_timeout (0 = none).
func (s *session) StatementTimeout() time.Duration {
	v, _ := s.settings.get("statement_timeout")
	if v != s.timeoutText { // parse once per value, not per statement
		s.timeout, _ = parseDurationSetting(v)
		s.timeoutText = v
	}
	return s.timeout
}

// Close implements pgwire.Session: it closes every cursor (ending
// subscriptions).
func (s *session) Close() error {
	s.mu.Lock()
	cs := s.cursors
	s.cursors = map[string]*cursor{}
	s.mu.Unlock()
	for _, c := range cs {
		c.close()
	}
	return nil
}

// Prepare implements pgwire.Session.
func (s *session) Prepare(ctx context.Context, text string, paramTypes []types.Type) (pgwire.Prepared, error) {
	version := s.db.version.Load()
	if len(paramTypes) == 0 {
		if p := s.prepareAuto(text, version); p != nil {
			return p, nil
		}
	}
	key := planKey(text, paramTypes)
	if cp := s.db.plans.get(key, version); cp != nil {
		return s.selectPrepared(cp.sel, cp.node, cp.params, version), nil
	}
	stmt, err := sql.ParseOne(text)
	if sel, ok := stmt.(*sql.Select); ok && err == nil {
		node, ptypes, err := planner.New(s.db).PlanQuery(sel, paramTypes)
		if err != nil {
			return nil, err
		}
		s.db.plans.put(&cachedPlan{key: key, version: version, sel: sel, node: node, params: ptypes})
		return s.selectPrepared(sel, node, ptypes, version), nil
	}
	if err != nil {
		return nil, err
	}
	return s.prepareStmt(ctx, stmt, paramTypes)
}

// prepared is a described statement.
type prepared struct {
	kind   pgwire.StatementKind
	params []types.Type
	cols   types.Schema
	run    func(ctx context.Context, params []types.Value) (pgwire.Result, error)
}

func (p *prepared) Kind() pgwire.StatementKind { return p.kind }
func (p *prepared) Params() []types.Type       { return p.params }
func (p *prepared) Columns() types.Schema      { return p.cols }
func (p *prepared) Execute(ctx context.Context, params []types.Value) (pgwire.Result, error) {
	if len(params) < len(p.params) {
		return nil, sqlerr.New(sqlerr.ProtocolViolation, "statement has %d parameters, %d bound", len(p.params), len(params))
	}
	return p.run(ctx, params)
}

// tagOnly returns a statement without rows that runs fn.
func tagOnly(kind pgwire.StatementKind, fn func(ctx context.Context) (*result, error)) *prepared {
	return &prepared{kind: kind, run: func(ctx context.Context, _ []types.Value) (pgwire.Result, error) {
		return fn(ctx)
	}}
}

func (s *session) prepareStmt(ctx context.Context, stmt sql.Statement, paramTypes []types.Type) (*prepared, error) {
	switch st := stmt.(type) {
	case *sql.Empty:
		return tagOnly(pgwire.KindEmpty, func(context.Context) (*result, error) { return &result{}, nil }), nil
	case *sql.Txn:
		kind, tag := pgwire.KindBegin, "BEGIN"
		switch st.Kind {
		case sql.Commit:
			kind, tag = pgwire.KindCommit, "COMMIT"
		case sql.Rollback:
			kind, tag = pgwire.KindRollback, "ROLLBACK"
		}
		return tagOnly(kind, func(context.Context) (*result, error) { return &result{tag: tag}, nil }), nil
	case *sql.CreateSource, *sql.CreateView, *sql.CreateSink, *sql.Drop:
		return tagOnly(pgwire.KindOther, func(ctx context.Context) (*result, error) {
			res, err := s.db.execDDL(ctx, stmt, 0)
			if err != nil {
				return nil, err
			}
			return &result{tag: res.tag, notices: res.notices}, nil
		}), nil
	case *sql.Select:
		return s.prepareSelect(st, paramTypes)
	case *sql.Insert:
		return s.prepareInsert(st, paramTypes)
	case *sql.ShowObjects:
		return s.prepareShowObjects(st), nil
	case *sql.Describe:
		return s.prepareDescribe(st)
	case *sql.Explain:
		return s.prepareExplain(st)
	case *sql.Set:
		return tagOnly(pgwire.KindOther, func(context.Context) (*result, error) {
			name, err := s.settings.set(st.Name, st.Value)
			if err != nil {
				return nil, err
			}
			r := &result{tag: "SET"}
			if name != "" {
				v, _ := s.settings.get(name)
				r.changed = map[string]string{reportedName(name): v}
			}
			return r, nil
		}), nil
	case *sql.Reset:
		return tagOnly(pgwire.KindOther, func(context.Context) (*result, error) {
			name, err := s.settings.reset(st.Name)
			if err != nil {
				return nil, err
			}
			r := &result{tag: "RESET"}
			if name != "" {
				v, _ := s.settings.get(name)
				r.changed = map[string]string{reportedName(name): v}
			}
			return r, nil
		}), nil
	case *sql.ShowVar:
		return s.prepareShowVar(st)
	case *sql.Subscribe:
		return s.prepareSubscribe(ctx, st)
	case *sql.Copy:
		for _, o := range st.With {
			if o.Key != "format" || !strings.EqualFold(o.Value, "text") {
				return nil, sqlerr.New(sqlerr.FeatureNotSupported, "COPY option %s = %q is not supported", o.Key, o.Value).
					WithHint("COPY (...) TO STDOUT writes the text format")
			}
		}
		inner, err := s.prepareStmt(ctx, st.Stmt, paramTypes)
		if err != nil {
			return nil, err
		}
		return &prepared{kind: pgwire.KindCopyOut, params: inner.params, cols: inner.cols,
			run: func(ctx context.Context, params []types.Value) (pgwire.Result, error) {
				res, err := inner.run(ctx, params)
				if err != nil {
					return nil, err
				}
				return copyResult{res}, nil
			}}, nil
	case *sql.DeclareCursor:
		return s.prepareDeclare(ctx, st, paramTypes)
	case *sql.Fetch:
		return s.prepareFetch(st)
	case *sql.CloseCursor:
		return tagOnly(pgwire.KindOther, func(context.Context) (*result, error) {
			return &result{tag: "CLOSE CURSOR"}, s.closeCursor(st.Name)
		}), nil
	}
	return nil, sqlerr.New(sqlerr.FeatureNotSupported, "statement %T is not supported here", stmt)
}

// exprContext is the evaluation context of ad-hoc statements.
func (s *session) exprContext(params []types.Value) *expr.Context {
	return &expr.Context{
		Now:      s.db.cfg.Clock.Now,
		Setting:  s.settings.get,
		Database: s.info.Database,
		User:     s.info.User,
		Params:   params,
		Funcs:    s.funcs(),
	}
}

// funcs returns the session's catalog functions, built once: they hold
// no state of their own.
func (s *session) funcs() map[string]func(*expr.Context, []types.Value) (types.Value, error) {
	s.catalogOnce.Do(func() { s.catalogFn = s.catalogFuncs() })
	return s.catalogFn
}

// catalogFuncs supplies the catalog functions whose answers need the
// catalog: 'name'::regclass, pg_get_viewdef, obj_description.
func (s *session) catalogFuncs() map[string]func(*expr.Context, []types.Value) (types.Value, error) {
	d := s.db
	byOID := func(v types.Value) *object {
		for _, o := range d.objectsSnapshot() {
			if int64(o.oid) == v.I {
				return o
			}
		}
		return nil
	}
	return map[string]func(*expr.Context, []types.Value) (types.Value, error){
		"__regclass": func(_ *expr.Context, a []types.Value) (types.Value, error) {
			if len(a) != 1 || a[0].IsNull() {
				return types.NullValue, nil
			}
			name := strings.Trim(strings.ToLower(strings.TrimSpace(a[0].S)), `"`)
			if o, err := d.lookup(name); err == nil {
				return types.NewInt(int64(o.oid)), nil
			}
			short := name
			if i := strings.LastIndexByte(name, '.'); i >= 0 {
				short = name[i+1:]
			}
			rows, _ := pgcatalog.Rows("pg_catalog.pg_class", lister{d: d, s: s})
			cols := pgTables()["pg_catalog.pg_class"]
			oidCol, nameCol := cols.Index("oid"), cols.Index("relname")
			for _, r := range rows {
				if oidCol >= 0 && nameCol >= 0 && r[nameCol].S == short {
					return types.NewInt(r[oidCol].I), nil
				}
			}
			return types.NullValue, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", a[0].S)
		},
		"pg_get_viewdef": func(_ *expr.Context, a []types.Value) (types.Value, error) {
			if len(a) == 0 || a[0].IsNull() {
				return types.NullValue, nil
			}
			o := byOID(a[0])
			if o == nil || o.kind != kindView {
				return types.NullValue, nil
			}
			if st, err := sql.ParseOne(o.sql); err == nil {
				if v, ok := st.(*sql.CreateView); ok && v.Query != nil {
					return types.NewText(strings.TrimSpace(v.Query.Text()) + ";"), nil
				}
			}
			return types.NewText(o.sql), nil
		},
		"obj_description": func(_ *expr.Context, a []types.Value) (types.Value, error) {
			if len(a) == 0 || a[0].IsNull() {
				return types.NullValue, nil
			}
			if o := byOID(a[0]); o != nil {
				return types.NewText(fmt.Sprintf("Sluice %s", o.kind.label())), nil
			}
			return types.NullValue, nil
		},
	}
}

func (s *session) prepareSelect(sel *sql.Select, paramTypes []types.Type) (*prepared, error) {
	version := s.db.version.Load()
	node, ptypes, err := planner.New(s.db).PlanQuery(sel, paramTypes)
	if err != nil {
		return nil, err
	}
	return s.selectPrepared(sel, node, ptypes, version), nil
}

// selectPrepared wraps a planned SELECT; a catalog change after planning
// makes Execute plan it again.
func (s *session) selectPrepared(sel *sql.Select, node plan.Node, ptypes []types.Type, version uint64) *prepared {
	return &prepared{
		params: ptypes,
		cols:   node.Schema(),
		run: func(ctx context.Context, params []types.Value) (pgwire.Result, error) {
			n := node
			if s.db.version.Load() != version { // the catalog changed since Prepare: plan again
				nn, _, err := planner.New(s.db).PlanQuery(sel, ptypes)
				if err != nil {
					return nil, err
				}
				n = nn
			}
			return s.runBatch(ctx, n, params)
		},
	}
}

func (s *session) runQuery(ctx context.Context, n plan.Node, params []types.Value) (*result, error) {
	ectx := s.exprContext(params)
	it, err := batch.Run(ctx, ectx, n, provider{s: s, ectx: ectx})
	if err != nil {
		return nil, err
	}
	maxRows := 0
	if v, ok := s.settings.get("max_rows"); ok {
		maxRows, _ = strconv.Atoi(v)
	}
	r := &result{}
	r.next = func(ctx context.Context) (types.Row, error) {
		row, err := it.Next(ctx)
		if err != nil || row == nil {
			return nil, err
		}
		r.count++
		if maxRows > 0 && r.count > maxRows {
			return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "result exceeds max_rows (%d)", maxRows).
				WithHint("add a LIMIT, or SET max_rows = 0")
		}
		return row, nil
	}
	r.tagFn = func() string { return "SELECT " + strconv.Itoa(r.count) }
	r.closeFn = func() error { it.Close(); return nil }
	return r, nil
}

// runBatch is runQuery as a pgwire.Result that says its rows are always
// ready: a batch query computes its rows without waiting for new input,
// so pgwire need not flush in the background while it runs.
func (s *session) runBatch(ctx context.Context, n plan.Node, params []types.Value) (pgwire.Result, error) {
	r, err := s.runQuery(ctx, n, params)
	if err != nil {
		return nil, err
	}
	r.ready = alwaysReady
	return streamResult{r}, nil
}

func alwaysReady() bool { return true }

func (s *session) prepareInsert(ins *sql.Insert, paramTypes []types.Type) (*prepared, error) {
	ip, err := planner.New(s.db).PlanInsert(ins, paramTypes)
	if err != nil {
		return nil, err
	}
	return &prepared{
		params: ip.Params,
		run: func(ctx context.Context, params []types.Value) (pgwire.Result, error) {
			o, err := s.db.lookup(ip.Table)
			if err != nil {
				return nil, err
			}
			if !o.push {
				return nil, sqlerr.New(sqlerr.WrongObjectType, "cannot INSERT into %s %q", o.kind.label(), o.name).
					WithHint("INSERT works on tables and on sources with connector = 'http'")
			}
			rows, err := s.insertRows(ctx, ip, params)
			if err != nil {
				return nil, err
			}
			if err := s.db.insert(ctx, o, rows); err != nil {
				return nil, err
			}
			if v, _ := s.settings.get("implicit_flush"); v == "on" {
				if err := s.db.engine.Flush(ctx); err != nil {
					return nil, err
				}
			}
			return &result{tag: fmt.Sprintf("INSERT 0 %d", len(rows))}, nil
		},
	}, nil
}

// insertRows evaluates the rows of an INSERT (VALUES or a query), already
// shaped by the planner to the table's physical columns.
func (s *session) insertRows(ctx context.Context, ip *planner.InsertPlan, params []types.Value) ([]types.Row, error) {
	ectx := s.exprContext(params)
	it, err := batch.Run(ctx, ectx, ip.Input, provider{s: s, ectx: ectx})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var rows []types.Row
	for {
		r, err := it.Next(ctx)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return rows, nil
		}
		rows = append(rows, append(types.Row(nil), r...))
	}
}

// rowsPrepared returns a statement that yields fixed rows computed at
// Execute time.
func rowsPrepared(cols types.Schema, tag string, fn func(ctx context.Context) ([]types.Row, error)) *prepared {
	return &prepared{cols: cols, run: func(ctx context.Context, _ []types.Value) (pgwire.Result, error) {
		rows, err := fn(ctx)
		if err != nil {
			return nil, err
		}
		return rowsResult(rows, tag), nil
	}}
}

func textCols(names ...string) types.Schema {
	out := make(types.Schema, len(names))
	for i, n := range names {
		out[i] = types.Column{Name: n, Type: types.TText, Nullable: true}
	}
	return out
}

func (s *session) prepareShowObjects(st *sql.ShowObjects) *prepared {
	want := kindFromSQL(st.Kind)
	return rowsPrepared(textCols("name", "definition"), "SHOW", func(context.Context) ([]types.Row, error) {
		var rows []types.Row
		for _, o := range s.db.objectsSnapshot() {
			if o.kind == want {
				rows = append(rows, types.Row{types.NewText(o.name), types.NewText(o.sql)})
			}
		}
		return rows, nil
	})
}

func (s *session) prepareDescribe(st *sql.Describe) (*prepared, error) {
	rel, err := s.db.Relation(st.Name)
	if err != nil {
		if o, lerr := s.db.lookup(st.Name); lerr == nil && o.kind == kindSink {
			rel = &planner.Relation{Name: o.name, Cols: o.plan.Schema(), TimeCol: -1}
		} else {
			return nil, err
		}
	}
	cols := types.Schema{
		{Name: "name", Type: types.TText},
		{Name: "type", Type: types.TText},
		{Name: "nullable", Type: types.TBool},
		{Name: "extra", Type: types.TText, Nullable: true},
	}
	return rowsPrepared(cols, "DESCRIBE", func(context.Context) ([]types.Row, error) {
		var rows []types.Row
		for i, c := range rel.Cols {
			if c.Hidden {
				continue
			}
			var extra []string
			if i >= rel.NumPhysical && rel.NumPhysical > 0 && rel.Kind != plan.RelView {
				for _, g := range rel.Generated {
					if g.Col == i {
						extra = append(extra, "generated as "+g.Expr.String())
					}
				}
			}
			if rel.Watermark != nil && rel.Watermark.Col == i {
				extra = append(extra, "watermark "+c.Name+" - "+string(types.AppendInterval(nil, rel.Watermark.Delay)))
			}
			for _, k := range rel.Key {
				if k == i {
					extra = append(extra, "key")
				}
			}
			ev := types.NullValue
			if len(extra) > 0 {
				ev = types.NewText(strings.Join(extra, "; "))
			}
			rows = append(rows, types.Row{types.NewText(c.Name), types.NewText(c.Type.String()), types.NewBool(c.Nullable), ev})
		}
		return rows, nil
	}), nil
}

func (s *session) prepareExplain(st *sql.Explain) (*prepared, error) {
	text, err := planner.New(s.db).Explain(st.Stmt)
	if err != nil {
		return nil, err
	}
	return rowsPrepared(textCols("QUERY PLAN"), "EXPLAIN", func(context.Context) ([]types.Row, error) {
		var rows []types.Row
		for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			rows = append(rows, types.Row{types.NewText(line)})
		}
		return rows, nil
	}), nil
}

func (s *session) prepareShowVar(st *sql.ShowVar) (*prepared, error) {
	if strings.EqualFold(st.Name, "all") {
		return rowsPrepared(textCols("name", "setting", "description"), "SHOW", func(context.Context) ([]types.Row, error) {
			var rows []types.Row
			for _, kv := range s.settings.all() {
				rows = append(rows, types.Row{types.NewText(kv[0]), types.NewText(kv[1]), types.NewText(kv[2])})
			}
			return rows, nil
		}), nil
	}
	name := canonicalName(st.Name)
	if _, ok := s.settings.get(name); !ok {
		return nil, sqlerr.New(sqlerr.UndefinedObject, "unrecognized configuration parameter %q", st.Name)
	}
	return rowsPrepared(textCols(name), "SHOW", func(context.Context) ([]types.Row, error) {
		v, _ := s.settings.get(name)
		return []types.Row{{types.NewText(v)}}, nil
	}), nil
}

// result implements pgwire.Result.
type result struct {
	next    func(ctx context.Context) (types.Row, error)
	tag     string
	tagFn   func() string
	notices []string
	changed map[string]string
	closeFn func() error
	count   int
	// ready, when set, makes the result a pgwire.StreamResult: it tells
	// whether Next would return without waiting.
	ready func() bool
}

// streamResult is a result whose Next may wait for rows (SUBSCRIBE).
type streamResult struct{ *result }

// HasReady implements pgwire.StreamResult.
func (r streamResult) HasReady() bool { return r.ready() }

func rowsResult(rows []types.Row, tag string) *result {
	r := &result{}
	i := 0
	r.next = func(context.Context) (types.Row, error) {
		if i >= len(rows) {
			return nil, nil
		}
		i++
		return rows[i-1], nil
	}
	r.tagFn = func() string {
		if tag == "SELECT" || tag == "SHOW" || tag == "EXPLAIN" || tag == "DESCRIBE" {
			return fmt.Sprintf("SELECT %d", i)
		}
		return tag
	}
	return r
}

func (r *result) Next(ctx context.Context) (types.Row, error) {
	if r.next == nil {
		return nil, nil
	}
	return r.next(ctx)
}

func (r *result) Tag() string {
	if r.tagFn != nil {
		return r.tagFn()
	}
	return r.tag
}

func (r *result) Notices() []string                  { return r.notices }
func (r *result) SettingsChanged() map[string]string { return r.changed }

func (r *result) Close() error {
	if r.closeFn != nil {
		f := r.closeFn
		r.closeFn = nil
		return f()
	}
	return nil
}

// copyResult is the result of COPY ... TO STDOUT: an empty tag lets pgwire
// report "COPY n". It keeps the inner result's streaming readiness.
type copyResult struct{ pgwire.Result }

func (copyResult) Tag() string { return "" }

// HasReady implements pgwire.StreamResult for subscriptions.
func (c copyResult) HasReady() bool {
	if sr, ok := c.Result.(pgwire.StreamResult); ok {
		return sr.HasReady()
	}
	return true
}
