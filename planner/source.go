package planner

import (
	"strings"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

func withPos(e error, pos sql.Pos) error {
	if se, ok := e.(*sqlerr.Error); ok && se.Line == 0 && pos.Line > 0 {
		c := *se
		c.Line, c.Col = pos.Line, pos.Col
		return &c
	}
	return e
}

// BindSource validates CREATE SOURCE / CREATE TABLE: column types,
// generated columns (typed over the physical columns), the watermark, and
// the connector options (through the connector's registry entry). Physical
// columns come first in the relation, generated columns after them, each
// group in written order.
func (p *Planner) BindSource(s *sql.CreateSource) (*Relation, error) {
	name := strings.ToLower(s.Name)
	var phys, gen []sql.ColumnDef
	seen := map[string]bool{}
	for _, c := range s.Columns {
		ln := strings.ToLower(c.Name)
		if seen[ln] {
			return nil, withPos(sqlerr.New("42701", "column %q specified more than once", c.Name), c.Pos)
		}
		seen[ln] = true
		if c.Generated != nil {
			gen = append(gen, c)
		} else {
			if c.Type.Kind == types.Null {
				return nil, withPos(sqlerr.New(sqlerr.SyntaxError, "column %q needs a type", c.Name), c.Pos)
			}
			phys = append(phys, c)
		}
	}
	if len(phys) == 0 {
		return nil, sqlerr.New(sqlerr.SyntaxError, "%s %q needs at least one physical column", kindWord(s), s.Name)
	}
	var cols types.Schema
	for _, c := range phys {
		cols = append(cols, types.Column{Name: c.Name, Type: c.Type, Nullable: !c.NotNull && !c.PrimaryKey})
	}
	b := p.newBinder(true, nil)
	b.clause = "generated columns"
	physScope := scopeOf("", cols)
	var gens []plan.Generated
	for _, c := range gen {
		e, err := b.bind(c.Generated, physScope)
		if err != nil {
			return nil, withPos(err, c.Pos)
		}
		if isVolatile(e) {
			return nil, withPos(sqlerr.New(sqlerr.FeatureNotSupported, "generated column %q must be computed from the row alone", c.Name).
				WithHint("now(), settings and subqueries are not allowed in generated columns"), c.Pos)
		}
		t := e.Type()
		if c.Type.Kind != types.Null && c.Type != t {
			if e, err = expr.NewCast(e, c.Type); err != nil {
				return nil, withPos(err, c.Pos)
			}
			t = c.Type
		}
		if t.Kind == types.Null {
			t = types.TText
		}
		gens = append(gens, plan.Generated{Col: len(cols), Expr: expr.Fold(e)})
		cols = append(cols, types.Column{Name: c.Name, Type: t, Nullable: true})
	}
	rel := &Relation{Name: name, Kind: plan.RelSource, Cols: cols, NumPhysical: len(phys), Generated: gens,
		AppendOnly: true, TimeCol: -1, Definition: s.Text()}
	if s.IsTable {
		rel.Kind = plan.RelTable
	}
	if w := s.Watermark; w != nil {
		i := cols.Index(w.Column)
		if i < 0 {
			return nil, withPos(scopeOf("", cols).undefinedColumn("", w.Column), w.Pos)
		}
		if !cols[i].Type.Kind.IsTime() {
			return nil, withPos(sqlerr.New(sqlerr.DatatypeMismatch, "watermark column %q must be a timestamp, not %s", w.Column, cols[i].Type), w.Pos)
		}
		delay := int64(0)
		if w.Expr != nil {
			e, err := b.bind(w.Expr, scopeOf("", cols))
			if err != nil {
				return nil, withPos(err, w.Pos)
			}
			c, off, ok := linTime(e)
			if !ok || c != i || off > 0 {
				return nil, withPos(sqlerr.New(sqlerr.FeatureNotSupported, "watermark expression must be %s - INTERVAL '...', got %s", w.Column, e).
					WithHint("write WATERMARK FOR %s AS %s - INTERVAL '5' SECOND", w.Column, w.Column), w.Pos)
			}
			delay = -off
		}
		rel.Watermark = &plan.Watermark{Col: i, Delay: delay}
		rel.TimeCol = i
	}
	all, err := optionMap(s.With, nil, "source")
	if err != nil {
		return nil, err
	}
	conn, _ := connectorOf(all)
	if s.IsTable && conn == "" {
		if len(all) > 0 {
			return nil, sqlerr.New(sqlerr.SyntaxError, "CREATE TABLE takes no WITH options without a connector")
		}
		return rel, nil
	}
	opts, err := validateConnector("source", conn, all)
	if err != nil {
		for _, o := range s.With {
			if strings.Contains(err.Error(), "\""+o.Key+"\"") {
				return nil, withPos(err, o.Pos)
			}
		}
		return nil, err
	}
	if err := checkSchema(conn, cols[:len(phys)], opts); err != nil {
		return nil, err
	}
	delete(opts, "connector")
	rel.Connector = strings.ToLower(conn)
	rel.Options = opts
	return rel, nil
}

func kindWord(s *sql.CreateSource) string {
	if s.IsTable {
		return "table"
	}
	return "source"
}
