package db

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// provider serves the batch executor's scans: snapshots of views and
// tables from the engine (point lookups through an index when the query
// pins columns to constants), system tables from the catalog and engine
// stats.
type provider struct {
	s    *session
	ectx *expr.Context
}

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
		if err := d.engine.ViewFailure(scan.Name); err != nil {
			return nil, err
		}
		if cols, key, ok := p.pointKey(scan); ok {
			schema, rows, err := d.engine.Lookup(scan.Name, cols, key)
			if err != nil {
				return nil, err
			}
			return projectByName(schema, scan.Cols, rows), nil
		}
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

// pointKey finds `column = constant or parameter` conjuncts among the
// scan's pushed predicates and returns the relation's column indexes and
// the key values, coerced to the columns' kinds. ok is false when there are
// none or a value cannot be used as a hash key (the scan then reads the
// snapshot; the executor re-applies every predicate either way).
func (p provider) pointKey(scan *plan.Scan) ([]int, types.Row, bool) {
	if len(scan.Pushed) == 0 {
		return nil, nil, false
	}
	rel, err := p.s.db.Relation(scan.Name)
	if err != nil {
		return nil, nil, false
	}
	var cols []int
	var key types.Row
	for _, e := range scan.Pushed {
		c, ok := e.(*expr.Cmp)
		if !ok || c.Op != expr.EQ {
			continue
		}
		ref, val := c.L, c.R
		if _, isRef := ref.(*expr.ColRef); !isRef {
			ref, val = c.R, c.L
		}
		cr, isRef := ref.(*expr.ColRef)
		if !isRef || cr.Idx < 0 || cr.Idx >= len(scan.Cols) {
			continue
		}
		switch val.(type) {
		case *expr.Const, *expr.Param:
		default:
			continue
		}
		v, err := val.Eval(p.ectx, nil)
		if err != nil {
			return nil, nil, false
		}
		i := rel.Cols.Index(scan.Cols[cr.Idx].Name)
		if i < 0 || slices.Contains(cols, i) {
			continue
		}
		ck := rel.Cols[i].Type.Kind
		switch {
		case v.IsNull():
			return nil, nil, false
		case v.K == ck:
		case v.K.IsInteger() && ck.IsInteger():
			v.K = ck
		case v.K.IsTime() && ck.IsTime():
			v.K = ck
		default:
			return nil, nil, false // e.g. 1.5 = bigint column: let the filter decide
		}
		cols = append(cols, i)
		key = append(key, v)
	}
	switch len(cols) {
	case 0:
		return nil, nil, false
	case 1:
		return cols, key, true
	}
	// A stable column order lets queries pinning the same columns share
	// one index.
	idx := make([]int, len(cols))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return cols[idx[a]] < cols[idx[b]] })
	sc, sk := make([]int, len(cols)), make(types.Row, len(cols))
	for i, j := range idx {
		sc[i], sk[i] = cols[j], key[j]
	}
	return sc, sk, true
}
