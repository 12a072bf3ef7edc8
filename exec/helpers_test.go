package exec

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func sec(s float64) int64 { return t0.UnixMicro() + int64(s*1e6) }

type harness struct {
	t     *testing.T
	e     *Engine
	clock *FakeClock
	ctx   context.Context
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	clock := NewFakeClock(t0)
	cfg.Clock = clock
	if cfg.BarrierInterval == 0 {
		cfg.BarrierInterval = -1
	}
	e := NewEngine(cfg)
	h := &harness{t: t, e: e, clock: clock, ctx: context.Background()}
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return h
}

func col(i int, name string, t types.Type) *expr.ColRef {
	return &expr.ColRef{Idx: i, Name: name, T: t}
}

// events is the schema (k text, v bigint, ts timestamp) used by most tests.
var events = types.Schema{{Name: "k", Type: types.TText}, {Name: "v", Type: types.TInt64}, {Name: "ts", Type: types.TTimestamp}}

func (h *harness) table(name string, schema types.Schema, wm *plan.Watermark) *plan.Scan {
	h.t.Helper()
	if err := h.e.AddTable(name, schema, wm); err != nil {
		h.t.Fatal(err)
	}
	return &plan.Scan{Name: name, Kind: plan.RelTable, Cols: schema, NumPhysical: len(schema), Watermark: wm}
}

func (h *harness) insert(name string, rows ...types.Row) {
	h.t.Helper()
	if err := h.e.Insert(h.ctx, name, rows); err != nil {
		h.t.Fatal(err)
	}
}

func ev(k string, v int64, s float64) types.Row {
	return types.Row{types.NewText(k), types.NewInt(v), types.NewTimestamp(sec(s))}
}

func (h *harness) flush() {
	h.t.Helper()
	if err := h.e.Flush(h.ctx); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) view(p plan.Node, name string, key []int) {
	h.t.Helper()
	if err := h.e.StartView(h.ctx, &plan.Materialize{Input: p, Name: name, Key: key}); err != nil {
		h.t.Fatal(err)
	}
}

// rows renders a relation's contents sorted, one row a line, values
// separated by spaces and timestamps shown as seconds after t0.
func (h *harness) rows(name string) string {
	h.t.Helper()
	_, rows, err := h.e.Snapshot(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return renderRows(rows)
}

func renderRows(rows []types.Row) string {
	lines := make([]string, 0, len(rows))
	for _, r := range rows {
		parts := make([]string, len(r))
		for i, v := range r {
			switch {
			case v.IsNull():
				parts[i] = "NULL"
			case v.K == types.Timestamp:
				parts[i] = fmt.Sprintf("@%g", float64(v.I-t0.UnixMicro())/1e6)
			default:
				parts[i] = v.String()
			}
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func (h *harness) expect(name, want string) {
	h.t.Helper()
	got := h.rows(name)
	want = strings.TrimSpace(want)
	if got != want {
		h.t.Fatalf("%s:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func countStar() plan.AggCall { return plan.AggCall{Func: "count", Type: types.TInt64, Name: "n"} }

func sumOf(e expr.Expr) plan.AggCall {
	return plan.AggCall{Func: "sum", Args: []expr.Expr{e}, Type: types.TInt64, Name: "s"}
}

func maxOf(e expr.Expr) plan.AggCall {
	return plan.AggCall{Func: "max", Args: []expr.Expr{e}, Type: e.Type(), Name: "m"}
}

// windowAgg builds a WindowAgg over in grouped by column k with count(*)
// and sum(v).
func windowAgg(in plan.Node, w plan.WindowSpec, emit plan.EmitMode, lateness int64, aggs ...plan.AggCall) *plan.WindowAgg {
	if len(aggs) == 0 {
		aggs = []plan.AggCall{countStar(), sumOf(col(1, "v", types.TInt64))}
	}
	cols := types.Schema{{Name: "k", Type: types.TText}, {Name: "window_start", Type: types.TTimestamp},
		{Name: "window_end", Type: types.TTimestamp}, {Name: "window_time", Type: types.TTimestamp}}
	for _, a := range aggs {
		cols = append(cols, types.Column{Name: a.Name, Type: a.Type})
	}
	return &plan.WindowAgg{Input: in, Window: w, GroupBy: []expr.Expr{col(0, "k", types.TText)}, Aggs: aggs,
		Emit: emit, Lateness: lateness, Cols: cols}
}

func micros(s float64) int64 { return int64(s * 1e6) }

// sourceOnly is the rest of connectors.Connector for a test connector that
// only reads: no source options unless it has its own, and no sink.
type sourceOnly struct{}

func (sourceOnly) SourceOptions() []connectors.OptionSpec { return nil }
func (sourceOnly) SinkOptions() []connectors.OptionSpec   { return nil }
func (sourceOnly) OpenSink(context.Context, connectors.SinkSpec) (connectors.Sink, error) {
	return nil, errors.New("not a sink")
}

// letters collects the dead letters an engine writes (Config.DeadLetter),
// for a test to read once the engine has written them.
type letters struct {
	mu   sync.Mutex
	dead []connectors.DeadLetter
}

func (l *letters) add(dl connectors.DeadLetter) {
	l.mu.Lock()
	l.dead = append(l.dead, dl)
	l.mu.Unlock()
}

func (l *letters) all() []connectors.DeadLetter {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]connectors.DeadLetter(nil), l.dead...)
}
