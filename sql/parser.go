package sql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// Parse parses text, which may hold several statements separated by
// semicolons. Text with no statement at all gives one *Empty. Errors are
// *sqlerr.Error with SQLSTATE 42601 (syntax) or 0A000 (not supported),
// located (Position, Line, Col) in text.
func Parse(text string) (stmts []Statement, err error) {
	// The boundary: no panic escapes to the caller. The TiDB parser's own
	// panics are already turned into errors in tidbParse; FuzzParse calls
	// parse directly so that panics of this package's code are found.
	defer func() {
		if rec := recover(); rec != nil {
			stmts = nil
			err = &sqlerr.Error{Code: sqlerr.SyntaxError, Message: fmt.Sprintf("syntax error: cannot parse statement (%v)", rec), Position: 1, Line: 1, Col: 1}
		}
	}()
	return parse(text)
}

func parse(text string) (stmts []Statement, err error) {
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	start := 0
	for k := 0; k <= len(toks); k++ {
		if k < len(toks) && !toks[k].isPunct(";") {
			continue
		}
		if k > start {
			st, err := parseStatement(text, toks[start:k])
			if err != nil {
				return nil, err
			}
			stmts = append(stmts, st)
		}
		start = k + 1
	}
	if len(stmts) == 0 {
		line, col, _ := lineCol(text, len(text))
		stmts = append(stmts, &Empty{Span{StartLine: line, StartCol: col}})
	}
	return stmts, nil
}

// ParseOne parses text that must hold exactly one statement (a trailing
// semicolon is allowed).
func ParseOne(text string) (Statement, error) {
	stmts, err := Parse(text)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		e := sqlerr.New(sqlerr.SyntaxError, "expected one statement, got %d", len(stmts))
		if sp, ok := stmts[1].(interface{ start() (int, int) }); ok {
			e.Line, e.Col = sp.start()
		}
		return nil, e.WithHint("send the statements one at a time")
	}
	return stmts[0], nil
}

// stmtParser is a recursive-descent parser over the tokens of one
// statement.
type stmtParser struct {
	src  string
	toks []token
	i    int
	end  int // byte offset just after the statement's last token
	rw   *rewriter
}

func parseStatement(src string, toks []token) (Statement, error) {
	p := &stmtParser{src: src, toks: toks, end: toks[len(toks)-1].End, rw: &rewriter{src: src}}
	st, err := p.statement()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.syntaxErr()
	}
	return st, nil
}

func (p *stmtParser) span(from int) Span {
	t := p.toks[from]
	last := p.toks[len(p.toks)-1]
	if p.i > from && p.i <= len(p.toks) {
		last = p.toks[p.i-1]
	}
	line, col, _ := lineCol(p.src, t.Pos)
	return Span{SQL: p.src[t.Pos:last.End], StartLine: line, StartCol: col}
}

func spanOf(src string, toks []token) Span {
	line, col, _ := lineCol(src, toks[0].Pos)
	return Span{SQL: src[toks[0].Pos:toks[len(toks)-1].End], StartLine: line, StartCol: col}
}

func (p *stmtParser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{Kind: tEOF, Pos: p.end, End: p.end}
}

func (p *stmtParser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return token{Kind: tEOF, Pos: p.end, End: p.end}
}

func (p *stmtParser) accept(kws ...string) bool {
	for k, kw := range kws {
		t := p.peekAt(k)
		if !(t.is(kw) || (t.Kind == tPunct || t.Kind == tOp) && t.Val == kw) {
			return false
		}
	}
	p.i += len(kws)
	return true
}

func (p *stmtParser) expect(kws ...string) error {
	for _, kw := range kws {
		if !p.accept(kw) {
			return p.syntaxErr().WithHint("expected %s", strings.ToUpper(kw))
		}
	}
	return nil
}

// errAt returns an error located at the start of t.
func (p *stmtParser) errAt(code string, t token, format string, args ...any) *sqlerr.Error {
	e := sqlerr.New(code, format, args...)
	setPos(e, p.src, t.Pos)
	return e
}

// syntaxErr is a 42601 error at the current token.
func (p *stmtParser) syntaxErr() *sqlerr.Error {
	t := p.peek()
	if t.Kind == tEOF {
		return p.errAt(sqlerr.SyntaxError, t, "syntax error at end of input")
	}
	return p.errAt(sqlerr.SyntaxError, t, "syntax error at or near %q", p.src[t.Pos:t.End])
}

// name reads an identifier: unquoted names fold to lower case.
func (p *stmtParser) name() (string, error) {
	t := p.peek()
	if t.Kind == tQIdent || (t.Kind == tIdent && !nonCallable[t.Val]) {
		p.i++
		return t.Val, nil
	}
	return "", p.syntaxErr().WithHint("expected a name")
}

// qualName reads name[.name...].
func (p *stmtParser) qualName() (string, error) {
	n, err := p.name()
	if err != nil {
		return "", err
	}
	for p.peek().isPunct(".") {
		p.i++
		m, err := p.name()
		if err != nil {
			return "", err
		}
		n += "." + m
	}
	return n, nil
}

func (p *stmtParser) ifNotExists() bool { return p.accept("if", "not", "exists") }

// statement dispatches on the first keyword.
func (p *stmtParser) statement() (Statement, error) {
	t := p.peek()
	switch {
	case t.is("select") || t.is("with") || t.is("values") || t.is("table") || t.isPunct("("):
		return p.query(p.toks[p.i:])
	case t.is("create"):
		return p.create()
	case t.is("drop"):
		return p.drop()
	case t.is("show"):
		return p.show()
	case t.is("describe") || t.is("desc"):
		start := p.i
		p.i++
		n, err := p.qualName()
		if err != nil {
			return nil, err
		}
		return &Describe{Span: p.span(start), Name: n}, nil
	case t.is("explain"):
		return p.explain()
	case t.is("subscribe"):
		return p.subscribe()
	case t.is("declare"):
		return p.declare()
	case t.is("fetch"):
		return p.fetch()
	case t.is("close"):
		start := p.i
		p.i++
		c := &CloseCursor{}
		if p.accept("all") {
			c.All = true
		} else {
			n, err := p.name()
			if err != nil {
				return nil, err
			}
			c.Name = n
		}
		c.Span = p.span(start)
		return c, nil
	case t.is("set"):
		return p.set()
	case t.is("reset"):
		start := p.i
		p.i++
		var n string
		if p.accept("all") {
			n = "all"
		} else {
			var err error
			if n, err = p.varName(); err != nil {
				return nil, err
			}
		}
		return &Reset{Span: p.span(start), Name: n}, nil
	case t.is("begin") || t.is("start") || t.is("commit") || t.is("end") || t.is("rollback") || t.is("abort"):
		return p.txn()
	case t.is("insert"):
		return p.insert()
	case t.is("copy") && p.peekAt(1).isPunct("("):
		return p.copyTo()
	}
	switch t.Val {
	case "update", "delete", "alter", "grant", "revoke", "copy", "prepare", "execute", "deallocate",
		"discard", "listen", "unlisten", "notify", "vacuum", "analyze", "truncate", "lock", "comment",
		"merge", "call", "do", "move", "checkpoint", "reindex", "cluster", "refresh", "savepoint", "release":
		if t.Kind == tIdent {
			return nil, p.errAt(sqlerr.FeatureNotSupported, t, "%s is not supported", strings.ToUpper(t.Val)).
				WithHint("Sluice supports SELECT, CREATE/DROP SOURCE|TABLE|MATERIALIZED VIEW|SINK, INSERT, SHOW, DESCRIBE, EXPLAIN, SUBSCRIBE, cursors, SET and transactions")
		}
	}
	return nil, p.syntaxErr()
}

// query parses toks (to the end of the statement) as a query.
func (p *stmtParser) query(toks []token) (*Select, error) {
	p.i = len(p.toks)
	return p.selectOf(toks)
}

// selectOf parses toks as a query with TiDB after normalisation.
func (p *stmtParser) selectOf(toks []token) (*Select, error) {
	if len(toks) == 0 {
		return nil, p.syntaxErr().WithHint("expected a query")
	}
	mark, fmark, cmark := len(p.rw.windows), len(p.rw.funcs), len(p.rw.colAliases)
	n, err := p.rw.normalise("", toks, toks[len(toks)-1].End)
	if err != nil {
		return nil, err
	}
	stmt, err := tidbParse(n.text)
	if err != nil {
		return nil, tidbError(p.src, n, err)
	}
	numberParams(stmt, p.src, n.pm)
	rs, ok := stmt.(ast.ResultSetNode)
	if !ok {
		return nil, p.errAt(sqlerr.SyntaxError, toks[0], "syntax error at or near %q", p.src[toks[0].Pos:toks[0].End]).
			WithHint("expected a query")
	}
	sel := &Select{Span: spanOf(p.src, toks), Stmt: rs, Normalized: n.text, pm: n.pm, src: p.src}
	for _, ca := range p.rw.colAliases[cmark:] {
		if sel.ColumnAliases == nil {
			sel.ColumnAliases = map[string][]string{}
		}
		sel.ColumnAliases[ca.alias] = ca.cols
	}
	funcs := p.rw.funcs[fmark:]
	for _, f := range funcs {
		if sel.TableFuncs == nil {
			sel.TableFuncs = map[string]*TableFunc{}
		}
		sel.TableFuncs[f.placeholder] = f.fn
		for _, a := range f.args {
			e, err := p.exprOf(a)
			if err != nil {
				return nil, err
			}
			f.fn.Args = append(f.fn.Args, e)
		}
	}
	for _, w := range p.rw.windows[mark:] {
		if sel.Windows == nil {
			sel.Windows = map[string]*WindowTVF{}
		}
		sel.Windows[w.placeholder] = w.tvf
		for _, a := range w.args {
			e, err := p.exprOf(a)
			if err != nil {
				return nil, err
			}
			w.tvf.Args = append(w.tvf.Args, e)
		}
		if w.sub != nil {
			sub, err := p.selectOf(w.sub)
			if err != nil {
				return nil, err
			}
			w.tvf.Subquery = sub
			for k, v := range sub.Windows {
				sel.Windows[k] = v
			}
			for k, v := range sub.TableFuncs {
				if sel.TableFuncs == nil {
					sel.TableFuncs = map[string]*TableFunc{}
				}
				sel.TableFuncs[k] = v
			}
		}
	}
	return sel, nil
}

// exprOf parses toks as one scalar expression.
func (p *stmtParser) exprOf(toks []token) (ast.ExprNode, error) {
	if len(toks) == 0 {
		return nil, p.syntaxErr().WithHint("expected an expression")
	}
	mark, fmark := len(p.rw.windows), len(p.rw.funcs)
	n, err := p.rw.normalise("select ", toks, toks[len(toks)-1].End)
	if err != nil {
		return nil, err
	}
	if len(p.rw.windows) > mark || len(p.rw.funcs) > fmark {
		return nil, p.errAt(sqlerr.SyntaxError, toks[0], "a window table function cannot appear in an expression")
	}
	stmt, err := tidbParse(n.text)
	if err != nil {
		return nil, tidbError(p.src, n, err)
	}
	sel, ok := stmt.(*ast.SelectStmt)
	if !ok || sel.From != nil || sel.Where != nil || sel.Fields == nil || len(sel.Fields.Fields) != 1 ||
		sel.Fields.Fields[0].Expr == nil || sel.GroupBy != nil || sel.OrderBy != nil || sel.Limit != nil {
		return nil, p.errAt(sqlerr.SyntaxError, toks[0], "syntax error: expected one expression")
	}
	f := sel.Fields.Fields[0]
	if f.AsName.O != "" {
		return nil, p.errAt(sqlerr.SyntaxError, toks[len(toks)-1], "syntax error at or near %q", p.src[toks[len(toks)-1].Pos:toks[len(toks)-1].End])
	}
	return f.Expr, nil
}

// rest returns the remaining tokens and moves to the end.
func (p *stmtParser) rest() []token {
	r := p.toks[p.i:]
	p.i = len(p.toks)
	return r
}

func (p *stmtParser) create() (Statement, error) {
	start := p.i
	p.i++ // CREATE
	if p.accept("or", "replace") {
		return nil, p.errAt(sqlerr.FeatureNotSupported, p.toks[start+1], "CREATE OR REPLACE is not supported").
			WithHint("DROP the object and CREATE it again")
	}
	switch {
	case p.accept("source"):
		return p.createSource(start, false)
	case p.accept("table"):
		return p.createSource(start, true)
	case p.accept("materialized", "view"):
		return p.createView(start)
	case p.accept("sink"):
		return p.createSink(start)
	case p.peek().is("view") || p.peek().is("temporary") || p.peek().is("temp"):
		return nil, p.errAt(sqlerr.FeatureNotSupported, p.peek(), "CREATE VIEW is not supported").
			WithHint("use CREATE MATERIALIZED VIEW")
	}
	t := p.peek()
	if t.Kind == tIdent {
		return nil, p.errAt(sqlerr.FeatureNotSupported, t, "CREATE %s is not supported", strings.ToUpper(t.Val)).
			WithHint("Sluice creates SOURCE, TABLE, MATERIALIZED VIEW and SINK")
	}
	return nil, p.syntaxErr()
}

func (p *stmtParser) createSource(start int, table bool) (Statement, error) {
	cs := &CreateSource{IsTable: table}
	cs.IfNotExists = p.ifNotExists()
	var err error
	if cs.Name, err = p.qualName(); err != nil {
		return nil, err
	}
	if p.peek().isPunct("(") {
		j := matchClose(p.toks, p.i)
		if j < 0 {
			return nil, p.syntaxErr().WithHint("unbalanced parentheses")
		}
		for _, el := range splitTop(p.toks[p.i+1 : j]) {
			if err := p.tableElement(cs, el); err != nil {
				return nil, err
			}
		}
		p.i = j + 1
	}
	// RisingWave's CREATE TABLE ... APPEND ONLY: Sluice tables are.
	if table {
		p.accept("append", "only")
	}
	if err := p.withAndFormat(&cs.With); err != nil {
		return nil, err
	}
	cs.Span = p.span(start)
	return cs, nil
}

// withAndFormat reads optional WITH (...) and FORMAT x ENCODE y [(...)]
// clauses; FORMAT and ENCODE become the options format and encode.
func (p *stmtParser) withAndFormat(opts *[]Option) error {
	for p.i < len(p.toks) {
		switch t := p.peek(); {
		case t.is("with") && p.peekAt(1).isPunct("("):
			p.i++
			o, err := p.options()
			if err != nil {
				return err
			}
			*opts = append(*opts, o...)
		case t.is("format"):
			p.i++
			v, err := p.name()
			if err != nil {
				return err
			}
			*opts = append(*opts, Option{Key: "format", Value: v, Pos: p.pos(t)})
			if e := p.peek(); e.is("encode") {
				p.i++
				v, err := p.name()
				if err != nil {
					return err
				}
				*opts = append(*opts, Option{Key: "encode", Value: v, Pos: p.pos(e)})
				if p.peek().isPunct("(") {
					o, err := p.options()
					if err != nil {
						return err
					}
					*opts = append(*opts, o...)
				}
			}
		default:
			return nil
		}
	}
	return nil
}

func (p *stmtParser) pos(t token) Pos {
	l, c, _ := lineCol(p.src, t.Pos)
	return Pos{Line: l, Col: c}
}

// options reads ( key = value, ... ).
func (p *stmtParser) options() ([]Option, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var out []Option
	for {
		if p.accept(")") {
			return out, nil
		}
		kt := p.peek()
		var key string
		switch kt.Kind {
		case tIdent, tQIdent, tString:
			key = strings.ToLower(kt.Val)
			p.i++
		default:
			return nil, p.syntaxErr().WithHint("options are written key = 'value'")
		}
		for p.peek().isPunct(".") {
			p.i++
			n := p.peek()
			if n.Kind != tIdent && n.Kind != tQIdent {
				return nil, p.syntaxErr()
			}
			key += "." + strings.ToLower(n.Val)
			p.i++
		}
		v := "true" // a bare key, as in WITH (progress), is switched on
		if !p.peek().isPunct(",") && !p.peek().isPunct(")") {
			if !p.accept("=") {
				return nil, p.syntaxErr().WithHint("options are written key = 'value'")
			}
			var err error
			if v, err = p.literalValue(); err != nil {
				return nil, err
			}
		}
		out = append(out, Option{Key: key, Value: v, Pos: p.pos(kt)})
		if !p.accept(",") {
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return out, nil
		}
	}
}

// literalValue reads a string, a (signed) number, or a word.
func (p *stmtParser) literalValue() (string, error) {
	t := p.peek()
	switch {
	case t.Kind == tString || t.Kind == tIdent || t.Kind == tQIdent:
		p.i++
		v := t.Val
		if t.Kind == tIdent && t.End-t.Pos == len(v) {
			v = p.src[t.Pos:t.End]
			if strings.EqualFold(v, "true") || strings.EqualFold(v, "false") {
				v = strings.ToLower(v)
			}
		}
		return v, nil
	case t.Kind == tNumber:
		p.i++
		return t.Val, nil
	case (t.isPunct("-") || t.isPunct("+")) && p.peekAt(1).Kind == tNumber:
		p.i += 2
		if t.Val == "-" {
			return "-" + p.toks[p.i-1].Val, nil
		}
		return p.toks[p.i-1].Val, nil
	}
	return "", p.syntaxErr().WithHint("expected a value")
}

// tableElement parses one element of a column list.
func (p *stmtParser) tableElement(cs *CreateSource, el []token) error {
	if len(el) == 0 {
		return p.errAt(sqlerr.SyntaxError, token{Pos: p.peek().Pos}, "syntax error: empty column definition")
	}
	sub := &stmtParser{src: p.src, toks: el, end: el[len(el)-1].End, rw: p.rw}
	t := el[0]
	switch {
	case t.is("watermark"):
		sub.i = 1
		if err := sub.expect("for"); err != nil {
			return err
		}
		col, err := sub.name()
		if err != nil {
			return err
		}
		if err := sub.expect("as"); err != nil {
			return err
		}
		e, err := sub.exprOf(sub.rest())
		if err != nil {
			return err
		}
		if cs.Watermark != nil {
			return p.errAt(sqlerr.SyntaxError, t, "a source has at most one WATERMARK")
		}
		cs.Watermark = &WatermarkDef{Column: col, Expr: e, Pos: p.pos(t)}
		return nil
	case t.is("primary") || t.is("constraint"):
		sub.i = 0
		if sub.accept("constraint") {
			if _, err := sub.name(); err != nil {
				return err
			}
		}
		if err := sub.expect("primary", "key"); err != nil {
			return err
		}
		if err := sub.expect("("); err != nil {
			return err
		}
		for {
			c, err := sub.name()
			if err != nil {
				return err
			}
			found := false
			for k := range cs.Columns {
				if cs.Columns[k].Name == c {
					cs.Columns[k].PrimaryKey = true
					found = true
				}
			}
			if !found {
				return p.errAt(sqlerr.UndefinedColumn, sub.toks[sub.i-1], "column %q named in key does not exist", c)
			}
			if !sub.accept(",") {
				break
			}
		}
		if err := sub.expect(")"); err != nil {
			return err
		}
		sub.accept("not", "enforced")
		if sub.i < len(sub.toks) {
			return sub.syntaxErr()
		}
		return nil
	}
	col := ColumnDef{Pos: p.pos(t)}
	var err error
	if col.Name, err = sub.name(); err != nil {
		return err
	}
	if !sub.peek().is("as") {
		if col.Type, err = sub.columnType(); err != nil {
			return err
		}
	}
	for sub.i < len(sub.toks) {
		switch {
		case sub.accept("as"):
			if col.Generated, err = sub.exprOf(sub.rest()); err != nil {
				return err
			}
		case sub.accept("not", "null"):
			col.NotNull = true
		case sub.accept("null"):
		case sub.accept("primary", "key"):
			col.PrimaryKey = true
			sub.accept("not", "enforced")
		default:
			return sub.syntaxErr()
		}
	}
	cs.Columns = append(cs.Columns, col)
	return nil
}

// typeAliases maps type names of other dialects to Sluice's.
var typeAliases = map[string]string{"timestamp_ltz": "timestamptz", "tinyint": "smallint"}

// columnType reads a column type.
func (p *stmtParser) columnType() (types.Type, error) {
	t := p.peek()
	text, n, err := p.rw.typeName(p.toks, p.i)
	if err != nil {
		return types.Type{}, err
	}
	if n < len(p.toks) && (p.toks[n].isPunct("<") || p.toks[n].isPunct("<>")) {
		return types.Type{}, p.errAt(sqlerr.FeatureNotSupported, t, "type %s<...> is not supported", strings.ToUpper(text)).
			WithHint("declare the column JSONB and read nested fields with -> and ->>")
	}
	p.i = n
	if strings.HasSuffix(text, "[]") {
		return types.Type{}, p.errAt(sqlerr.FeatureNotSupported, t, "array types are not supported")
	}
	base, mods := text, ""
	if k := strings.IndexByte(text, '('); k >= 0 {
		base, mods = text[:k], strings.Trim(text[k:], "()")
	}
	if a, ok := typeAliases[base]; ok {
		base = a
	}
	kind, ok := types.ParseTypeName(base)
	if !ok {
		return types.Type{}, p.errAt(sqlerr.UndefinedObject, t, "type %q does not exist", base).
			WithHint("supported types: BOOLEAN, SMALLINT, INT, BIGINT, REAL, DOUBLE PRECISION, NUMERIC(p,s), TEXT, VARCHAR, BYTEA, DATE, TIMESTAMP, TIMESTAMPTZ, INTERVAL, JSONB")
	}
	typ := types.Type{Kind: kind}
	var nums []int
	if mods != "" {
		for _, m := range strings.Split(mods, ",") {
			v, err := strconv.Atoi(m)
			if err != nil {
				return types.Type{}, p.errAt(sqlerr.SyntaxError, t, "invalid type modifier %q", m)
			}
			nums = append(nums, v)
		}
	}
	switch kind {
	case types.Numeric:
		if len(nums) > 0 {
			typ.Precision = nums[0]
		}
		if len(nums) > 1 {
			typ.Scale = nums[1]
		}
		if typ.Precision < 0 || typ.Precision > 1000 || typ.Scale < 0 || typ.Scale > typ.Precision {
			return types.Type{}, p.errAt(sqlerr.InvalidParameterValue, t, "NUMERIC precision %d, scale %d is out of range", typ.Precision, typ.Scale)
		}
	case types.Text:
		typ.Varchar = strings.HasPrefix(base, "varchar") || strings.HasPrefix(base, "character varying")
		if len(nums) > 0 && base != "char" && base != "character" {
			typ.Width = nums[0]
		}
	}
	return typ, nil
}

// queryTail splits toks into the query and trailing EMIT ON WINDOW CLOSE
// and WITH (...) clauses.
func (p *stmtParser) queryTail(toks []token, opts *[]Option) ([]token, bool, error) {
	emit := false
	for changed := true; changed && len(toks) > 0; {
		changed = false
		n := len(toks)
		if n >= 4 && toks[n-4].is("emit") && toks[n-3].is("on") && toks[n-2].is("window") && toks[n-1].is("close") {
			emit, changed = true, true
			toks = toks[:n-4]
			continue
		}
		if toks[n-1].isPunct(")") {
			// Find the ( that closes at the end.
			depth := 0
			for k := n - 1; k >= 0; k-- {
				if toks[k].isPunct(")") {
					depth++
				} else if toks[k].isPunct("(") {
					depth--
					if depth == 0 {
						if k >= 2 && toks[k-1].is("with") {
							sub := &stmtParser{src: p.src, toks: toks[k:], end: toks[n-1].End, rw: p.rw}
							o, err := sub.options()
							if err != nil {
								return nil, false, err
							}
							*opts = append(o, *opts...)
							toks = toks[:k-1]
							changed = true
						}
						break
					}
				}
			}
		}
	}
	return toks, emit, nil
}

func (p *stmtParser) createView(start int) (Statement, error) {
	cv := &CreateView{IfNotExists: p.ifNotExists()}
	var err error
	if cv.Name, err = p.qualName(); err != nil {
		return nil, err
	}
	if p.peek().is("with") && p.peekAt(1).isPunct("(") {
		p.i++
		if cv.With, err = p.options(); err != nil {
			return nil, err
		}
	}
	if err := p.expect("as"); err != nil {
		return nil, err
	}
	body, emit, err := p.queryTail(p.rest(), &cv.With)
	if err != nil {
		return nil, err
	}
	cv.EmitOnWindowClose = emit
	if cv.Query, err = p.selectOf(body); err != nil {
		return nil, err
	}
	cv.Span = p.span(start)
	return cv, nil
}

func (p *stmtParser) createSink(start int) (Statement, error) {
	cs := &CreateSink{IfNotExists: p.ifNotExists()}
	var err error
	if cs.Name, err = p.qualName(); err != nil {
		return nil, err
	}
	switch {
	case p.accept("from"):
		if cs.From, err = p.qualName(); err != nil {
			return nil, err
		}
		if err := p.withAndFormat(&cs.With); err != nil {
			return nil, err
		}
	case p.accept("as"):
		toks := p.rest()
		// FORMAT ... ENCODE ... after the query.
		for k := range toks {
			if toks[k].is("format") && k+2 < len(toks) && toks[k+2].is("encode") {
				sub := &stmtParser{src: p.src, toks: toks[k:], end: toks[len(toks)-1].End, rw: p.rw}
				if err := sub.withAndFormat(&cs.With); err != nil {
					return nil, err
				}
				if sub.i < len(sub.toks) {
					return nil, sub.syntaxErr()
				}
				toks = toks[:k]
				break
			}
		}
		body, emit, err := p.queryTail(toks, &cs.With)
		if err != nil {
			return nil, err
		}
		if emit {
			return nil, p.errAt(sqlerr.FeatureNotSupported, toks[len(toks)-1], "EMIT ON WINDOW CLOSE belongs to a materialized view").
				WithHint("create a materialized view with EMIT ON WINDOW CLOSE and CREATE SINK ... FROM it")
		}
		if cs.Query, err = p.selectOf(body); err != nil {
			return nil, err
		}
	default:
		return nil, p.syntaxErr().WithHint("write CREATE SINK name FROM view WITH (...) or CREATE SINK name AS SELECT ... WITH (...)")
	}
	cs.Span = p.span(start)
	return cs, nil
}

// objectKind reads SOURCE(S)|TABLE(S)|MATERIALIZED VIEW(S)|VIEW(S)|SINK(S).
func (p *stmtParser) objectKind(plural bool) (ObjectKind, bool) {
	s := ""
	if plural {
		s = "s"
	}
	switch {
	case p.accept("source" + s):
		return ObjSource, true
	case p.accept("table" + s):
		return ObjTable, true
	case p.accept("materialized", "view"+s), p.accept("view" + s):
		return ObjView, true
	case p.accept("sink" + s):
		return ObjSink, true
	}
	return 0, false
}

func (p *stmtParser) drop() (Statement, error) {
	start := p.i
	p.i++
	d := &Drop{}
	k, ok := p.objectKind(false)
	if !ok {
		if t := p.peek(); t.Kind == tIdent {
			return nil, p.errAt(sqlerr.FeatureNotSupported, t, "DROP %s is not supported", strings.ToUpper(t.Val)).
				WithHint("Sluice drops SOURCE, TABLE, MATERIALIZED VIEW and SINK")
		}
		return nil, p.syntaxErr()
	}
	d.Kind = k
	d.IfExists = p.accept("if", "exists")
	for {
		n, err := p.qualName()
		if err != nil {
			return nil, err
		}
		d.Names = append(d.Names, n)
		if !p.accept(",") {
			break
		}
	}
	if p.accept("cascade") {
		d.Cascade = true
	} else {
		p.accept("restrict")
	}
	d.Span = p.span(start)
	return d, nil
}

func (p *stmtParser) show() (Statement, error) {
	start := p.i
	p.i++
	if k, ok := p.objectKind(true); ok {
		return &ShowObjects{Span: p.span(start), Kind: k}, nil
	}
	var n string
	switch {
	case p.accept("all"):
		n = "all"
	case p.accept("transaction", "isolation", "level"):
		n = "transaction_isolation"
	case p.accept("time", "zone"):
		n = "timezone"
	default:
		var err error
		if n, err = p.varName(); err != nil {
			return nil, err
		}
	}
	return &ShowVar{Span: p.span(start), Name: n}, nil
}

// varName reads a setting name (possibly dotted), lower-cased.
func (p *stmtParser) varName() (string, error) {
	t := p.peek()
	if t.Kind != tIdent && t.Kind != tQIdent {
		return "", p.syntaxErr().WithHint("expected a setting name")
	}
	p.i++
	n := strings.ToLower(t.Val)
	for p.peek().isPunct(".") && (p.peekAt(1).Kind == tIdent || p.peekAt(1).Kind == tQIdent) {
		n += "." + strings.ToLower(p.peekAt(1).Val)
		p.i += 2
	}
	return n, nil
}

func (p *stmtParser) explain() (Statement, error) {
	start := p.i
	p.i++
	ex := &Explain{}
	for {
		switch {
		case p.accept("analyze"), p.accept("analyse"):
			ex.Analyze = true
			continue
		case p.accept("verbose"):
			ex.Verbose = true
			continue
		case p.peek().isPunct("(") && p.peekAt(1).Kind == tIdent:
			j := matchClose(p.toks, p.i)
			if j < 0 {
				return nil, p.syntaxErr()
			}
			for _, o := range splitTop(p.toks[p.i+1 : j]) {
				if len(o) == 0 || o[0].Kind != tIdent {
					return nil, p.errAt(sqlerr.SyntaxError, p.toks[p.i], "syntax error in EXPLAIN options")
				}
				on := len(o) == 1 || o[1].is("true") || o[1].is("on") || o[1].Val == "1"
				switch o[0].Val {
				case "analyze", "analyse":
					ex.Analyze = on
				case "verbose":
					ex.Verbose = on
				}
			}
			p.i = j + 1
			continue
		}
		break
	}
	if p.i >= len(p.toks) {
		return nil, p.syntaxErr().WithHint("write EXPLAIN followed by a statement")
	}
	inner := &stmtParser{src: p.src, toks: p.toks[p.i:], end: p.end, rw: p.rw}
	st, err := inner.statement()
	if err != nil {
		return nil, err
	}
	if inner.i < len(inner.toks) {
		return nil, inner.syntaxErr()
	}
	p.i = len(p.toks)
	ex.Stmt = st
	ex.Span = p.span(start)
	return ex, nil
}

func (p *stmtParser) subscribe() (Statement, error) {
	start := p.i
	p.i++
	p.accept("to")
	s := &Subscribe{}
	if p.peek().isPunct("(") {
		j := matchClose(p.toks, p.i)
		if j < 0 {
			return nil, p.syntaxErr()
		}
		q, err := p.selectOf(p.toks[p.i+1 : j])
		if err != nil {
			return nil, err
		}
		s.Query = q
		p.i = j + 1
	} else {
		n, err := p.qualName()
		if err != nil {
			return nil, err
		}
		s.View = n
	}
	if p.peek().is("with") {
		p.i++
		o, err := p.options()
		if err != nil {
			return nil, err
		}
		s.With = o
	}
	s.Span = p.span(start)
	return s, nil
}

// queryOrSubscribe parses toks (all of them) as a SUBSCRIBE or a query:
// the body of DECLARE ... FOR and of COPY (...).
func (p *stmtParser) queryOrSubscribe(toks []token) (Statement, error) {
	inner := &stmtParser{src: p.src, toks: toks, end: p.end, rw: p.rw}
	var (
		st  Statement
		err error
	)
	if inner.peek().is("subscribe") {
		st, err = inner.subscribe()
	} else {
		st, err = inner.selectOf(inner.rest())
	}
	if err != nil {
		return nil, err
	}
	if inner.i < len(inner.toks) {
		return nil, inner.syntaxErr()
	}
	return st, nil
}

// copyTo parses COPY (query | SUBSCRIBE ...) TO STDOUT [[WITH] (options)].
func (p *stmtParser) copyTo() (Statement, error) {
	start := p.i
	p.i++
	j := matchClose(p.toks, p.i)
	if j < 0 {
		return nil, p.syntaxErr()
	}
	if j == p.i+1 {
		return nil, p.syntaxErr()
	}
	st, err := p.queryOrSubscribe(p.toks[p.i+1 : j])
	if err != nil {
		return nil, err
	}
	p.i = j + 1
	if err := p.expect("to"); err != nil {
		return nil, err
	}
	if t := p.peek(); !t.is("stdout") {
		return nil, p.errAt(sqlerr.FeatureNotSupported, t, "COPY ... TO %s is not supported", t.Val).
			WithHint("use COPY (...) TO STDOUT")
	}
	p.i++
	c := &Copy{Stmt: st}
	p.accept("with")
	if p.peek().isPunct("(") {
		o, err := p.options()
		if err != nil {
			return nil, err
		}
		c.With = o
	}
	c.Span = p.span(start)
	return c, nil
}

func (p *stmtParser) declare() (Statement, error) {
	start := p.i
	p.i++
	d := &DeclareCursor{}
	n, err := p.name()
	if err != nil {
		return nil, err
	}
	d.Name = n
	for p.accept("binary") || p.accept("insensitive") || p.accept("asensitive") || p.accept("no", "scroll") || p.accept("scroll") {
	}
	if err := p.expect("cursor"); err != nil {
		return nil, err
	}
	switch {
	case p.accept("with", "hold"):
		d.Hold = true
	case p.accept("without", "hold"):
	}
	if err := p.expect("for"); err != nil {
		return nil, err
	}
	if p.i >= len(p.toks) {
		return nil, p.syntaxErr()
	}
	st, err := p.queryOrSubscribe(p.toks[p.i:])
	if err != nil {
		return nil, err
	}
	p.i = len(p.toks)
	d.Stmt = st
	d.Span = p.span(start)
	return d, nil
}

func (p *stmtParser) fetch() (Statement, error) {
	start := p.i
	p.i++
	f := &Fetch{Count: 1}
	num := func() (int64, bool) {
		t := p.peek()
		neg := false
		if t.isPunct("-") || t.isPunct("+") {
			neg = t.Val == "-"
			t = p.peekAt(1)
			if t.Kind != tNumber {
				return 0, false
			}
			p.i++
		}
		if t.Kind != tNumber {
			return 0, false
		}
		n, err := strconv.ParseInt(t.Val, 10, 64)
		if err != nil {
			return 0, false
		}
		p.i++
		if neg {
			n = -n
		}
		return n, true
	}
	switch {
	case p.accept("next"):
	case p.accept("all"):
		f.Count = -1
	case p.accept("forward"):
		if p.accept("all") {
			f.Count = -1
		} else if n, ok := num(); ok {
			f.Count = n
		}
	case p.peek().is("prior") || p.peek().is("backward") || p.peek().is("first") || p.peek().is("last") ||
		p.peek().is("absolute") || p.peek().is("relative"):
		return nil, p.errAt(sqlerr.FeatureNotSupported, p.peek(), "FETCH %s is not supported: cursors only move forward", strings.ToUpper(p.peek().Val))
	default:
		if n, ok := num(); ok {
			f.Count = n
		}
	}
	if f.Count < -1 {
		return nil, p.errAt(sqlerr.FeatureNotSupported, p.toks[start], "FETCH with a negative count is not supported: cursors only move forward")
	}
	if !p.accept("from") {
		p.accept("in")
	}
	n, err := p.name()
	if err != nil {
		return nil, err
	}
	f.Cursor = n
	if p.peek().is("with") {
		p.i++
		if f.With, err = p.options(); err != nil {
			return nil, err
		}
	}
	f.Span = p.span(start)
	return f, nil
}

func (p *stmtParser) set() (Statement, error) {
	start := p.i
	p.i++
	s := &Set{}
	if p.accept("local") {
		s.Local = true
	} else {
		p.accept("session")
	}
	switch {
	case p.accept("time", "zone"):
		s.Name = "timezone"
		if p.accept("local") || p.accept("default") {
			s.Value, s.Default = "DEFAULT", true
		} else {
			v, err := p.setValues()
			if err != nil {
				return nil, err
			}
			s.Value = v
		}
	case p.accept("names"):
		s.Name = "client_encoding"
		v, err := p.setValues()
		if err != nil {
			return nil, err
		}
		s.Value = v
	case p.peek().is("transaction") || p.accept("characteristics", "as"):
		p.accept("transaction")
		s.Name = "transaction_characteristics"
		var words []string
		for _, t := range p.rest() {
			words = append(words, strings.ToLower(p.src[t.Pos:t.End]))
		}
		s.Value = strings.Join(words, " ")
		if v, ok := strings.CutPrefix(s.Value, "isolation level "); ok {
			s.Name, s.Value = "transaction_isolation", v
		}
	default:
		n, err := p.varName()
		if err != nil {
			return nil, err
		}
		s.Name = n
		if !p.accept("to") && !p.accept("=") {
			return nil, p.syntaxErr().WithHint("write SET name = value or SET name TO value")
		}
		if p.accept("default") {
			s.Value, s.Default = "DEFAULT", true
		} else {
			v, err := p.setValues()
			if err != nil {
				return nil, err
			}
			s.Value = v
		}
	}
	s.Span = p.span(start)
	return s, nil
}

// setValues reads value[, value...] and joins them with ", ".
func (p *stmtParser) setValues() (string, error) {
	var vs []string
	for {
		v, err := p.literalValue()
		if err != nil {
			return "", err
		}
		vs = append(vs, v)
		if !p.accept(",") {
			return strings.Join(vs, ", "), nil
		}
	}
}

func (p *stmtParser) txn() (Statement, error) {
	start := p.i
	t := p.peek()
	p.i++
	x := &Txn{}
	switch t.Val {
	case "begin":
		x.Kind = Begin
		if !p.accept("work") {
			p.accept("transaction")
		}
	case "start":
		x.Kind = Begin
		if err := p.expect("transaction"); err != nil {
			return nil, err
		}
	case "commit", "end":
		x.Kind = Commit
		if !p.accept("work") {
			p.accept("transaction")
		}
		p.accept("and", "no", "chain")
	case "rollback", "abort":
		x.Kind = Rollback
		if !p.accept("work") {
			p.accept("transaction")
		}
		if p.peek().is("to") {
			return nil, p.errAt(sqlerr.FeatureNotSupported, p.peek(), "ROLLBACK TO SAVEPOINT is not supported")
		}
		p.accept("and", "no", "chain")
	}
	if x.Kind == Begin {
		// Transaction modes: ISOLATION LEVEL ..., READ ONLY|WRITE, [NOT] DEFERRABLE.
		for p.i < len(p.toks) {
			switch {
			case p.accept("isolation", "level"):
				if !(p.accept("serializable") || p.accept("repeatable", "read") || p.accept("read", "committed") || p.accept("read", "uncommitted")) {
					return nil, p.syntaxErr()
				}
			case p.accept("read", "only"), p.accept("read", "write"), p.accept("deferrable"), p.accept("not", "deferrable"), p.accept(","):
			default:
				return nil, p.syntaxErr()
			}
		}
	}
	x.Span = p.span(start)
	return x, nil
}

func (p *stmtParser) insert() (Statement, error) {
	start := p.i
	p.i++
	if err := p.expect("into"); err != nil {
		return nil, err
	}
	ins := &Insert{}
	var err error
	if ins.Table, err = p.qualName(); err != nil {
		return nil, err
	}
	if p.peek().isPunct("(") && !startsQuery(p.toks[p.i:]) {
		p.i++
		for {
			c, err := p.name()
			if err != nil {
				return nil, err
			}
			ins.Columns = append(ins.Columns, c)
			if !p.accept(",") {
				break
			}
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
	}
	if p.peek().is("values") {
		toks := p.rest()
		p.rw.insertValues = true
		n, err := p.rw.normalise("insert into t ", toks, toks[len(toks)-1].End)
		p.rw.insertValues = false
		if err != nil {
			return nil, err
		}
		stmt, err := tidbParse(n.text)
		if err != nil {
			return nil, tidbError(p.src, n, err)
		}
		is, ok := stmt.(*ast.InsertStmt)
		if !ok || len(is.Lists) == 0 {
			return nil, p.errAt(sqlerr.SyntaxError, toks[0], "syntax error in VALUES")
		}
		ins.Rows = is.Lists
	} else {
		if p.peek().is("returning") || p.i >= len(p.toks) {
			return nil, p.syntaxErr().WithHint("write INSERT INTO t VALUES (...) or INSERT INTO t SELECT ...")
		}
		if ins.Query, err = p.selectOf(p.rest()); err != nil {
			return nil, err
		}
	}
	ins.Span = p.span(start)
	return ins, nil
}
