package sql

import (
	"strconv"
	"strings"
	"sync"
)

// LiteralKind is the type a literal of a query would get if it stayed a
// constant: the planner types an integer that fits in 32 bits as int4, a
// larger one as int8, a decimal (or an integer beyond int8) as numeric, a
// number with an exponent as float8 and a quoted string as an untyped
// ("unknown") literal that takes the type of what it is compared with.
type LiteralKind uint8

// The literal kinds of Parameterized.Literals.
const (
	LitInt4 LiteralKind = iota + 1
	LitInt8
	LitNumeric
	LitFloat8
	LitString
)

// String returns the kind's short name, as used in Parameterized.Key.
func (k LiteralKind) String() string {
	switch k {
	case LitInt4:
		return "int4"
	case LitInt8:
		return "int8"
	case LitNumeric:
		return "numeric"
	case LitFloat8:
		return "float8"
	case LitString:
		return "unknown"
	}
	return "?"
}

// Literal is one literal that Parameterize replaced by a parameter.
type Literal struct {
	Kind LiteralKind
	// Text is the number as written, or the string's decoded value.
	Text string
}

// Parameterized is a query with some literals replaced by parameters
// (auto-parameterisation): Text is the query with $1..$n in place of
// Literals[0..n-1].
type Parameterized struct {
	Text     string
	Literals []Literal
	// Key identifies the query shape: Text and the literals' kinds. Two
	// queries with the same Key differ only in the values of the
	// replaced literals.
	Key string
}

// Parameterize replaces the literals of a plain SELECT that sit in
// positions where the value cannot change the statement's shape or types
// by parameters $1..$n. It is conservative: a literal is replaced only
// when it is the right operand of a comparison (=, <>, !=, <, <=, >, >=)
// in a WHERE clause whose left operand is a bare (possibly qualified)
// column name at the start of a conjunct or disjunct, and the literal ends
// the comparison (it is followed by AND, OR, ORDER, GROUP, LIMIT, OFFSET,
// a closing parenthesis or the end of the statement). Typed literals
// (DATE '...'), casts, INTERVAL literals, negative numbers, LIMIT/OFFSET,
// function arguments and everything outside WHERE stay as written. Text
// that holds $n parameters already, several statements, or no replaceable
// literal gives ok = false.
//
// The caller must still check that the planned statement uses each
// parameter only where a constant would plan the same way (the planner
// decides which rules look at constants); see planner.AutoParamSafe.
func Parameterize(text string) (p Parameterized, ok bool) {
	if !startsWithSelect(text) {
		return p, false // skip lexing what cannot qualify
	}
	bufp := tokPool.Get().(*[]token)
	defer func() {
		clear(*bufp)
		tokPool.Put(bufp)
	}()
	toks, err := lexInto(text, (*bufp)[:0])
	*bufp = toks[:0]
	if err != nil || len(toks) == 0 || !toks[0].is("select") {
		return p, false
	}
	if last := len(toks) - 1; toks[last].isPunct(";") {
		toks = toks[:last]
	}
	type frame struct{ clause string }
	stack := []frame{{clause: "select"}}
	var b strings.Builder
	b.Grow(len(text) + 16)
	copied := 0
	for i, t := range toks {
		top := &stack[len(stack)-1]
		switch t.Kind {
		case tParam:
			return p, false
		case tPunct:
			switch t.Val {
			case ";":
				return p, false
			case "(":
				clause := ""
				if top.clause == "where" && i > 0 && (isBoolJoin(toks[i-1]) || toks[i-1].isPunct("(")) {
					clause = "where" // a grouping parenthesis inside WHERE
				}
				stack = append(stack, frame{clause: clause})
			case ")":
				if len(stack) == 1 {
					return p, false
				}
				stack = stack[:len(stack)-1]
			}
			continue
		case tIdent:
			if clauseKeywords[t.Val] {
				top.clause = t.Val
			}
			continue
		case tNumber, tString:
		default:
			continue
		}
		if top.clause != "where" || !literalSlot(toks, i) {
			continue
		}
		kind := LitString
		if t.Kind == tNumber {
			kind = numberKind(t.Val)
		}
		b.WriteString(text[copied:t.Pos])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(len(p.Literals) + 1))
		copied = t.End
		p.Literals = append(p.Literals, Literal{Kind: kind, Text: t.Val})
	}
	if len(stack) != 1 || len(p.Literals) == 0 {
		return Parameterized{}, false
	}
	b.WriteString(text[copied:])
	n := b.Len()
	for _, l := range p.Literals {
		b.WriteByte(0)
		b.WriteString(l.Kind.String())
	}
	p.Key = b.String()
	p.Text = p.Key[:n]
	return p, true
}

// startsWithSelect reports whether text begins with the keyword SELECT
// after white space.
func startsWithSelect(text string) bool {
	t := strings.TrimLeft(text, " \t\r\n\f\v")
	return len(t) > 6 && strings.EqualFold(t[:6], "select") && !isIdentChar(t[6])
}

// tokPool recycles token buffers of Parameterize.
var tokPool = sync.Pool{New: func() any { s := make([]token, 0, 32); return &s }}

// clauseKeywords start a clause of a query: a literal is replaced only in
// the WHERE clause of its (sub)query.
var clauseKeywords = map[string]bool{
	"select": true, "from": true, "where": true, "group": true, "having": true, "order": true,
	"limit": true, "offset": true, "fetch": true, "for": true, "window": true, "union": true,
	"intersect": true, "except": true, "on": true, "join": true, "using": true, "values": true,
	"into": true, "returning": true, "with": true, "emit": true,
}

// notColumns are keywords that can stand where a column name would but
// are not one.
var notColumns = map[string]bool{
	"null": true, "true": true, "false": true, "end": true, "not": true, "all": true, "any": true,
	"some": true, "exists": true, "default": true, "array": true, "then": true, "else": true,
	"when": true, "case": true, "current_date": true, "current_timestamp": true, "current_time": true,
	"localtime": true, "localtimestamp": true, "current_user": true, "session_user": true,
	"user": true, "current_role": true, "current_schema": true, "current_catalog": true,
	"interval": true, "distinct": true, "and": true, "or": true, "where": true, "is": true,
}

var cmpTokens = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

// literalFollowers may follow a replaceable literal.
var literalFollowers = map[string]bool{"and": true, "or": true, "order": true, "group": true, "limit": true, "offset": true}

func isBoolJoin(t token) bool { return t.is("where") || t.is("and") || t.is("or") }

// literalSlot reports whether toks[i] is the right operand of
// `column op literal` standing alone between boolean connectives.
func literalSlot(toks []token, i int) bool {
	if i+1 < len(toks) {
		n := toks[i+1]
		if !(n.isPunct(")") || (n.Kind == tIdent && literalFollowers[n.Val])) {
			return false
		}
	}
	if i < 3 {
		return false
	}
	if op := toks[i-1]; op.Kind != tOp || !cmpTokens[op.Val] {
		return false
	}
	j := i - 2 // the column name, possibly qualified: a.b.c
	for {
		c := toks[j]
		if c.Kind != tQIdent && (c.Kind != tIdent || notColumns[c.Val]) {
			return false
		}
		if j >= 2 && toks[j-1].isPunct(".") {
			j -= 2
			continue
		}
		break
	}
	if j < 1 {
		return false
	}
	prev := toks[j-1]
	return isBoolJoin(prev) || prev.isPunct("(")
}

// numberKind types a numeric literal as the TiDB parser and the planner
// do when it stays a constant.
func numberKind(s string) LiteralKind {
	if strings.ContainsAny(s, "eE") {
		return LitFloat8
	}
	if strings.ContainsRune(s, '.') {
		return LitNumeric
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		return LitNumeric
	case n >= -1<<31 && n < 1<<31:
		return LitInt4
	}
	return LitInt8
}
