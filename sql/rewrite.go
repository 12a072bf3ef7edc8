package sql

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// This file is the normalisation pass: the one place where Postgres-flavoured
// and streaming SQL is rewritten, token by token, into text that the TiDB
// parser accepts. Every rewrite and every internal function name it emits is
// listed in the "Rewrite contract" of doc.go.
//
// The pass works on one nesting level of tokens at a time and builds a list
// of items. An item is a run of output pieces; operand items are complete
// primary expressions (a literal, a name, a call, a parenthesised group, a
// cast), so postfix and infix rewrites can wrap them without re-parsing.
// Each piece remembers where in the user's text it came from, which gives
// the position map used to report TiDB's errors at the user's line and
// column.

// piece is a run of normalised text.
type piece struct {
	text string
	orig int // byte offset in the user's input this text stands for
	// verbatim is set when text is a same-length copy of the user's input
	// at orig, so offsets inside it map one to one.
	verbatim bool
}

// item is one element of a rewritten token sequence.
type item struct {
	ps       []piece
	operand  bool
	callable bool   // a name that can be followed by ( to form a call
	kw       string // the lower-cased keyword or operator of a one-token non-operand item
	name     string // for callable items: the last name component
	qual     string // for callable items: the qualifier, if any
	op       string // for OPERATOR(schema.op) items: the operator
	orig     int
}

func synth(text string, orig int) piece { return piece{text: text, orig: orig} }

func verb(src string, t token) piece {
	return piece{text: src[t.Pos:t.End], orig: t.Pos, verbatim: true}
}

// posMap maps byte offsets of the normalised text back to the user's input.
type posMap struct {
	segs []seg
	end  int // user offset of the end of the mapped text
}

type seg struct {
	out, orig, n int
	verbatim     bool
}

// user returns the user's byte offset for normalised offset off.
func (m *posMap) user(off int) int {
	if m == nil || len(m.segs) == 0 {
		return 0
	}
	i := sort.Search(len(m.segs), func(i int) bool { return m.segs[i].out > off }) - 1
	if i < 0 {
		return m.segs[0].orig
	}
	s := m.segs[i]
	if off >= s.out+s.n && i == len(m.segs)-1 {
		return m.end
	}
	if s.verbatim {
		d := off - s.out
		if d >= s.n {
			d = s.n - 1
		}
		if d < 0 {
			d = 0
		}
		return s.orig + d
	}
	return s.orig
}

// normalised is the output of the pass for one query or expression.
type normalised struct {
	text    string
	pm      *posMap
	windows []*pendingWindow
}

// pendingWindow is a window TVF whose argument expressions still have to be
// parsed by TiDB.
type pendingWindow struct {
	placeholder string
	tvf         *WindowTVF
	args        [][]token
	sub         []token // subquery source tokens, if any
}

// pendingFunc is a table function in FROM whose arguments still have to
// be parsed by TiDB.
type pendingFunc struct {
	placeholder string
	fn          *TableFunc
	args        [][]token
}

// rewriter runs the normalisation pass over the tokens of one statement.
type rewriter struct {
	src     string
	nWindow int
	windows []*pendingWindow
	nFunc   int
	funcs   []*pendingFunc
	depth   int // nesting level of seq
	// colAliases are the column alias lists of FROM items, in order.
	colAliases []*colAliases
	// insertValues is set while rewriting the VALUES list of INSERT, whose
	// rows TiDB must see as plain (...) lists, not VALUES ROW(...).
	insertValues bool
}

func (r *rewriter) errAt(code string, off int, format string, args ...any) *sqlerr.Error {
	e := sqlerr.New(code, format, args...)
	setPos(e, r.src, off)
	return e
}

// normalise rewrites toks (a whole query or expression) and joins the
// result. prefix is prepended to the text (with no position of its own).
func (r *rewriter) normalise(prefix string, toks []token, end int) (*normalised, error) {
	items, err := r.seq(toks)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	pm := &posMap{end: end}
	orig0 := end
	if len(toks) > 0 {
		orig0 = toks[0].Pos
	}
	if prefix != "" {
		pm.segs = append(pm.segs, seg{out: 0, orig: orig0, n: len(prefix)})
		b.WriteString(prefix)
	}
	for i, it := range items {
		if i > 0 {
			pm.segs = append(pm.segs, seg{out: b.Len(), orig: it.orig, n: 1})
			b.WriteByte(' ')
		}
		for _, p := range it.ps {
			if p.text == "" {
				continue
			}
			pm.segs = append(pm.segs, seg{out: b.Len(), orig: p.orig, n: len(p.text), verbatim: p.verbatim})
			b.WriteString(p.text)
		}
	}
	return &normalised{text: b.String(), pm: pm, windows: r.windows}, nil
}

// matchClose returns the index of the bracket closing toks[i].
func matchClose(toks []token, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		t := toks[j]
		if t.Kind != tPunct {
			continue
		}
		switch t.Val {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// splitTop splits toks at top-level commas.
func splitTop(toks []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, t := range toks {
		if t.Kind != tPunct {
			continue
		}
		switch t.Val {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
		case ",":
			if depth == 0 {
				out = append(out, toks[start:i])
				start = i + 1
			}
		}
	}
	return append(out, toks[start:])
}

// nonCallable are words that are keywords in expression context: a ( after
// them does not start a function call, and they are never operands.
var nonCallable = setOf(`all analyse analyze and any array as asc asymmetric both case cast check
collate column constraint create current_catalog default deferrable desc distinct do else end except
fetch for foreign from grant group having in initially intersect into lateral leading limit not
offset on only or order placing primary references returning select some symmetric table then to
trailing union unique using variadic when where window with authorization binary collation
concurrently cross freeze full ilike inner is isnull join left like natural notnull outer overlaps
right similar tablesample verbose over filter exists between values within escape interval by
emit nulls first last rows row_only recursive partition range preceding following unbounded
current`)

// literalWords are keywords that are operands on their own.
var literalWords = setOf(`true false null current_date current_time current_timestamp localtime
localtimestamp current_user session_user current_role current_schema current_catalog user`)

// tidbQuote are words TiDB reserves that Postgres users write as plain
// identifiers; the pass quotes them when they are not followed by (.
var tidbQuote = func() map[string]bool {
	m := map[string]bool{}
	pgKeywords := setOf(`select from where group by having order limit offset union intersect except all
distinct as on using join inner left right full outer cross natural and or not in is null true false
like ilike between case when then else end exists any some cast interval with recursive asc desc
values lateral escape collate over partition rows range preceding following unbounded current row
window filter array for both leading trailing into table unique primary references check default
constraint create column current_date current_time current_timestamp localtime localtimestamp
current_user session_user current_role fetch only grant foreign to do analyze binary`)
	for _, k := range parser.Keywords {
		w := strings.ToLower(k.Word)
		if k.Reserved && !pgKeywords[w] {
			m[w] = true
		}
	}
	return m
}()

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// typedLiteralTypes are type names that may prefix a string literal
// (TIMESTAMP '2024-01-01 00:00:00').
var typedLiteralTypes = setOf(`timestamp timestamptz date time timetz jsonb json numeric decimal boolean
bool int int2 int4 int8 integer bigint smallint real float4 float8 text varchar bytea uuid inet oid
regclass regtype regproc`)

// windowFuncs are the window table functions.
var windowFuncs = map[string]WindowKind{"tumble": Tumble, "hop": Hop, "cumulate": Cumulate, "session": Session}

// otherOps maps Postgres operators that TiDB lacks to the function they
// become (see the rewrite contract); a leading ! negates.
var otherOps = map[string]string{
	"->":  "json_get",
	"->>": "json_get_text",
	"#>":  "json_get_path",
	"#>>": "json_get_path_text",
	"~":   "regexp_like",
	"~*":  "regexp_like",
	"!~":  "regexp_like",
	"!~*": "regexp_like",
	"^":   "power",
	// x AT TIME ZONE z is timezone(z, x); infix swaps the operands.
	"at time zone": "timezone",
}

var comparisonOps = setOf("= <> != < > <= >=")

// sqlUserFuncs are SQL's parameterless functions written without
// parentheses, and the calls they become.
var sqlUserFuncs = map[string]string{
	"current_user":    "current_user",
	"session_user":    "session_user",
	"user":            "current_user",
	"current_role":    "current_role",
	"current_schema":  "current_schema",
	"current_catalog": "current_database",
}

var setOpWords = setOf("union intersect except all distinct")

func isWindowFunc(name string) bool {
	_, ok := windowFuncs[name]
	return ok
}

// seq rewrites one nesting level of tokens.
func (r *rewriter) seq(toks []token) ([]item, error) {
	r.depth++
	defer func() { r.depth-- }()
	var items []item
	inFrom, sawSelect := false, false
	last := func() *item {
		if len(items) == 0 {
			return nil
		}
		return &items[len(items)-1]
	}
	// fromSep reports whether the previous item starts a FROM item.
	fromSep := func() bool {
		p := last()
		if !inFrom || p == nil {
			return false
		}
		return p.kw == "from" || p.kw == "join" || p.kw == "," || p.kw == "lateral"
	}
	valuesRow := false // inside VALUES (...), (...): groups get ROW
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		var next token
		if i+1 < len(toks) {
			next = toks[i+1]
		}
		if valuesRow && !t.isPunct("(") && !t.isPunct(",") {
			valuesRow = false
		}
		if t.is("values") && (len(items) == 0 || setOpWords[last().kw]) && !(r.insertValues && r.depth == 1) {
			valuesRow = true
		}
		switch {
		case t.is("interval") && (next.Kind == tString || next.Kind == tNumber ||
			(next.isPunct("-") && i+2 < len(toks) && toks[i+2].Kind == tNumber)):
			it, n, err := r.interval(toks, i)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
			i = n - 1
			continue

		case t.Kind == tIdent && typedLiteralTypes[t.Val] && next.Kind == tString &&
			(last() == nil || !last().operand):
			it := item{operand: true, orig: t.Pos, ps: []piece{
				synth("__cast(", t.Pos), synth(quoteString(next.Val), next.Pos), synth(", "+quoteString(t.Val)+")", t.Pos),
			}}
			items = append(items, it)
			i++
			continue

		case (t.is("timestamp") || t.is("time")) && (next.is("with") || next.is("without")) && i+4 < len(toks) &&
			toks[i+2].is("time") && toks[i+3].is("zone") && toks[i+4].Kind == tString:
			// timestamp with[out] time zone '...'
			typ := t.Val + " " + next.Val + " time zone"
			s := toks[i+4]
			items = append(items, item{operand: true, orig: t.Pos, ps: []piece{
				synth("__cast(", t.Pos), synth(quoteString(s.Val), s.Pos), synth(", "+quoteString(typ)+")", t.Pos),
			}})
			i += 4
			continue

		case t.is("array") && next.isPunct("["):
			j := matchClose(toks, i+1)
			if j < 0 {
				return nil, r.errAt(sqlerr.SyntaxError, next.Pos, "syntax error: unbalanced brackets")
			}
			inner, err := r.join(toks[i+2 : j])
			if err != nil {
				return nil, err
			}
			ps := append([]piece{synth("__array(", t.Pos)}, inner...)
			items = append(items, item{operand: true, orig: t.Pos, ps: append(ps, synth(")", toks[j].Pos))})
			i = j
			continue

		case t.is("array") && next.isPunct("("):
			j := matchClose(toks, i+1)
			if j < 0 {
				return nil, r.errAt(sqlerr.SyntaxError, next.Pos, "syntax error: unbalanced parentheses")
			}
			inner, err := r.join(toks[i+2 : j])
			if err != nil {
				return nil, err
			}
			ps := append([]piece{synth("__array_sub((", t.Pos)}, inner...)
			items = append(items, item{operand: true, orig: t.Pos, ps: append(ps, synth("))", toks[j].Pos))})
			i = j
			continue

		case t.is("limit") && (next.is("all") || next.is("null")), t.is("offset") && next.is("null"):
			i++ // LIMIT ALL, LIMIT NULL and OFFSET NULL mean none.
			continue

		case (t.is("row") || t.is("rows")) && len(items) >= 2 && items[len(items)-2].kw == "offset":
			continue // OFFSET n ROWS

		case t.is("fetch") && (next.is("first") || next.is("next")):
			// FETCH FIRST [n] ROW[S] ONLY becomes LIMIT n.
			j := i + 2
			var n []item
			if j < len(toks) && !toks[j].is("row") && !toks[j].is("rows") {
				var err error
				switch c := toks[j]; c.Kind {
				case tParam, tString: // as after LIMIT: a marker, or the number
					v := "?"
					if c.Kind == tString {
						if v, err = r.limitLiteral(c, "limit"); err != nil {
							return nil, err
						}
					}
					n = []item{{operand: true, orig: c.Pos, ps: []piece{synth(v, c.Pos)}}}
				default:
					if n, err = r.seq(toks[j : j+1]); err != nil {
						return nil, err
					}
				}
				j++
			}
			if j+1 >= len(toks) || !(toks[j].is("row") || toks[j].is("rows")) || !toks[j+1].is("only") {
				return nil, r.errAt(sqlerr.SyntaxError, t.Pos, "syntax error at or near \"fetch\"").
					WithHint("write FETCH FIRST n ROWS ONLY, or LIMIT n")
			}
			if n == nil {
				n = []item{{operand: true, orig: t.Pos, ps: []piece{synth("1", t.Pos)}}}
			}
			items = append(items, item{kw: "limit", orig: t.Pos, ps: []piece{synth("limit", t.Pos)}})
			items = append(items, n...)
			i = j + 1
			continue

		case t.is("for") && next.is("system_time") && i+3 < len(toks) && toks[i+2].is("as") && toks[i+3].is("of"):
			// FOR SYSTEM_TIME AS OF x (Flink's temporal join) is dropped: a
			// join of a stream with a table always reads the table's current
			// state. x is a (qualified) name or a call such as PROCTIME().
			j := i + 4
			for j < len(toks) && (toks[j].Kind == tIdent || toks[j].Kind == tQIdent) {
				j++
				if j < len(toks) && toks[j].isPunct("(") {
					if k := matchClose(toks, j); k > 0 {
						j = k + 1
					}
					break
				}
				if j < len(toks) && toks[j].isPunct(".") {
					j++
					continue
				}
				break
			}
			i = j - 1
			continue

		case t.is("collate"):
			// COLLATE name: Sluice compares text by code point; drop it.
			j := i + 1
			for j < len(toks) && (toks[j].Kind == tIdent || toks[j].Kind == tQIdent) {
				j++
				if j < len(toks) && toks[j].isPunct(".") {
					j++
					continue
				}
				break
			}
			i = j - 1
			continue

		case t.is("at") && next.is("time") && i+2 < len(toks) && toks[i+2].is("zone") && last() != nil && last().operand:
			// x AT TIME ZONE z becomes timezone(z, x) once z is read (infix).
			items = append(items, item{kw: "at time zone", op: "at time zone", orig: t.Pos, ps: []piece{synth("at time zone", t.Pos)}})
			i += 2
			continue

		case (t.is("rollup") || t.is("cube")) && next.isPunct("(") && last() != nil && (last().kw == "by" || last().kw == ","),
			t.is("grouping") && next.is("sets"):
			return nil, r.errAt(sqlerr.FeatureNotSupported, t.Pos, "GROUP BY %s is not supported", strings.ToUpper(t.Val)).
				WithHint("write one GROUP BY query per grouping and combine them with UNION ALL")

		case t.is("similar") && next.is("to"):
			return nil, r.errAt(sqlerr.FeatureNotSupported, t.Pos, "SIMILAR TO is not supported").
				WithHint("use LIKE, or a regular expression with ~")

		case t.Kind == tIdent && sqlUserFuncs[t.Val] != "" && !next.isPunct("(") && !next.isPunct(".") &&
			(last() == nil || last().kw != "."):
			// SQL's parameterless functions (session_user, current_user,
			// ...) become calls TiDB reads as functions, not columns.
			items = append(items, item{operand: true, orig: t.Pos, ps: []piece{synth(sqlUserFuncs[t.Val]+"()", t.Pos)}})
			continue

		case t.is("distinct") && next.is("on") && last() != nil && last().kw == "select":
			return nil, r.errAt(sqlerr.FeatureNotSupported, t.Pos, "SELECT DISTINCT ON is not supported").
				WithHint("keep the first row per key with ROW_NUMBER() OVER (PARTITION BY key ORDER BY ...) AS rn in a subquery and WHERE rn = 1")

		case t.is("within") && next.is("group") && i+2 < len(toks) && toks[i+2].isPunct("(") && last() != nil && last().operand:
			// agg(args) WITHIN GROUP (ORDER BY k) becomes __ordered(agg(args), k).
			j := matchClose(toks, i+2)
			if j < 0 {
				return nil, r.errAt(sqlerr.SyntaxError, toks[i+2].Pos, "syntax error: unbalanced parentheses")
			}
			inner := toks[i+3 : j]
			if len(inner) < 3 || !inner[0].is("order") || !inner[1].is("by") {
				return nil, r.errAt(sqlerr.SyntaxError, toks[i+2].Pos, "syntax error in WITHIN GROUP").WithHint("write WITHIN GROUP (ORDER BY expression)")
			}
			keys, err := r.orderKeys(splitTop(inner[2:]), toks[j])
			if err != nil {
				return nil, err
			}
			agg := last()
			ps := append([]piece{synth("__ordered(", agg.orig)}, agg.ps...)
			ps = append(ps, keys...)
			*agg = item{operand: true, orig: agg.orig, ps: append(ps, synth(")", toks[j].Pos))}
			i = j
			continue

		case t.is("filter") && next.isPunct("(") && last() != nil && last().operand:
			j := matchClose(toks, i+1)
			if j < 0 {
				return nil, r.errAt(sqlerr.SyntaxError, next.Pos, "syntax error: unbalanced parentheses")
			}
			inner := toks[i+2 : j]
			if len(inner) == 0 || !inner[0].is("where") {
				return nil, r.errAt(sqlerr.SyntaxError, next.Pos, "syntax error at or near \"(\"").
					WithHint("write FILTER (WHERE condition)")
			}
			cond, err := r.join(inner[1:])
			if err != nil {
				return nil, err
			}
			agg := last()
			ps := append([]piece{synth("__filter(", t.Pos)}, agg.ps...)
			ps = append(ps, synth(", ", t.Pos))
			ps = append(ps, cond...)
			ps = append(ps, synth(")", toks[j].Pos))
			*agg = item{operand: true, orig: agg.orig, ps: ps}
			i = j
			continue

		case t.Kind == tIdent && isWindowFunc(t.Val) && next.isPunct("(") && fromSep():
			j := matchClose(toks, i+1)
			if j < 0 {
				return nil, r.errAt(sqlerr.SyntaxError, next.Pos, "syntax error: unbalanced parentheses")
			}
			it, err := r.windowTVF(toks, i, j, false)
			if err != nil {
				return nil, err
			}
			items = append(items, it...)
			i = j
			continue

		case t.is("table") && next.isPunct("(") && fromSep():
			j := matchClose(toks, i+1)
			if j < 0 {
				return nil, r.errAt(sqlerr.SyntaxError, next.Pos, "syntax error: unbalanced parentheses")
			}
			inner := toks[i+2 : j]
			if len(inner) < 2 || inner[0].Kind != tIdent || !inner[1].isPunct("(") {
				return nil, r.errAt(sqlerr.FeatureNotSupported, t.Pos, "TABLE(...) in FROM supports only the window functions TUMBLE, HOP, CUMULATE and SESSION")
			}
			if _, ok := windowFuncs[inner[0].Val]; !ok || matchClose(inner, 1) != len(inner)-1 {
				return nil, r.errAt(sqlerr.FeatureNotSupported, inner[0].Pos, "TABLE(%s(...)) is not a window table function", inner[0].Val).
					WithHint("use TUMBLE, HOP, CUMULATE or SESSION")
			}
			it, err := r.windowTVF(inner, 0, len(inner)-1, true)
			if err != nil {
				return nil, err
			}
			// The alias follows TABLE(...), so windowTVF saw none: look here.
			items = append(items, it...)
			i = j
			if a := aliasAt(toks, j+1); a != "" {
				r.windows[len(r.windows)-1].tvf.Alias = a
				if len(it) > 1 { // drop the implicit alias
					items = items[:len(items)-len(it)+1]
				}
			}
			continue

		case (t.Kind == tIdent || t.Kind == tQIdent) && fromSep() && !nonCallable[t.Val] &&
			(next.isPunct("(") || (next.isPunct(".") && i+3 < len(toks) && toks[i+3].isPunct("("))):
			it, n, err := r.tableFunc(toks, i)
			if err != nil {
				return nil, err
			}
			items = append(items, it...)
			i = n - 1
			continue

		case (t.is("row") && !next.isPunct("(") && (last() == nil || last().kw != "current")) ||
			(t.is("partition") && !next.is("by")):
			// ROW and PARTITION are keywords to TiDB in any position; used
			// as column names they are quoted.
			items = append(items, item{operand: true, orig: t.Pos, ps: []piece{synth(`"`+t.Val+`"`, t.Pos)}})
			continue

		case t.is("rows") && rowsIsName(toks, i):
			// ROWS is a keyword in window frames (ROWS BETWEEN ..., ROWS 5
			// PRECEDING) and in OFFSET n ROWS / FETCH FIRST n ROWS ONLY;
			// elsewhere it is a name, as in Postgres (sluice_views.rows).
			items = append(items, item{operand: true, callable: true, name: t.Val, orig: t.Pos, ps: []piece{synth(`"rows"`, t.Pos)}})
			continue

		case t.Kind == tIdent || t.Kind == tQIdent:
			it := r.ident(t, next)
			switch it.kw {
			case "from":
				// FROM starts a FROM clause only after SELECT at this level
				// (not in EXTRACT(x FROM y), TRIM(... FROM ...), IS DISTINCT FROM).
				if p := last(); sawSelect && (p == nil || p.kw != "distinct") {
					inFrom = true
				}
			case "where", "group", "having", "order", "limit", "offset", "window", "union",
				"intersect", "except", "emit", "fetch", "select", "values":
				inFrom = false
			}
			if it.kw == "select" {
				sawSelect = true
			}
			items = append(items, it)
			continue

		case t.Kind == tString && last() != nil && (last().kw == "limit" || last().kw == "offset"):
			// LIMIT '10' (a client's parameter inlined as a literal, as pgx
			// and lib/pq do in the simple protocol): Postgres reads it as
			// bigint; TiDB takes only a number here.
			n, err := r.limitLiteral(t, last().kw)
			if err != nil {
				return nil, err
			}
			items = append(items, item{operand: true, orig: t.Pos, ps: []piece{synth(n, t.Pos)}})
			continue

		case t.Kind == tString:
			if t.Escape {
				items = append(items, item{operand: true, orig: t.Pos, ps: []piece{synth(quoteString(t.Val), t.Pos)}})
			} else {
				items = append(items, item{operand: true, orig: t.Pos, ps: []piece{verb(r.src, t)}})
			}
			continue

		case t.Kind == tNumber:
			items = append(items, item{operand: true, orig: t.Pos, ps: []piece{verb(r.src, t)}})
			continue

		case t.Kind == tParam:
			n, err := strconv.Atoi(t.Val)
			if err != nil || n < 1 {
				return nil, r.errAt(sqlerr.SyntaxError, t.Pos, "invalid parameter reference $%s", t.Val)
			}
			if p := last(); p != nil && (p.kw == "limit" || p.kw == "offset") {
				// TiDB takes only a literal or a marker here; numberParams
				// gives the marker its Order after parsing.
				items = append(items, item{operand: true, orig: t.Pos, ps: []piece{synth("?", t.Pos)}})
				continue
			}
			items = append(items, item{operand: true, orig: t.Pos, ps: []piece{synth(fmt.Sprintf("__param(%d)", n), t.Pos)}})
			continue

		case t.isPunct("."):
			p := last()
			if p != nil && p.operand && (next.Kind == tIdent || next.Kind == tQIdent || next.isPunct("*")) {
				p.ps = append(p.ps, verb(r.src, t))
				if next.isPunct("*") {
					p.ps = append(p.ps, verb(r.src, next))
					p.callable = false
				} else {
					n := r.ident(next, token{})
					if next.Kind == tIdent && tidbQuote[next.Val] {
						n.ps = []piece{synth(`"`+next.Val+`"`, next.Pos)}
					}
					p.ps = append(p.ps, n.ps...)
					if p.callable {
						p.qual = p.name
						p.name = next.Val
					}
				}
				i++
				continue
			}

		case t.isPunct("("):
			j := matchClose(toks, i)
			if j < 0 {
				return nil, r.errAt(sqlerr.SyntaxError, t.Pos, "syntax error: unbalanced parentheses")
			}
			inner := toks[i+1 : j]
			p := last()
			switch {
			case inFrom && p != nil && p.operand && p.callable && p.qual == "" && len(items) >= 2 &&
				(items[len(items)-2].kw == "as" || (items[len(items)-2].operand && !items[len(items)-2].callable) ||
					(items[len(items)-2].operand && len(items) >= 3 && !items[len(items)-3].operand)) && identList(inner):
				// FROM item AS alias(c1, c2): TiDB has no column alias
				// lists; the list is recorded in Select.ColumnAliases.
				ca := &colAliases{alias: p.name}
				for _, c := range splitTop(inner) {
					ca.cols = append(ca.cols, c[0].Val)
				}
				r.colAliases = append(r.colAliases, ca)
				i = j
				continue
			case p != nil && (p.callable || p.kw == "cast"):
				if p.kw == "cast" {
					p.name = "cast"
				}
				it, err := r.call(*p, inner, t, toks[j])
				if err != nil {
					return nil, err
				}
				*p = it
			case p != nil && (p.kw == "any" || p.kw == "some" || p.kw == "all") && len(items) >= 2 &&
				comparisonOps[items[len(items)-2].kw] && !startsQuery(inner):
				// x = ANY(array) becomes x = __any(array).
				name := "__any("
				if p.kw == "all" {
					name = "__all("
				}
				in, err := r.join(inner)
				if err != nil {
					return nil, err
				}
				ps := append([]piece{synth(name, p.orig)}, in...)
				*p = item{operand: true, orig: p.orig, ps: append(ps, synth(")", toks[j].Pos))}
			default:
				in, err := r.join(inner)
				if err != nil {
					return nil, err
				}
				ps := append([]piece{verb(r.src, t)}, in...)
				if valuesRow && p != nil && (p.kw == "values" || p.kw == ",") {
					// VALUES (a, b) is VALUES ROW(a, b) to TiDB.
					ps = append([]piece{synth("row", t.Pos)}, ps...)
				}
				items = append(items, item{operand: true, orig: t.Pos, ps: append(ps, verb(r.src, toks[j]))})
			}
			i = j
			continue

		case t.isPunct("["):
			j := matchClose(toks, i)
			p := last()
			if j < 0 || p == nil || !p.operand {
				return nil, r.errAt(sqlerr.SyntaxError, t.Pos, "syntax error at or near \"[\"")
			}
			in, err := r.join(toks[i+1 : j])
			if err != nil {
				return nil, err
			}
			ps := append([]piece{synth("__subscript(", p.orig)}, p.ps...)
			ps = append(ps, synth(", ", t.Pos))
			ps = append(ps, in...)
			*p = item{operand: true, orig: p.orig, ps: append(ps, synth(")", toks[j].Pos))}
			i = j
			continue

		case t.isPunct("::"):
			p := last()
			if p == nil || !p.operand {
				return nil, r.errAt(sqlerr.SyntaxError, t.Pos, "syntax error at or near \"::\"")
			}
			typ, n, err := r.typeName(toks, i+1)
			if err != nil {
				return nil, err
			}
			ps := append([]piece{synth("__cast(", p.orig)}, p.ps...)
			*p = item{operand: true, orig: p.orig, ps: append(ps, synth(", "+quoteString(typ)+")", t.Pos))}
			i = n - 1
			continue
		}
		// Anything else (operators, commas, ...) is copied as is.
		it := item{orig: t.Pos, ps: []piece{verb(r.src, t)}, kw: t.Val}
		if t.Kind == tPunct && (t.Val == "{" || t.Val == "}") {
			return nil, r.errAt(sqlerr.SyntaxError, t.Pos, "syntax error at or near %q", t.Val)
		}
		items = append(items, it)
	}
	items = r.infix(items)
	items, err := r.lowPrecedence(items)
	if err != nil {
		return nil, err
	}
	return reorderOffset(items), nil
}

// join rewrites toks and flattens the items into pieces separated by spaces.
func (r *rewriter) join(toks []token) ([]piece, error) {
	items, err := r.seq(toks)
	if err != nil {
		return nil, err
	}
	return flatten(items), nil
}

func flatten(items []item) []piece {
	var ps []piece
	for i, it := range items {
		if i > 0 {
			ps = append(ps, synth(" ", it.orig))
		}
		ps = append(ps, it.ps...)
	}
	return ps
}

// ident turns an identifier token into an item. Unquoted names are folded
// to lower case; quoted names keep their case.
func (r *rewriter) ident(t, next token) item {
	if t.Kind == tQIdent {
		return item{operand: true, callable: true, name: t.Val, orig: t.Pos,
			ps: []piece{synth(`"`+strings.ReplaceAll(t.Val, `"`, `""`)+`"`, t.Pos)}}
	}
	text := t.Val
	verbatim := len(text) == t.End-t.Pos
	if nonCallable[t.Val] {
		return item{kw: t.Val, orig: t.Pos, ps: []piece{{text: text, orig: t.Pos, verbatim: verbatim}}}
	}
	if literalWords[t.Val] {
		return item{operand: true, orig: t.Pos, ps: []piece{{text: text, orig: t.Pos, verbatim: verbatim}}}
	}
	if tidbQuote[t.Val] && !next.isPunct("(") {
		text = `"` + t.Val + `"`
		verbatim = false
	}
	return item{operand: true, callable: true, name: t.Val, orig: t.Pos,
		ps: []piece{{text: text, orig: t.Pos, verbatim: verbatim}}}
}

// aliasAt returns the alias starting at toks[i] (AS name, or a bare name),
// or "".
func aliasAt(toks []token, i int) string {
	if i < len(toks) && toks[i].is("as") {
		i++
	}
	if i >= len(toks) {
		return ""
	}
	t := toks[i]
	if t.Kind == tQIdent || (t.Kind == tIdent && !nonCallable[t.Val] && !clauseWords[t.Val]) {
		return t.Val
	}
	return ""
}

// rowsIsName reports whether ROWS at toks[i] is a name rather than the
// keyword of a window frame or of OFFSET/FETCH.
func rowsIsName(toks []token, i int) bool {
	if i+1 < len(toks) {
		n := toks[i+1]
		if n.is("between") || n.is("unbounded") || n.is("current") || n.is("only") ||
			n.Kind == tNumber || n.Kind == tParam || n.isPunct("(") {
			return false
		}
	}
	if i > 0 {
		p := toks[i-1]
		if p.Kind == tNumber || p.Kind == tParam || p.is("first") || p.is("next") || p.isPunct(")") {
			return false
		}
	}
	return true
}

// clauseWords are unreserved words that can follow a FROM item.
var clauseWords = setOf(`where group having order limit offset window union intersect except emit
join left right full inner cross natural on using fetch`)

func startsQuery(toks []token) bool {
	for len(toks) > 0 && toks[0].isPunct("(") {
		toks = toks[1:]
	}
	return len(toks) > 0 && (toks[0].is("select") || toks[0].is("with") || toks[0].is("values"))
}

// call rewrites a function call name(inner).
func (r *rewriter) call(name item, inner []token, open, closeTok token) (item, error) {
	closeP := verb(r.src, closeTok)
	mk := func(fn string, args []piece) item {
		ps := append([]piece{synth(fn+"(", name.orig)}, args...)
		return item{operand: true, orig: name.orig, ps: append(ps, closeP)}
	}
	if name.qual == "" {
		switch name.name {
		case "cast":
			// CAST(x AS type) becomes __cast(x, 'type').
			as := -1
			depth := 0
			for k, t := range inner {
				if t.isPunct("(") || t.isPunct("[") {
					depth++
				} else if t.isPunct(")") || t.isPunct("]") {
					depth--
				} else if depth == 0 && t.is("as") {
					as = k
				}
			}
			if as < 0 {
				return item{}, r.errAt(sqlerr.SyntaxError, open.Pos, "syntax error in CAST").WithHint("write CAST(expression AS type)")
			}
			x, err := r.join(inner[:as])
			if err != nil {
				return item{}, err
			}
			typ, n, err := r.typeName(inner, as+1)
			if err != nil {
				return item{}, err
			}
			if n != len(inner) {
				return item{}, r.errAt(sqlerr.SyntaxError, inner[n].Pos, "syntax error at or near %q", r.src[inner[n].Pos:inner[n].End])
			}
			return mk("__cast", append(x, synth(", "+quoteString(typ), open.Pos))), nil
		case "extract":
			// EXTRACT(field FROM x) becomes date_part('field', x).
			if len(inner) >= 3 && (inner[0].Kind == tIdent || inner[0].Kind == tString) && inner[1].is("from") {
				x, err := r.join(inner[2:])
				if err != nil {
					return item{}, err
				}
				return mk("date_part", append([]piece{synth(quoteString(strings.ToLower(inner[0].Val))+", ", inner[0].Pos)}, x...)), nil
			}
		case "tumble", "hop", "session", "cumulate":
			// The group-window form: GROUP BY TUMBLE(ts, size).
			x, err := r.join(inner)
			if err != nil {
				return item{}, err
			}
			return mk("__"+name.name, x), nil
		case "operator":
			// OPERATOR(schema.op) is the operator op.
			if len(inner) > 0 && inner[len(inner)-1].Kind == tOp {
				op := inner[len(inner)-1].Val
				return item{kw: op, op: op, orig: name.orig, ps: []piece{synth(op, name.orig)}}, nil
			}
			return item{}, r.errAt(sqlerr.SyntaxError, open.Pos, "syntax error in OPERATOR()")
		}
	}
	// agg(args ORDER BY keys) becomes __ordered(agg(args), keys...).
	var orderKeys [][]token
	for k := 0; k+1 < len(inner); k++ {
		if inner[k].isPunct("(") || inner[k].isPunct("[") {
			k = matchClose(inner, k)
			if k < 0 {
				break
			}
			continue
		}
		if inner[k].is("order") && inner[k+1].is("by") {
			orderKeys = splitTop(inner[k+2:])
			inner = inner[:k]
			break
		}
	}
	args, err := r.join(inner)
	if err != nil {
		return item{}, err
	}
	var ps []piece
	if orderKeys != nil {
		ps = append(ps, synth("__ordered(", name.orig))
	}
	if name.qual == "pg_catalog" {
		ps = []piece{synth(name.name, name.orig)}
	} else {
		ps = append(ps, name.ps...)
	}
	ps = append(ps, verb(r.src, open))
	ps = append(ps, args...)
	ps = append(ps, closeP)
	keys, err := r.orderKeys(orderKeys, closeTok)
	if err != nil {
		return item{}, err
	}
	ps = append(ps, keys...)
	if orderKeys != nil {
		ps = append(ps, synth(")", closeTok.Pos))
	}
	return item{operand: true, orig: name.orig, ps: ps}, nil
}

// interval rewrites an interval literal starting at toks[i] (INTERVAL) into
// __interval(micros) and returns the index after it.
func (r *rewriter) interval(toks []token, i int) (item, int, error) {
	start := toks[i].Pos
	j := i + 1
	neg := false
	if toks[j].isPunct("-") {
		neg = true
		j++
	}
	lit := toks[j]
	j++
	var unit, unit2 string
	if j < len(toks) && toks[j].Kind == tIdent {
		if _, ok := types.UnitMicros(toks[j].Val); ok && len(toks[j].Val) > 1 {
			unit = toks[j].Val
			j++
			// Optional precision: SECOND(3).
			if j+2 < len(toks) && toks[j].isPunct("(") && toks[j+1].Kind == tNumber && toks[j+2].isPunct(")") {
				j += 3
			}
			if j+1 < len(toks) && toks[j].is("to") && toks[j+1].Kind == tIdent {
				if _, ok := types.UnitMicros(toks[j+1].Val); ok {
					unit2 = toks[j+1].Val
					j += 2
				}
			}
		}
	}
	var micros int64
	var err error
	text := strings.TrimSpace(lit.Val)
	switch {
	case unit2 != "" && !strings.ContainsAny(text, ": "):
		// A single number fills the least significant field:
		// INTERVAL '1' YEAR TO MONTH is one month, as in Postgres.
		var f float64
		if f, err = strconv.ParseFloat(text, 64); err == nil {
			mul, _ := types.UnitMicros(unit2)
			micros = int64(f*float64(mul) + copysignHalf(f))
		}
	case unit2 != "" || (unit != "" && strings.Contains(text, ":")):
		if strings.Count(text, ":") == 1 && strings.HasPrefix(unit, "min") && strings.HasPrefix(unit2, "sec") {
			// MINUTE TO SECOND: '1:30' is one minute thirty seconds.
			text = "0:" + text
		}
		micros, err = types.ParseInterval(text)
	case unit != "":
		var f float64
		f, err = strconv.ParseFloat(text, 64)
		if err != nil {
			// '1 minute' MINUTE or similar: let the text speak.
			micros, err = types.ParseInterval(text)
			break
		}
		mul, _ := types.UnitMicros(unit)
		micros = int64(f*float64(mul) + copysignHalf(f))
	default:
		micros, err = types.ParseInterval(text)
	}
	if err != nil || (lit.Kind == tNumber && unit == "") {
		e := r.errAt(sqlerr.InvalidTextRep, lit.Pos, "invalid input syntax for type interval: %q", lit.Val)
		e.Err = err
		return item{}, 0, e.WithHint("write INTERVAL '5' SECOND, INTERVAL '5 seconds' or INTERVAL 5 SECOND")
	}
	if neg {
		micros = -micros
	}
	if j < len(toks) && (toks[j].is("preceding") || toks[j].is("following")) {
		// A window frame bound: TiDB takes only INTERVAL n unit here.
		return item{operand: true, orig: start, ps: []piece{synth(fmt.Sprintf("interval %d microsecond", micros), start)}}, j, nil
	}
	return item{operand: true, orig: start, ps: []piece{synth(fmt.Sprintf("__interval(%d)", micros), start)}}, j, nil
}

func copysignHalf(f float64) float64 {
	if f < 0 {
		return -0.5
	}
	return 0.5
}

// typeName reads a type name starting at toks[i] and returns its canonical
// text (lower case, modifiers kept, schema dropped) and the index after it.
func (r *rewriter) typeName(toks []token, i int) (string, int, error) {
	if i >= len(toks) || (toks[i].Kind != tIdent && toks[i].Kind != tQIdent) {
		off := len(r.src)
		if i < len(toks) {
			off = toks[i].Pos
		} else if len(toks) > 0 {
			off = toks[len(toks)-1].End
		}
		return "", 0, r.errAt(sqlerr.SyntaxError, off, "syntax error: expected a type name")
	}
	// Drop a schema qualifier.
	if i+2 < len(toks) && toks[i+1].isPunct(".") && (toks[i+2].Kind == tIdent || toks[i+2].Kind == tQIdent) {
		i += 2
	}
	words := []string{toks[i].Val}
	j := i + 1
	w := toks[i].Val
	switch {
	case w == "double" && j < len(toks) && toks[j].is("precision"):
		words = append(words, "precision")
		j++
	case (w == "character" || w == "char" || w == "bit") && j < len(toks) && toks[j].is("varying"):
		words = append(words, "varying")
		j++
	}
	var mods string
	if j < len(toks) && toks[j].isPunct("(") {
		k := matchClose(toks, j)
		if k < 0 {
			return "", 0, r.errAt(sqlerr.SyntaxError, toks[j].Pos, "syntax error: unbalanced parentheses")
		}
		var m []string
		for _, t := range toks[j+1 : k] {
			if t.Kind == tNumber {
				m = append(m, t.Val)
			} else if !t.isPunct(",") {
				return "", 0, r.errAt(sqlerr.SyntaxError, t.Pos, "syntax error: type modifiers must be numbers")
			}
		}
		mods = "(" + strings.Join(m, ",") + ")"
		j = k + 1
	}
	if (w == "timestamp" || w == "time") && j+2 < len(toks) && (toks[j].is("with") || toks[j].is("without")) &&
		toks[j+1].is("time") && toks[j+2].is("zone") {
		words = append(words, toks[j].Val, "time", "zone")
		j += 3
	}
	if w == "interval" {
		// INTERVAL fields (INTERVAL DAY TO SECOND) carry no meaning here.
		for j < len(toks) && toks[j].Kind == tIdent {
			if _, ok := types.UnitMicros(toks[j].Val); !ok && !toks[j].is("to") {
				break
			}
			j++
		}
	}
	out := strings.Join(words, " ") + mods
	for j+1 < len(toks) && toks[j].isPunct("[") && toks[j+1].isPunct("]") {
		out += "[]"
		j += 2
	}
	return out, j, nil
}

// infix combines operand OP operand for the operators TiDB lacks, left to
// right; these bind tighter than comparisons, as in Postgres.
func (r *rewriter) infix(items []item) []item {
	for k := 1; k+1 < len(items); {
		op := items[k].kw
		if items[k].op != "" {
			op = items[k].op
		}
		fn, ok := otherOps[op]
		if !ok || items[k].operand || !items[k-1].operand || !items[k+1].operand {
			k++
			continue
		}
		l, rt := items[k-1], items[k+1]
		if op == "at time zone" {
			// timezone(zone, x): the zone comes first.
			l, rt = rt, l
		}
		ps := []piece{synth(fn+"(", l.orig)}
		if strings.HasPrefix(op, "!") {
			ps = []piece{synth("(not "+fn+"(", l.orig)}
		}
		ps = append(ps, l.ps...)
		ps = append(ps, synth(", ", items[k].orig))
		ps = append(ps, rt.ps...)
		switch {
		case strings.HasSuffix(op, "*"):
			ps = append(ps, synth(", 'i')", rt.orig))
		default:
			ps = append(ps, synth(")", rt.orig))
		}
		if strings.HasPrefix(op, "!") {
			ps = append(ps, synth(")", rt.orig))
		}
		merged := item{operand: true, orig: l.orig, ps: ps}
		items = append(items[:k-1], append([]item{merged}, items[k+2:]...)...)
	}
	return items
}

// boundaryWords end the operand of a low-precedence rewrite.
var boundaryWords = setOf(`and or not where when then else end on having select by set distinct
case , from limit offset order group union intersect except ( ) returning using join window emit
asc desc nulls as`)

// lowPrecedence rewrites IS [NOT] DISTINCT FROM and NULLS FIRST|LAST, whose
// operands are whole expressions up to a boundary word.
func (r *rewriter) lowPrecedence(items []item) ([]item, error) {
	for k := 0; k < len(items); k++ {
		switch {
		case items[k].kw == "is" && k+2 < len(items):
			not := items[k+1].kw == "not"
			d := k + 1
			if not {
				d++
			}
			if d+1 >= len(items) || items[d].kw != "distinct" || items[d+1].kw != "from" {
				continue
			}
			lo := k
			for lo > 0 && !isBoundary(items[lo-1]) {
				lo--
			}
			hi := d + 2
			for hi < len(items) && !isBoundary(items[hi]) {
				hi++
			}
			if lo == k || hi == d+2 {
				return nil, r.errAt(sqlerr.SyntaxError, items[k].orig, "syntax error at or near \"is\"")
			}
			var ps []piece
			if not {
				ps = append(ps, synth("(", items[lo].orig))
			} else {
				ps = append(ps, synth("(not (", items[lo].orig))
			}
			ps = append(ps, flatten(items[lo:k])...)
			ps = append(ps, synth(" <=> ", items[k].orig))
			ps = append(ps, flatten(items[d+2:hi])...)
			if not {
				ps = append(ps, synth(")", items[hi-1].orig))
			} else {
				ps = append(ps, synth("))", items[hi-1].orig))
			}
			merged := item{operand: true, orig: items[lo].orig, ps: ps}
			items = append(items[:lo], append([]item{merged}, items[hi:]...)...)
			k = lo
		case items[k].kw == "nulls" && k+1 < len(items) && (items[k+1].kw == "first" || items[k+1].kw == "last"):
			fn := "__nulls_" + items[k+1].kw
			e := k
			if e > 0 && (items[e-1].kw == "asc" || items[e-1].kw == "desc") {
				e--
			}
			lo := e
			for lo > 0 && items[lo-1].kw != "," && items[lo-1].kw != "by" {
				lo--
			}
			if lo == e {
				return nil, r.errAt(sqlerr.SyntaxError, items[k].orig, "syntax error at or near \"nulls\"")
			}
			ps := append([]piece{synth(fn+"(", items[lo].orig)}, flatten(items[lo:e])...)
			ps = append(ps, synth(")", items[k].orig))
			merged := []item{{operand: true, orig: items[lo].orig, ps: ps}}
			merged = append(merged, items[e:k]...)
			items = append(items[:lo], append(merged, items[k+2:]...)...)
			k = lo
		}
	}
	return items, nil
}

func isBoundary(it item) bool { return !it.operand && boundaryWords[it.kw] }

// reorderOffset puts OFFSET after LIMIT and gives an OFFSET without LIMIT
// an unbounded LIMIT, as TiDB requires.
func reorderOffset(items []item) []item {
	o, l := -1, -1
	for k, it := range items {
		switch it.kw {
		case "offset":
			if !it.operand && k+1 < len(items) && items[k+1].operand {
				o = k
			}
		case "limit":
			if !it.operand {
				l = k
			}
		}
	}
	if o < 0 {
		return items
	}
	if l < 0 {
		lim := []item{
			{kw: "limit", orig: items[o].orig, ps: []piece{synth("limit", items[o].orig)}},
			{operand: true, orig: items[o].orig, ps: []piece{synth("18446744073709551615", items[o].orig)}},
		}
		return append(items[:o], append(lim, items[o:]...)...)
	}
	if o < l && l+1 < len(items) {
		off := []item{items[o], items[o+1]}
		rest := append([]item{}, items[:o]...)
		rest = append(rest, items[o+2:l+2]...)
		rest = append(rest, off...)
		return append(rest, items[l+2:]...)
	}
	return items
}

// windowTVF rewrites a window table function toks[i..j] (name ( ... )) in
// FROM into a placeholder table name, recording the function.
func (r *rewriter) windowTVF(toks []token, i, j int, flink bool) ([]item, error) {
	name := toks[i]
	kind := windowFuncs[name.Val]
	r.nWindow++
	w := &pendingWindow{
		placeholder: fmt.Sprintf("__window_%d", r.nWindow),
		tvf:         &WindowTVF{Kind: kind, Flink: flink},
	}
	w.tvf.Pos.Line, w.tvf.Pos.Col, _ = lineCol(r.src, name.Pos)
	args := splitTop(toks[i+2 : j])
	errf := func(off int, format string, a ...any) *sqlerr.Error {
		return r.errAt(sqlerr.SyntaxError, off, format, a...).WithHint("%s", windowHint(kind, flink))
	}
	if len(args) < 3 || len(args[0]) == 0 {
		return nil, errf(name.Pos, "%s needs a source, a time column and %s", strings.ToUpper(name.Val), windowArgsText(kind))
	}
	// Source.
	src := args[0]
	if flink {
		if !src[0].is("table") {
			return nil, errf(src[0].Pos, "syntax error at or near %q: expected TABLE source", r.src[src[0].Pos:src[0].End])
		}
		src = src[1:]
		// PARTITION BY keys (SESSION).
		for k := 0; k+1 < len(src); k++ {
			if src[k].is("partition") && src[k+1].is("by") {
				keys := src[k+2:]
				src = src[:k]
				if len(keys) > 0 && keys[0].isPunct("(") && keys[len(keys)-1].isPunct(")") {
					keys = keys[1 : len(keys)-1]
				}
				for _, kt := range splitTop(keys) {
					if len(kt) != 1 || (kt[0].Kind != tIdent && kt[0].Kind != tQIdent) {
						return nil, errf(name.Pos, "PARTITION BY takes column names")
					}
					w.tvf.PartitionBy = append(w.tvf.PartitionBy, kt[0].Val)
				}
				// Further keys were split off as arguments: PARTITION BY a, b.
				for len(args) > 1 && len(args[1]) == 1 && (args[1][0].Kind == tIdent || args[1][0].Kind == tQIdent) {
					w.tvf.PartitionBy = append(w.tvf.PartitionBy, args[1][0].Val)
					args = append(args[:1], args[2:]...)
				}
				break
			}
		}
	}
	switch {
	case len(src) >= 2 && src[0].isPunct("(") && matchClose(src, 0) == len(src)-1:
		w.sub = src[1 : len(src)-1]
	default:
		n, ok := qualifiedName(src)
		if !ok {
			return nil, errf(tc0(src, name).Pos, "the first argument of %s must be a source, table or view name", strings.ToUpper(name.Val))
		}
		w.tvf.Source = n
	}
	if len(args) < 3 {
		return nil, errf(name.Pos, "%s needs a source, a time column and %s", strings.ToUpper(name.Val), windowArgsText(kind))
	}
	// Time column.
	tc := args[1]
	if flink {
		if len(tc) != 4 || !tc[0].is("descriptor") || !tc[1].isPunct("(") || (tc[2].Kind != tIdent && tc[2].Kind != tQIdent) || !tc[3].isPunct(")") {
			return nil, errf(tc0(tc, name).Pos, "expected DESCRIPTOR(time_column)")
		}
		w.tvf.TimeCol = tc[2].Val
	} else {
		if len(tc) != 1 || (tc[0].Kind != tIdent && tc[0].Kind != tQIdent) {
			return nil, errf(tc0(tc, name).Pos, "the second argument of %s must be the time column", strings.ToUpper(name.Val))
		}
		w.tvf.TimeCol = tc[0].Val
	}
	w.args = args[2:]
	min, max := windowArity(kind)
	if len(w.args) < min || len(w.args) > max {
		return nil, errf(name.Pos, "%s takes %s", strings.ToUpper(name.Val), windowArgsText(kind))
	}
	for _, a := range w.args {
		if len(a) == 0 {
			return nil, errf(name.Pos, "empty argument to %s", strings.ToUpper(name.Val))
		}
	}
	r.windows = append(r.windows, w)
	out := []item{{operand: true, orig: name.Pos, ps: []piece{synth(w.placeholder, name.Pos)}}}
	if a := aliasAt(toks, j+1); a != "" {
		w.tvf.Alias = a
	} else if w.tvf.Source != "" {
		// No alias: the window's rows go by the source's name.
		base := w.tvf.Source
		if k := strings.LastIndexByte(base, '.'); k >= 0 {
			base = base[k+1:]
		}
		out = append(out, item{kw: "as", orig: name.Pos, ps: []piece{synth("as", name.Pos)}},
			item{operand: true, orig: name.Pos, ps: []piece{synth(`"`+strings.ReplaceAll(base, `"`, `""`)+`"`, name.Pos)}})
	}
	return out, nil
}

func tc0(tc []token, def token) token {
	if len(tc) > 0 {
		return tc[0]
	}
	return def
}

func windowArity(k WindowKind) (int, int) {
	switch k {
	case Tumble:
		return 1, 2
	case Hop, Cumulate:
		return 2, 3
	}
	return 1, 2
}

func windowArgsText(k WindowKind) string {
	switch k {
	case Tumble:
		return "a size [, offset]"
	case Hop:
		return "a slide and a size [, offset]"
	case Cumulate:
		return "a step and a size [, offset]"
	}
	return "a gap [, maximum duration]"
}

func windowHint(k WindowKind, flink bool) string {
	names := [...]string{"TUMBLE", "HOP", "CUMULATE", "SESSION"}
	n := names[k]
	var args string
	switch k {
	case Tumble:
		args = "INTERVAL '1' MINUTE"
	case Hop:
		args = "INTERVAL '10' SECOND, INTERVAL '1' MINUTE"
	case Cumulate:
		args = "INTERVAL '1' MINUTE, INTERVAL '1' HOUR"
	default:
		args = "INTERVAL '10' SECOND"
	}
	if flink {
		if k == Session {
			return fmt.Sprintf("write TABLE(SESSION(TABLE src PARTITION BY key, DESCRIPTOR(ts), %s))", args)
		}
		return fmt.Sprintf("write TABLE(%s(TABLE src, DESCRIPTOR(ts), %s))", n, args)
	}
	return fmt.Sprintf("write %s(src, ts, %s)", n, args)
}

// qualifiedName reads a whole token run as a possibly qualified name.
func qualifiedName(toks []token) (string, bool) {
	var parts []string
	for k, t := range toks {
		if k%2 == 1 {
			if !t.isPunct(".") {
				return "", false
			}
			continue
		}
		if t.Kind != tIdent && t.Kind != tQIdent {
			return "", false
		}
		parts = append(parts, t.Val)
	}
	if len(parts) == 0 || len(toks)%2 == 0 {
		return "", false
	}
	return strings.Join(parts, "."), true
}

// quoteString renders s as a standard SQL string literal.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// tableFunc rewrites a set-returning function in FROM, starting at
// toks[i], into a placeholder table name aliased to the function's alias
// (or name), and returns the index after it.
func (r *rewriter) tableFunc(toks []token, i int) ([]item, int, error) {
	start := toks[i]
	name := toks[i].Val
	open := i + 1
	if toks[i+1].isPunct(".") {
		if toks[i].Val != "pg_catalog" {
			name = toks[i].Val + "." + toks[i+2].Val
		} else {
			name = toks[i+2].Val
		}
		open = i + 3
	}
	j := matchClose(toks, open)
	if j < 0 {
		return nil, 0, r.errAt(sqlerr.SyntaxError, toks[open].Pos, "syntax error: unbalanced parentheses")
	}
	r.nFunc++
	f := &pendingFunc{placeholder: fmt.Sprintf("__tablefunc_%d", r.nFunc), fn: &TableFunc{Name: name}}
	f.fn.Pos.Line, f.fn.Pos.Col, _ = lineCol(r.src, start.Pos)
	if j > open+1 {
		f.args = splitTop(toks[open+1 : j])
		for _, a := range f.args {
			if len(a) == 0 {
				return nil, 0, r.errAt(sqlerr.SyntaxError, toks[open].Pos, "empty argument to %s", name)
			}
		}
	}
	n := j + 1
	if n+1 < len(toks) && toks[n].is("with") && toks[n+1].is("ordinality") {
		f.fn.WithOrdinality = true
		n += 2
	}
	alias := ""
	if n < len(toks) && toks[n].is("as") {
		n++
		if n >= len(toks) || (toks[n].Kind != tIdent && toks[n].Kind != tQIdent) {
			return nil, 0, r.errAt(sqlerr.SyntaxError, toks[n-1].Pos, "syntax error at or near \"as\"")
		}
		alias = toks[n].Val
		n++
	} else if a := aliasAt(toks, n); a != "" {
		alias = a
		n++
	}
	if alias != "" && n < len(toks) && toks[n].isPunct("(") {
		k := matchClose(toks, n)
		if k < 0 {
			return nil, 0, r.errAt(sqlerr.SyntaxError, toks[n].Pos, "syntax error: unbalanced parentheses")
		}
		for _, c := range splitTop(toks[n+1 : k]) {
			if len(c) != 1 || (c[0].Kind != tIdent && c[0].Kind != tQIdent) {
				return nil, 0, r.errAt(sqlerr.SyntaxError, toks[n].Pos, "syntax error: expected column aliases")
			}
			f.fn.ColumnAliases = append(f.fn.ColumnAliases, c[0].Val)
		}
		n = k + 1
	}
	f.fn.Alias = alias
	if alias == "" {
		alias = name[strings.LastIndexByte(name, '.')+1:]
	}
	r.funcs = append(r.funcs, f)
	return []item{
		{operand: true, orig: start.Pos, ps: []piece{synth(f.placeholder, start.Pos)}},
		{kw: "as", orig: start.Pos, ps: []piece{synth("as", start.Pos)}},
		{operand: true, orig: start.Pos, ps: []piece{synth(`"`+strings.ReplaceAll(alias, `"`, `""`)+`"`, start.Pos)}},
	}, n, nil
}

// orderKeys renders ORDER BY keys of an ordered aggregate as ", k1,
// __desc(k2)".
func (r *rewriter) orderKeys(keys [][]token, closeTok token) ([]piece, error) {
	var ps []piece
	for _, key := range keys {
		if len(key) == 0 {
			return nil, r.errAt(sqlerr.SyntaxError, closeTok.Pos, "syntax error: empty ORDER BY key")
		}
		desc := false
		switch last := key[len(key)-1]; {
		case last.is("desc"):
			desc = true
			key = key[:len(key)-1]
		case last.is("asc"):
			key = key[:len(key)-1]
		}
		if len(key) == 0 {
			return nil, r.errAt(sqlerr.SyntaxError, closeTok.Pos, "syntax error: empty ORDER BY key")
		}
		k, err := r.join(key)
		if err != nil {
			return nil, err
		}
		ps = append(ps, synth(", ", key[0].Pos))
		if desc {
			ps = append(ps, synth("__desc(", key[0].Pos))
		}
		ps = append(ps, k...)
		if desc {
			ps = append(ps, synth(")", key[0].Pos))
		}
	}
	return ps, nil
}

// colAliases is the column alias list of a FROM item: AS alias(c1, c2).
type colAliases struct {
	alias string
	cols  []string
}

// identList reports whether toks is a non-empty comma-separated list of
// plain names.
func identList(toks []token) bool {
	if len(toks) == 0 {
		return false
	}
	for _, c := range splitTop(toks) {
		if len(c) != 1 || (c[0].Kind != tIdent && c[0].Kind != tQIdent) || (c[0].Kind == tIdent && nonCallable[c[0].Val]) {
			return false
		}
	}
	return true
}

// limitLiteral reads a quoted LIMIT (kw "limit", or FETCH) or OFFSET
// count ('10') as the bigint Postgres reads it as, and returns it as a
// number token's text.
func (r *rewriter) limitLiteral(t token, kw string) (string, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(t.Val), 10, 64)
	switch {
	case err != nil:
		return "", r.errAt(sqlerr.InvalidTextRep, t.Pos, "invalid input syntax for type bigint: %q", t.Val)
	case n < 0 && kw == "offset":
		return "", r.errAt(sqlerr.InvalidRowCountInOffset, t.Pos, "OFFSET must not be negative")
	case n < 0:
		return "", r.errAt(sqlerr.InvalidRowCountInLimit, t.Pos, "LIMIT must not be negative")
	}
	return strconv.FormatInt(n, 10), nil
}
