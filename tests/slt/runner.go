package slt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/exec/batch"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// Start is the fake clock's initial time.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// pushConn is the 'slt' connector: a push source whose rows arrive through
// the runner's insert verb.
type pushConn struct{}

func (pushConn) Name() string { return "slt" }
func (pushConn) SourceOptions() []connectors.OptionSpec {
	return []connectors.OptionSpec{{Name: "idle_timeout"}, {Name: "quiet_advance"}}
}
func (pushConn) SinkOptions() []connectors.OptionSpec { return nil }
func (pushConn) OpenSource(context.Context, connectors.SourceSpec) (connectors.Reader, error) {
	return nil, errors.New("the slt connector is push-only")
}
func (pushConn) OpenSink(context.Context, connectors.SinkSpec) (connectors.Sink, error) {
	return nil, errors.New("the slt connector has no sink")
}

var registerOnce sync.Once

// Runner executes scripts against one engine.
type Runner struct {
	Engine *exec.Engine
	Clock  *exec.FakeClock
	mu     sync.Mutex
	rels   map[string]*planner.Relation
}

// NewRunner returns a runner with a fresh engine on a fake clock.
func NewRunner(cfg exec.Config) *Runner {
	registerOnce.Do(func() { connectors.Register(pushConn{}) })
	clock := exec.NewFakeClock(Start)
	cfg.Clock = clock
	if cfg.BarrierInterval == 0 {
		cfg.BarrierInterval = -1
	}
	return &Runner{Engine: exec.NewEngine(cfg), Clock: clock, rels: map[string]*planner.Relation{}}
}

// Close stops the engine.
func (r *Runner) Close() error { return r.Engine.Close(context.Background()) }

// Relation implements planner.Catalog.
func (r *Runner) Relation(name string) (*planner.Relation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rel, ok := r.rels[strings.ToLower(name)]
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
	}
	return rel, nil
}

// Rows implements batch.Provider over the engine's snapshots.
func (r *Runner) Rows(_ context.Context, scan *plan.Scan) ([]types.Row, error) {
	_, rows, err := r.Engine.Snapshot(scan.Name)
	return rows, err
}

// Record is one parsed script record.
type Record struct {
	Line   int
	Verb   string
	Args   []string
	Body   []string // SQL or rows
	Expect []string // query results
}

// Parse splits a script into records.
func Parse(text string) ([]Record, error) {
	var out []Record
	var cur *Record
	inExpect := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		t := strings.TrimSpace(l)
		if cur == nil {
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			f := strings.Fields(t)
			cur = &Record{Line: line, Verb: f[0], Args: f[1:]}
			inExpect = false
			continue
		}
		if t == "" {
			out = append(out, *cur)
			cur = nil
			continue
		}
		if strings.HasPrefix(t, "#") && !inExpect {
			continue
		}
		if t == "----" && cur.Verb == "query" {
			inExpect = true
			continue
		}
		if inExpect {
			cur.Expect = append(cur.Expect, t)
		} else {
			cur.Body = append(cur.Body, l)
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out, sc.Err()
}

// RunFile runs the script at path; it returns the first failure.
func (r *Runner) RunFile(ctx context.Context, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	recs, err := Parse(string(b))
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if err := r.Run(ctx, rec); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, rec.Line, rec.Verb, err)
		}
	}
	return nil
}

// Run executes one record.
func (r *Runner) Run(ctx context.Context, rec Record) error {
	body := strings.Join(rec.Body, "\n")
	switch rec.Verb {
	case "statement":
		if len(rec.Args) == 0 {
			return errors.New("statement needs ok or error")
		}
		err := r.exec(ctx, body)
		if rec.Args[0] == "ok" {
			return err
		}
		want := strings.Join(rec.Args[1:], " ")
		if err == nil {
			return fmt.Errorf("statement succeeded, want an error containing %q", want)
		}
		var se *sqlerr.Error
		if errors.As(err, &se) && se.Code == want {
			return nil
		}
		if !strings.Contains(err.Error(), want) {
			return fmt.Errorf("error %q does not contain %q", err, want)
		}
		return nil
	case "insert":
		if len(rec.Args) != 1 {
			return errors.New("insert needs a table name")
		}
		return r.insertText(ctx, rec.Args[0], rec.Body)
	case "watermark":
		if len(rec.Args) < 2 {
			return errors.New("watermark needs a source and a time")
		}
		us, err := types.ParseTimestamp(strings.Join(rec.Args[1:], " "))
		if err != nil {
			return err
		}
		return r.Engine.AdvanceWatermark(rec.Args[0], us)
	case "advance":
		if len(rec.Args) != 1 {
			return errors.New("advance needs a duration")
		}
		d, err := time.ParseDuration(rec.Args[0])
		if err != nil {
			return err
		}
		r.Clock.Advance(d)
		return nil
	case "flush":
		return r.Engine.Flush(ctx)
	case "query":
		if err := r.Engine.Flush(ctx); err != nil {
			return err
		}
		rows, err := r.query(ctx, body)
		if err != nil {
			return err
		}
		got := make([]string, len(rows))
		for i, row := range rows {
			got[i] = render(row)
		}
		want := append([]string(nil), rec.Expect...)
		if len(rec.Args) == 0 || rec.Args[0] != "nosort" {
			sort.Strings(got)
			sort.Strings(want)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("query results differ\n%s\ngot:\n%s\nwant:\n%s", body, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return nil
	case "late":
		if len(rec.Args) != 2 {
			return errors.New("late needs a view and a count")
		}
		want, err := strconv.Atoi(rec.Args[1])
		if err != nil {
			return err
		}
		if err := r.Engine.Flush(ctx); err != nil {
			return err
		}
		n := 0
		for _, ev := range r.Engine.LateEvents() {
			if ev.View == rec.Args[0] {
				n++
			}
		}
		if n != want {
			return fmt.Errorf("%s has %d late events, want %d", rec.Args[0], n, want)
		}
		return nil
	case "open":
		if len(rec.Args) != 2 {
			return errors.New("open needs a view and a count")
		}
		want, err := strconv.ParseInt(rec.Args[1], 10, 64)
		if err != nil {
			return err
		}
		if err := r.Engine.Flush(ctx); err != nil {
			return err
		}
		for _, st := range r.Engine.ViewStats() {
			if st.Name == rec.Args[0] {
				if st.OpenWindows != want {
					return fmt.Errorf("%s has %d open windows, want %d", st.Name, st.OpenWindows, want)
				}
				return nil
			}
		}
		return fmt.Errorf("no view %s", rec.Args[0])
	}
	return fmt.Errorf("unknown verb %q", rec.Verb)
}

func render(row types.Row) string {
	parts := make([]string, len(row))
	for i, v := range row {
		if v.IsNull() {
			parts[i] = "NULL"
		} else {
			parts[i] = v.String()
		}
	}
	return strings.Join(parts, " ")
}

func (r *Runner) exec(ctx context.Context, text string) error {
	stmts, err := sql.Parse(text)
	if err != nil {
		return err
	}
	p := planner.New(r)
	for _, st := range stmts {
		switch s := st.(type) {
		case *sql.CreateSource:
			rel, err := p.BindSource(s)
			if err != nil {
				return err
			}
			if rel.Kind == plan.RelSource && rel.Connector != "slt" {
				return fmt.Errorf("script sources must use connector 'slt', not %q", rel.Connector)
			}
			if err := r.Engine.AddTable(rel.Name, rel.Cols, rel.Watermark); err != nil {
				return err
			}
			r.mu.Lock()
			r.rels[rel.Name] = rel
			r.mu.Unlock()
		case *sql.CreateView:
			m, rel, err := p.PlanView(s)
			if err != nil {
				return err
			}
			if err := r.Engine.StartView(ctx, m); err != nil {
				return err
			}
			r.mu.Lock()
			r.rels[rel.Name] = rel
			r.mu.Unlock()
		case *sql.Insert:
			ip, err := p.PlanInsert(s, nil)
			if err != nil {
				return err
			}
			rows, err := batch.Collect(ctx, &expr.Context{Now: r.Clock.Now}, ip.Input, r)
			if err != nil {
				return err
			}
			if err := r.insertRows(ctx, ip.Rel, rows); err != nil {
				return err
			}
		case *sql.Drop:
			for _, n := range s.Names {
				if err := r.Engine.Drop(strings.ToLower(n)); err != nil {
					if s.IfExists {
						continue
					}
					return err
				}
				r.mu.Lock()
				delete(r.rels, strings.ToLower(n))
				r.mu.Unlock()
			}
		case *sql.Select:
			if _, err := r.querySelect(ctx, s); err != nil {
				return err
			}
		default:
			return fmt.Errorf("statement %T is not supported by the script runner", st)
		}
	}
	return nil
}

// insertRows widens physical rows to the relation's full width (generated
// columns are computed by the engine).
func (r *Runner) insertRows(ctx context.Context, rel *planner.Relation, rows []types.Row) error {
	for i, row := range rows {
		if len(row) < len(rel.Cols) {
			full := make(types.Row, len(rel.Cols))
			copy(full, row)
			rows[i] = full
		}
	}
	return r.Engine.Insert(ctx, rel.Name, rows)
}

func (r *Runner) insertText(ctx context.Context, name string, lines []string) error {
	rel, err := r.Relation(name)
	if err != nil {
		return err
	}
	np := rel.NumPhysical
	if np == 0 {
		np = len(rel.Cols)
	}
	rows := make([]types.Row, 0, len(lines))
	for _, l := range lines {
		fields := strings.Split(l, ",")
		if len(fields) != np {
			return fmt.Errorf("row %q has %d values, %s has %d physical columns", l, len(fields), name, np)
		}
		row := make(types.Row, len(rel.Cols))
		for i, f := range fields {
			f = strings.TrimSpace(f)
			if f == "NULL" {
				continue
			}
			v, err := types.ParseText(rel.Cols[i].Type, f)
			if err != nil {
				return fmt.Errorf("column %s: %w", rel.Cols[i].Name, err)
			}
			row[i] = v
		}
		rows = append(rows, row)
	}
	return r.Engine.Insert(ctx, rel.Name, rows)
}

func (r *Runner) query(ctx context.Context, text string) ([]types.Row, error) {
	st, err := sql.ParseOne(text)
	if err != nil {
		return nil, err
	}
	sel, ok := st.(*sql.Select)
	if !ok {
		return nil, fmt.Errorf("query needs a SELECT, got %T", st)
	}
	return r.querySelect(ctx, sel)
}

func (r *Runner) querySelect(ctx context.Context, sel *sql.Select) ([]types.Row, error) {
	node, _, err := planner.New(r).PlanQuery(sel, nil)
	if err != nil {
		return nil, err
	}
	return batch.Collect(ctx, &expr.Context{Now: r.Clock.Now}, node, r)
}
