package planner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/pgwire/pgcatalog"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// testConn is a connector registered for planner tests only.
type testConn struct{}

func (testConn) Name() string { return "plannertest" }
func (testConn) SourceOptions() []connectors.OptionSpec {
	return []connectors.OptionSpec{{Name: "topic", Required: true}, {Name: "format", Default: "json", Valid: connectors.OneOf("json", "csv")}}
}
func (testConn) SinkOptions() []connectors.OptionSpec {
	return []connectors.OptionSpec{{Name: "table", Required: true}}
}

// CheckSchema rejects a column named "forbidden" (connectors.SchemaChecker).
func (testConn) CheckSchema(s types.Schema, _ map[string]string) error {
	if s.Index("forbidden") >= 0 {
		return errors.New(`column "forbidden" is not produced by this connector`)
	}
	return nil
}

func (testConn) OpenSource(context.Context, connectors.SourceSpec) (connectors.Reader, error) {
	return nil, errors.New("not for running")
}
func (testConn) OpenSink(context.Context, connectors.SinkSpec) (connectors.Sink, error) {
	return nil, errors.New("not for running")
}

func init() { connectors.Register(testConn{}) }

// memCatalog is a catalog of user relations plus the pg_catalog and
// information_schema tables of pgwire/pgcatalog.
type memCatalog struct{ rels map[string]*Relation }

func newCatalog() *memCatalog {
	c := &memCatalog{rels: map[string]*Relation{}}
	for name, s := range pgcatalog.Tables() {
		c.rels[name] = &Relation{Name: name, Kind: plan.RelSystem, Cols: s, NumPhysical: len(s), TimeCol: -1}
	}
	return c
}

func (c *memCatalog) Relation(name string) (*Relation, error) {
	n := strings.ToLower(name)
	if r, ok := c.rels[n]; ok {
		return r, nil
	}
	if r, ok := c.rels["pg_catalog."+n]; ok {
		return r, nil
	}
	return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
}

func fmtErr(err error) string {
	var e *sqlerr.Error
	if errors.As(err, &e) {
		s := fmt.Sprintf("error %s: %s", e.Code, e.Message)
		if e.Line > 0 {
			s += fmt.Sprintf(" (at %d:%d)", e.Line, e.Col)
		}
		if e.Hint != "" {
			s += "\nhint: " + e.Hint
		}
		return s + "\n"
	}
	return "error (no SQLSTATE): " + err.Error() + "\n"
}

// exec runs DDL against the test catalog: sources, tables and views are
// bound/planned and added.
func (c *memCatalog) exec(p *Planner, text string) string {
	stmts, err := sql.Parse(text)
	if err != nil {
		return fmtErr(err)
	}
	var out strings.Builder
	for _, st := range stmts {
		switch s := st.(type) {
		case *sql.CreateSource:
			rel, err := p.BindSource(s)
			if err != nil {
				out.WriteString(fmtErr(err))
				continue
			}
			c.rels[rel.Name] = rel
			fmt.Fprintf(&out, "%s %s %s\n", rel.Kind, rel.Name, rel.Cols)
		case *sql.CreateView:
			_, rel, err := p.PlanView(s)
			if err != nil {
				out.WriteString(fmtErr(err))
				continue
			}
			c.rels[rel.Name] = rel
			fmt.Fprintf(&out, "view %s %s key=%v append_only=%v time_col=%d\n", rel.Name, rel.Cols, rel.Key, rel.AppendOnly, rel.TimeCol)
		default:
			fmt.Fprintf(&out, "unexpected %T\n", st)
		}
	}
	return out.String()
}

func TestPlans(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		cat := newCatalog()
		p := New(cat)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "exec":
				return cat.exec(p, d.Input)
			case "explain":
				st, err := sql.ParseOne(d.Input)
				if err != nil {
					if ins, ok := tidbInsert(d.Input); ok {
						st, err = ins, nil
					} else {
						return fmtErr(err)
					}
				}
				s, err := p.Explain(st)
				if err != nil {
					return fmtErr(err)
				}
				return s
			case "query":
				st, err := sql.ParseOne(d.Input)
				if err != nil {
					return fmtErr(err)
				}
				sel, ok := st.(*sql.Select)
				if !ok {
					return fmt.Sprintf("not a query: %T\n", st)
				}
				n, params, err := p.PlanQuery(sel, nil)
				if err != nil {
					return fmtErr(err)
				}
				s := FormatWithSubqueries(n) + "columns: " + n.Schema().String() + "\n"
				if len(params) > 0 {
					s += fmt.Sprintf("params: %v\n", params)
				}
				return s
			case "file":
				// file path=<relative to repo root> [ddl]: plans every
				// statement of a captured query file.
				// state_ttl=(<interval>) adds that view option to every
				// view and INSERT of the file.
				var path, ttl string
				d.ScanArgs(t, "path", &path)
				if d.HasArg("state_ttl") {
					d.ScanArgs(t, "state_ttl", &ttl)
				}
				text, err := os.ReadFile(filepath.Join("..", path))
				if err != nil {
					t.Fatal(err)
				}
				return cat.runFileTTL(p, string(text), ttl)
			}
			return "unknown command " + d.Cmd
		})
	})
}

// runFile plans each statement of a file: sources and tables are bound
// (with their connector replaced by the test connector), views and sinks
// planned and added, INSERT ... SELECT into a sink table planned as a
// continuous query, SELECTs planned as ad-hoc queries. The output is one
// line per statement: what it is and "ok" with the plan, or the error.
// With ttl set, every view and INSERT gets view option state_ttl = ttl.
func (c *memCatalog) runFileTTL(p *Planner, text, ttl string) string {
	stmts, err := sql.Parse(text)
	if err != nil {
		return fmtErr(err)
	}
	var out strings.Builder
	for _, st := range stmts {
		switch s := st.(type) {
		case *sql.CreateSource:
			var keep []sql.Option
			for _, o := range s.With {
				switch o.Key {
				case "connector":
					o.Value = "plannertest"
				case "topic", "format":
				default:
					continue
				}
				keep = append(keep, o)
			}
			if len(keep) == 1 {
				keep = append(keep, sql.Option{Key: "topic", Value: "t"})
			}
			s.With = keep
			rel, err := p.BindSource(s)
			if err != nil {
				fmt.Fprintf(&out, "source %s: %s", s.Name, fmtErr(err))
				continue
			}
			c.rels[rel.Name] = rel
		case *sql.CreateView:
			if ttl != "" {
				s.With = append(s.With, sql.Option{Key: "state_ttl", Value: ttl})
			}
			m, rel, err := p.PlanView(s)
			if err != nil {
				fmt.Fprintf(&out, "view %s: %s", s.Name, fmtErr(err))
				continue
			}
			c.rels[rel.Name] = rel
			fmt.Fprintf(&out, "view %s: ok\n%s", s.Name, plan.Format(m))
		case *sql.CreateSink:
			s.With = []sql.Option{{Key: "connector", Value: "plannertest"}, {Key: "table", Value: "t"}}
			n, err := p.PlanSink(s)
			if err != nil {
				fmt.Fprintf(&out, "sink %s: %s", s.Name, fmtErr(err))
				continue
			}
			fmt.Fprintf(&out, "sink %s: ok\n%s", s.Name, plan.Format(n))
		case *sql.Insert:
			if s.Query == nil {
				fmt.Fprintf(&out, "insert %s: values\n", s.Table)
				continue
			}
			opts := map[string]string{}
			if ttl != "" {
				opts["state_ttl"] = ttl
			}
			n, err := p.planStream(s.Query, opts, false)
			if err != nil {
				fmt.Fprintf(&out, "insert %s: %s", s.Table, fmtErr(err))
				continue
			}
			fmt.Fprintf(&out, "insert %s: ok\n%s", s.Table, plan.Format(n))
		case *sql.Select:
			n, _, err := p.PlanQuery(s, nil)
			if err != nil {
				fmt.Fprintf(&out, "query: %s", fmtErr(err))
				continue
			}
			fmt.Fprintf(&out, "query: ok\n%s", FormatWithSubqueries(n))
		case *sql.Empty:
		default:
			fmt.Fprintf(&out, "%T: skipped\n", st)
		}
	}
	return out.String()
}

// tidbInsert builds an INSERT ... VALUES statement with the TiDB parser
// directly, for when the front end's INSERT parsing is not available.
func tidbInsert(text string) (*sql.Insert, bool) {
	if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(text)), "INSERT") {
		return nil, false
	}
	p := parser.New()
	p.SetSQLMode(mysql.ModeANSIQuotes | mysql.ModePipesAsConcat)
	text = strings.NewReplacer("$1", "__param(1)", "$2", "__param(2)").Replace(text)
	st, err := p.ParseOneStmt(text, "", "")
	if err != nil {
		return nil, false
	}
	is, ok := st.(*ast.InsertStmt)
	if !ok || len(is.Lists) == 0 {
		return nil, false
	}
	ts := is.Table.TableRefs.Left.(*ast.TableSource).Source.(*ast.TableName)
	ins := &sql.Insert{Span: sql.Span{SQL: text}, Table: ts.Name.O, Rows: is.Lists}
	for _, c := range is.Columns {
		ins.Columns = append(ins.Columns, c.Name.O)
	}
	return ins, true
}
