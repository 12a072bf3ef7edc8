package db

import (
	"context"
	"strings"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// provider serves the batch executor's scans: snapshots of views and
// tables from the engine, system tables from the catalog and engine stats.
type provider struct{ s *session }

// Rows implements batch.Provider.
func (p provider) Rows(ctx context.Context, scan *plan.Scan) ([]types.Row, error) {
	d := p.s.db
	switch scan.Kind {
	case plan.RelSystem:
		rows, err := d.systemRows(scan.Name, p.s)
		if err != nil {
			return nil, err
		}
		full, _ := systemRelation(scan.Name)
		return projectByName(full.Cols, scan.Cols, rows), nil
	case plan.RelView, plan.RelTable:
		schema, rows, err := d.engine.Snapshot(scan.Name)
		if err != nil {
			return nil, err
		}
		return projectByName(schema, scan.Cols, rows), nil
	case plan.RelSource:
		o, err := d.lookup(scan.Name)
		if err == nil && o.push {
			schema, rows, err := d.engine.Snapshot(scan.Name)
			if err != nil {
				return nil, err
			}
			return projectByName(schema, scan.Cols, rows), nil
		}
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "cannot query source %q directly: it is an unbounded stream", scan.Name).
			WithHint("create a materialized view over it and query the view, or SUBSCRIBE to a query")
	}
	return nil, sqlerr.New(sqlerr.Internal, "scan of unknown relation kind %v", scan.Kind)
}

// projectByName maps rows of schema from onto the columns of to (the
// planner may prune columns). Rows are returned as they are when the
// schemas match.
func projectByName(from, to types.Schema, rows []types.Row) []types.Row {
	if len(from) == len(to) {
		same := true
		for i := range from {
			if !strings.EqualFold(from[i].Name, to[i].Name) {
				same = false
				break
			}
		}
		if same {
			return rows
		}
	}
	idx := make([]int, len(to))
	for i, c := range to {
		idx[i] = from.Index(c.Name)
	}
	out := make([]types.Row, len(rows))
	for r, row := range rows {
		nr := make(types.Row, len(to))
		for i, j := range idx {
			if j >= 0 && j < len(row) {
				nr[i] = row[j]
			}
		}
		out[r] = nr
	}
	return out
}
