package sql

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/sluice-db/sluice/sql/sqlerr"
)

// TestParse runs the golden files in testdata/parse. Rewrite them with
// go test ./sql -run TestParse -rewrite.
func TestParse(t *testing.T) {
	datadriven.Walk(t, "testdata/parse", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "parse":
				stmts, err := Parse(d.Input)
				if err != nil {
					return formatErr(err)
				}
				var b strings.Builder
				for _, s := range stmts {
					b.WriteString(dumpStmt(s, ""))
				}
				return b.String()
			case "split":
				var b strings.Builder
				for _, s := range Split(d.Input) {
					fmt.Fprintf(&b, "[%s]\n", s)
				}
				return b.String()
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

type paramCollector func(order int)

func (c paramCollector) Enter(n ast.Node) (ast.Node, bool) {
	if m, ok := n.(*test_driver.ParamMarkerExpr); ok {
		c(m.Order)
	}
	return n, false
}

func (c paramCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func formatErr(err error) string {
	var e *sqlerr.Error
	if !errors.As(err, &e) {
		return fmt.Sprintf("error without SQLSTATE: %v\n", err)
	}
	s := fmt.Sprintf("error %s at %d:%d (position %d): %s\n", e.Code, e.Line, e.Col, e.Position, e.Message)
	if e.Hint != "" {
		s += "hint: " + e.Hint + "\n"
	}
	return s
}

func restore(n ast.Node) string {
	if n == nil {
		return "<nil>"
	}
	var sb strings.Builder
	if err := n.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &sb)); err != nil {
		return "<restore: " + err.Error() + ">"
	}
	return sb.String()
}

func dumpSelect(s *Select, ind string) string {
	if s == nil {
		return ind + "<nil>\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%snormalized: %s\n", ind, s.Normalized)
	fmt.Fprintf(&b, "%stidb: %s\n", ind, restore(s.Stmt))
	var params []string
	s.Stmt.Accept(paramCollector(func(o int) { params = append(params, fmt.Sprint(o)) }))
	if len(params) > 0 {
		fmt.Fprintf(&b, "%sparam markers (Order): %s\n", ind, strings.Join(params, ", "))
	}
	akeys := make([]string, 0, len(s.ColumnAliases))
	for k := range s.ColumnAliases {
		akeys = append(akeys, k)
	}
	sort.Strings(akeys)
	for _, k := range akeys {
		fmt.Fprintf(&b, "%scolumn aliases %s: %v\n", ind, k, s.ColumnAliases[k])
	}
	fkeys := make([]string, 0, len(s.TableFuncs))
	for k := range s.TableFuncs {
		fkeys = append(fkeys, k)
	}
	sort.Strings(fkeys)
	for _, k := range fkeys {
		f := s.TableFuncs[k]
		var args []string
		for _, a := range f.Args {
			args = append(args, restore(a))
		}
		fmt.Fprintf(&b, "%stablefunc %s: %s(%s) alias=%q columns=%v ordinality=%v at %d:%d\n",
			ind, k, f.Name, strings.Join(args, ", "), f.Alias, f.ColumnAliases, f.WithOrdinality, f.Pos.Line, f.Pos.Col)
	}
	keys := make([]string, 0, len(s.Windows))
	for k := range s.Windows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w := s.Windows[k]
		kinds := [...]string{"TUMBLE", "HOP", "CUMULATE", "SESSION"}
		var args []string
		for _, a := range w.Args {
			args = append(args, restore(a))
		}
		fmt.Fprintf(&b, "%swindow %s: %s source=%q alias=%q time=%q args=[%s] partition=%v flink=%v at %d:%d\n",
			ind, k, kinds[w.Kind], w.Source, w.Alias, w.TimeCol, strings.Join(args, ", "), w.PartitionBy, w.Flink, w.Pos.Line, w.Pos.Col)
		if w.Subquery != nil {
			b.WriteString(dumpSelect(w.Subquery, ind+"  "))
		}
	}
	return b.String()
}

func dumpOpts(o []Option) string {
	var s []string
	for _, x := range o {
		s = append(s, fmt.Sprintf("%s=%q@%d:%d", x.Key, x.Value, x.Pos.Line, x.Pos.Col))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func dumpStmt(st Statement, ind string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, ind+format+"\n", args...) }
	switch s := st.(type) {
	case *Select:
		w("Select at %d:%d", s.StartLine, s.StartCol)
		b.WriteString(dumpSelect(s, ind+"  "))
	case *CreateSource:
		w("CreateSource name=%q table=%v ifnotexists=%v with=%s", s.Name, s.IsTable, s.IfNotExists, dumpOpts(s.With))
		for _, c := range s.Columns {
			g := ""
			if c.Generated != nil {
				g = " AS " + restore(c.Generated)
			}
			w("  column %s %s notnull=%v pk=%v%s at %d:%d", c.Name, c.Type, c.NotNull, c.PrimaryKey, g, c.Pos.Line, c.Pos.Col)
		}
		if s.Watermark != nil {
			w("  watermark for %s as %s at %d:%d", s.Watermark.Column, restore(s.Watermark.Expr), s.Watermark.Pos.Line, s.Watermark.Pos.Col)
		}
	case *CreateView:
		w("CreateView name=%q ifnotexists=%v emit_on_window_close=%v with=%s", s.Name, s.IfNotExists, s.EmitOnWindowClose, dumpOpts(s.With))
		b.WriteString(dumpSelect(s.Query, ind+"  "))
	case *CreateSink:
		w("CreateSink name=%q from=%q ifnotexists=%v with=%s", s.Name, s.From, s.IfNotExists, dumpOpts(s.With))
		if s.Query != nil {
			b.WriteString(dumpSelect(s.Query, ind+"  "))
		}
	case *Drop:
		w("Drop kind=%d names=%v ifexists=%v cascade=%v", s.Kind, s.Names, s.IfExists, s.Cascade)
	case *ShowObjects:
		w("ShowObjects kind=%d", s.Kind)
	case *Describe:
		w("Describe %q", s.Name)
	case *Explain:
		w("Explain analyze=%v verbose=%v", s.Analyze, s.Verbose)
		b.WriteString(dumpStmt(s.Stmt, ind+"  "))
	case *Insert:
		w("Insert table=%q columns=%v", s.Table, s.Columns)
		for _, r := range s.Rows {
			var vs []string
			for _, e := range r {
				vs = append(vs, restore(e))
			}
			w("  row (%s)", strings.Join(vs, ", "))
		}
		if s.Query != nil {
			b.WriteString(dumpSelect(s.Query, ind+"  "))
		}
	case *Set:
		w("Set name=%q value=%q local=%v default=%v", s.Name, s.Value, s.Local, s.Default)
	case *ShowVar:
		w("ShowVar %q", s.Name)
	case *Reset:
		w("Reset %q", s.Name)
	case *Txn:
		w("Txn %d", s.Kind)
	case *Subscribe:
		w("Subscribe view=%q with=%s", s.View, dumpOpts(s.With))
		if s.Query != nil {
			b.WriteString(dumpSelect(s.Query, ind+"  "))
		}
	case *DeclareCursor:
		w("DeclareCursor %q hold=%v", s.Name, s.Hold)
		b.WriteString(dumpStmt(s.Stmt, ind+"  "))
	case *Fetch:
		w("Fetch cursor=%q count=%d with=%s", s.Cursor, s.Count, dumpOpts(s.With))
	case *CloseCursor:
		w("Close %q all=%v", s.Name, s.All)
	case *Empty:
		w("Empty")
	default:
		w("unknown %T", st)
	}
	return b.String()
}
