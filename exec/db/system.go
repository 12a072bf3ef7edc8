package db

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/exec/chunk"

	"github.com/sluice-db/sluice/pgwire/pgcatalog"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

func col(name string, t types.Type) types.Column {
	return types.Column{Name: name, Type: t, Nullable: true}
}

// sluiceTables are Sluice's own system tables, documented in docs/sql.md.
var sluiceTables = map[string]types.Schema{
	"sluice_sources": {
		col("name", types.TText),
		col("connector", types.TText),
		col("partitions", types.TInt32),
		col("idle_partitions", types.TInt32),
		col("watermark", types.TTimestampTZ),
		col("events", types.TInt64),
		col("lag", types.TInt64),
		col("lag_unit", types.TText),
		col("progress", types.TJSONB),
		col("definition", types.TText),
	},
	"sluice_views": {
		col("name", types.TText),
		col("watermark", types.TTimestampTZ),
		col("rows_in", types.TInt64),
		col("rows_out", types.TInt64),
		col("rows", types.TInt64),
		col("state_bytes", types.TInt64),
		col("open_windows", types.TInt64),
		col("late_events", types.TInt64),
		col("status", types.TText),
		col("error", types.TText),
		col("definition", types.TText),
		col("parallelism", types.TInt32),
	},
	"sluice_sinks": {
		col("name", types.TText),
		col("connector", types.TText),
		col("from_relation", types.TText),
		col("rows_written", types.TInt64),
		col("last_epoch", types.TInt64),
		col("status", types.TText),
		col("error", types.TText),
		col("definition", types.TText),
	},
	"sluice_late_events": {
		col("view", types.TText),
		col("event_time", types.TTimestampTZ),
		col("watermark", types.TTimestampTZ),
		col("lateness", types.TInterval),
		col("arrived_at", types.TTimestampTZ),
		col("row", types.TJSONB),
	},
	"sluice_dead_letters": {
		col("source", types.TText),
		col("received_at", types.TTimestampTZ),
		col("partition", types.TInt32),
		col("position", types.TText),
		col("reason", types.TText),
		col("raw", types.TBytea),
	},
}

// systemRelation resolves a system table name: sluice_* (also as
// sluice.sluice_*), pg_catalog.* (also unqualified, as Postgres' implicit
// search path does) and information_schema.*.
func systemRelation(name string) (*planner.Relation, bool) {
	n := strings.TrimPrefix(name, "sluice.")
	if cols, ok := sluiceTables[n]; ok {
		return &planner.Relation{Name: n, Kind: plan.RelSystem, Cols: cols, NumPhysical: len(cols), TimeCol: -1}, true
	}
	tables := pgTables()
	if cols, ok := tables[name]; ok {
		return &planner.Relation{Name: name, Kind: plan.RelSystem, Cols: cols, NumPhysical: len(cols), TimeCol: -1}, true
	}
	if !strings.Contains(name, ".") {
		if cols, ok := tables["pg_catalog."+name]; ok {
			return &planner.Relation{Name: "pg_catalog." + name, Kind: plan.RelSystem, Cols: cols, NumPhysical: len(cols), TimeCol: -1}, true
		}
	}
	return nil, false
}

// pgTables is the pg_catalog/information_schema table list, computed once.
var pgTables = sync.OnceValue(pgcatalog.Tables)

// systemRows returns the current contents of a system table.
func (d *DB) systemRows(name string, s *session) ([]types.Row, error) {
	n := strings.TrimPrefix(name, "sluice.")
	switch n {
	case "sluice_sources":
		return d.sourceRows(), nil
	case "sluice_views":
		return d.viewRows(), nil
	case "sluice_sinks":
		return d.sinkRows(), nil
	case "sluice_late_events":
		var rows []types.Row
		for _, ev := range d.engine.LateEvents() {
			rows = append(rows, types.Row{
				types.NewText(ev.View),
				tsOrNull(ev.EventTime),
				tsOrNull(ev.Watermark),
				types.NewIntervalMicros(ev.Lateness),
				types.NewTimestampTZ(ev.Arrival.UnixMicro()),
				types.NewJSONB(ev.Row),
			})
		}
		return rows, nil
	case "sluice_dead_letters":
		var rows []types.Row
		for _, dl := range d.dead.list() {
			rows = append(rows, types.Row{
				types.NewText(dl.Source),
				types.NewTimestampTZ(dl.Time.UnixMicro()),
				types.NewIntKind(types.Int32, int64(dl.Partition)),
				types.NewText(dl.Offset),
				types.NewText(dl.Reason),
				types.NewBytea(dl.Raw),
			})
		}
		return rows, nil
	}
	rows, ok := pgcatalog.Rows(name, lister{d: d, s: s})
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
	}
	return rows, nil
}

func tsOrNull(us int64) types.Value {
	if us == chunk.NoTime || us == chunk.MaxWatermark {
		return types.NullValue
	}
	return types.NewTimestampTZ(us)
}

func textOrNull(s string) types.Value {
	if s == "" {
		return types.NullValue
	}
	return types.NewText(s)
}

func (d *DB) sourceRows() []types.Row {
	stats := map[string][]exec.SourceStats{}
	for _, st := range d.engine.SourceStats() {
		stats[st.Name] = append(stats[st.Name], st)
	}
	var rows []types.Row
	for _, o := range d.objectsSnapshot() {
		if o.kind != kindSource && o.kind != kindTable {
			continue
		}
		var (
			parts, idle int
			events, lag int64
			unit        string
			wm          int64 = chunk.NoTime
			progress          = map[string]map[string]string{}
		)
		for _, st := range stats[o.name] {
			parts = max(parts, len(st.Partitions))
			idleHere := 0
			for _, p := range st.Partitions {
				if p.Idle {
					idleHere++
				}
			}
			idle = max(idle, idleHere)
			events += st.Rows
			if wm == chunk.NoTime || (st.Watermark != chunk.NoTime && st.Watermark < wm) {
				wm = st.Watermark
			}
			var jobLag int64
			for _, l := range st.Lag {
				jobLag += l.Backlog
				unit = l.Unit
			}
			lag = max(lag, jobLag)
			if len(st.Progress) > 0 {
				progress[st.Job] = st.Progress
			}
		}
		connector := "table"
		if o.rel != nil && o.rel.Connector != "" {
			connector = o.rel.Connector
		}
		prog := types.NullValue
		if len(progress) > 0 {
			b, _ := json.Marshal(progress)
			prog = types.NewJSONB(string(b))
		}
		lagV := types.NullValue
		if unit != "" {
			lagV = types.NewInt(lag)
		}
		rows = append(rows, types.Row{
			types.NewText(o.name), types.NewText(connector),
			types.NewIntKind(types.Int32, int64(parts)), types.NewIntKind(types.Int32, int64(idle)),
			tsOrNull(wm), types.NewInt(events), lagV, textOrNull(unit), prog, types.NewText(o.sql),
		})
	}
	return rows
}

func (d *DB) jobStats() map[string]exec.ViewStats {
	out := map[string]exec.ViewStats{}
	for _, st := range d.engine.ViewStats() {
		out[st.Name] = st
	}
	return out
}

func status(st exec.ViewStats, ok bool) (types.Value, types.Value) {
	switch {
	case !ok:
		return types.NewText("stopped"), types.NullValue
	case st.Failed:
		return types.NewText("failed"), textOrNull(st.Error)
	case st.Ended:
		return types.NewText("ended"), types.NullValue
	}
	return types.NewText("running"), types.NullValue
}

func (d *DB) viewRows() []types.Row {
	stats := d.jobStats()
	var rows []types.Row
	for _, o := range d.objectsSnapshot() {
		if o.kind != kindView {
			continue
		}
		st, ok := stats[o.name]
		stat, errv := status(st, ok)
		n := types.NullValue
		if _, contents, err := d.engine.Snapshot(o.name); err == nil {
			n = types.NewInt(int64(len(contents)))
		}
		rows = append(rows, types.Row{
			types.NewText(o.name), tsOrNull(st.Watermark), types.NewInt(st.RowsIn), types.NewInt(st.RowsOut), n,
			types.NewInt(st.StateBytes), types.NewInt(st.OpenWindows), types.NewInt(st.Late), stat, errv, types.NewText(o.sql),
			parallelismOrNull(st, ok),
		})
	}
	return rows
}

// parallelismOrNull is a running job's parallelism (ViewStats.Parallelism).
func parallelismOrNull(st exec.ViewStats, ok bool) types.Value {
	if !ok || st.Parallelism == 0 {
		return types.NullValue
	}
	return types.NewIntKind(types.Int32, int64(st.Parallelism))
}

func (d *DB) sinkRows() []types.Row {
	stats := d.jobStats()
	var rows []types.Row
	for _, o := range d.objectsSnapshot() {
		if o.kind != kindSink {
			continue
		}
		st, ok := stats[o.name]
		stat, errv := status(st, ok)
		from := types.NullValue
		if o.sinkFrom != "" {
			from = types.NewText(o.sinkFrom)
		}
		rows = append(rows, types.Row{
			types.NewText(o.name), types.NewText(o.sinkConnector), from, types.NewInt(st.RowsOut),
			types.NullValue, stat, errv, types.NewText(o.sql),
		})
	}
	return rows
}

// lister adapts the catalog to pgwire/pgcatalog.
type lister struct {
	d *DB
	s *session
}

func (l lister) Objects() []pgcatalog.Object {
	var out []pgcatalog.Object
	for _, o := range l.d.objectsSnapshot() {
		obj := pgcatalog.Object{Name: o.name, Kind: o.kind.String(), Definition: o.sql, OID: o.oid}
		switch {
		case o.rel != nil:
			obj.Cols = o.rel.Cols
		case o.plan != nil:
			obj.Cols = o.plan.Schema()
		}
		out = append(out, obj)
	}
	return out
}

func (l lister) Settings() map[string]string {
	out := map[string]string{}
	for _, kv := range l.s.settings.all() {
		out[kv[0]] = kv[1]
	}
	return out
}

// Activity implements pgcatalog.ActivityLister.
func (l lister) Activity() []pgcatalog.Activity {
	if f := l.d.activity.Load(); f != nil {
		return (*f)()
	}
	return nil
}

func (l lister) Database() string { return l.s.info.Database }
func (l lister) User() string     { return l.s.info.User }
