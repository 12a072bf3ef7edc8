package db

import (
	"context"
	"strconv"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// Auto-parameterisation: clients on the simple protocol (pgbench -M
// simple, psql, BI tools) send the same SELECT with different literals.
// sql.Parameterize replaces the literals in safe positions by $1..$n; the
// plan of that text is cached under the shape's key (text plus literal
// kinds) and a later query of the same shape binds its literals as
// parameter values instead of being parsed and planned again.
//
// Correctness rests on three checks made once per shape, when it is first
// seen: the original query must parse and plan (otherwise its own error is
// reported by the ordinary path); the parameterised plan must use every
// parameter only where no planning rule looks at a constant
// (planner.AutoParamSafe); and both plans must have the same shape
// (planner.SameShape). A shape that fails is remembered as such and its
// queries take the ordinary path. A literal that does not convert to its
// parameter's type (a malformed date string, say) also takes the ordinary
// path, which reports the error exactly as before.

// autoKeyPrefix keeps auto-parameterised entries apart from entries keyed
// by the query text (query text cannot hold a NUL byte).
const autoKeyPrefix = "\x00auto\x00"

// prepareAuto returns the auto-parameterised statement for text, or nil
// when the ordinary path must handle it.
func (s *session) prepareAuto(text string, version uint64) *prepared {
	if s.db.noAutoParam {
		return nil
	}
	ap, ok := sql.Parameterize(text)
	if !ok {
		return nil
	}
	key := autoKeyPrefix + ap.Key
	cp := s.db.plans.get(key, version)
	if cp == nil {
		cp = s.learnShape(text, ap, key, version)
	}
	if cp == nil || cp.node == nil {
		return nil
	}
	vals, ok := bindLiterals(ap.Literals, cp.params)
	if !ok {
		return nil
	}
	node := cp.node
	return &prepared{
		cols: node.Schema(),
		run: func(ctx context.Context, _ []types.Value) (pgwire.Result, error) {
			if s.db.version.Load() != version { // the catalog changed: plan the original text
				stmt, err := sql.ParseOne(text)
				if err != nil {
					return nil, err
				}
				p, err := s.prepareStmt(ctx, stmt, nil)
				if err != nil {
					return nil, err
				}
				return p.run(ctx, nil)
			}
			return s.runBatch(ctx, node, vals)
		},
	}
}

// learnShape plans the parameterised form of a query seen for the first
// time and caches it, or caches that the shape must not be parameterised.
// It returns nil when the original query itself does not plan (nothing is
// cached: the ordinary path reports the error).
func (s *session) learnShape(text string, ap sql.Parameterized, key string, version uint64) *cachedPlan {
	stmt, err := sql.ParseOne(text)
	if err != nil {
		return nil
	}
	orig, ok := stmt.(*sql.Select)
	if !ok {
		return nil
	}
	origNode, _, err := planner.New(s.db).PlanQuery(orig, nil)
	if err != nil {
		return nil
	}
	never := &cachedPlan{key: key, version: version} // node == nil: do not parameterise
	pstmt, err := sql.ParseOne(ap.Text)
	if err != nil {
		s.db.plans.put(never)
		return never
	}
	psel, ok := pstmt.(*sql.Select)
	if !ok {
		s.db.plans.put(never)
		return never
	}
	declared := make([]types.Type, len(ap.Literals))
	for i, l := range ap.Literals {
		declared[i] = literalType(l.Kind)
	}
	node, ptypes, err := planner.New(s.db).PlanQuery(psel, declared)
	if err != nil || len(ptypes) != len(ap.Literals) || !planner.AutoParamSafe(node, len(ptypes)) || !planner.SameShape(origNode, node) {
		s.db.plans.put(never)
		return never
	}
	cp := &cachedPlan{key: key, version: version, sel: psel, node: node, params: ptypes}
	s.db.plans.put(cp)
	return cp
}

// literalType is the declared parameter type of a literal: what the
// planner gives the constant (a string is untyped, so that it takes the
// type of the column it is compared with, as the constant would).
func literalType(k sql.LiteralKind) types.Type {
	switch k {
	case sql.LitInt4:
		return types.TInt32
	case sql.LitInt8:
		return types.TInt64
	case sql.LitNumeric:
		return types.TNumeric
	case sql.LitFloat8:
		return types.TFloat64
	}
	return types.TNull
}

// bindLiterals converts the literals to the plan's parameter types as the
// planner converts constants; ok is false when one does not convert.
func bindLiterals(lits []sql.Literal, ptypes []types.Type) ([]types.Value, bool) {
	if len(lits) != len(ptypes) {
		return nil, false
	}
	vals := make([]types.Value, len(lits))
	for i, l := range lits {
		t := ptypes[i]
		switch l.Kind {
		case sql.LitInt4, sql.LitInt8:
			n, err := strconv.ParseInt(l.Text, 10, 64)
			if err != nil {
				return nil, false
			}
			if l.Kind == sql.LitInt4 {
				vals[i] = types.NewIntKind(types.Int32, n)
			} else {
				vals[i] = types.NewInt(n)
			}
		case sql.LitNumeric:
			v, err := types.ParseText(types.TNumeric, l.Text)
			if err != nil {
				return nil, false
			}
			vals[i] = v
		case sql.LitFloat8:
			f, err := strconv.ParseFloat(l.Text, 64)
			if err != nil {
				return nil, false
			}
			vals[i] = types.NewFloat(f)
		case sql.LitString:
			v := types.NewText(l.Text)
			if t.Kind != types.Text {
				if !expr.CanCast(types.TText, t) {
					return nil, false
				}
				cv, err := expr.CastValue(v, t)
				if err != nil {
					return nil, false
				}
				v = cv
			}
			vals[i] = v
		default:
			return nil, false
		}
	}
	return vals, true
}
