package expr

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// Like is E [NOT] LIKE|ILIKE Pattern with % and _ wildcards and backslash
// as the escape character. A constant pattern is prepared once.
type Like struct {
	E, Pattern Expr
	Fold       bool // ILIKE
	Not        bool
	constPat   *string
}

// NewLike type-checks a LIKE.
func NewLike(e, pat Expr, fold, not bool) (Expr, error) {
	for _, x := range []Expr{e, pat} {
		if k := x.Type().Kind; k != types.Text && k != types.Null {
			return nil, sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s ~~ %s", e.Type(), pat.Type()).
				WithHint("LIKE takes text operands; cast with ::text")
		}
	}
	l := &Like{E: e, Pattern: pat, Fold: fold, Not: not}
	if c, ok := pat.(*Const); ok && !c.V.IsNull() {
		p := c.V.S
		if fold {
			p = strings.ToLower(p)
		}
		l.constPat = &p
	}
	return l, nil
}

// Type implements Expr.
func (l *Like) Type() types.Type { return types.TBool }

// String implements Expr.
func (l *Like) String() string {
	op := " LIKE "
	if l.Fold {
		op = " ILIKE "
	}
	if l.Not {
		op = " NOT" + op
	}
	return "(" + l.E.String() + op + l.Pattern.String() + ")"
}

// Eval implements Expr.
func (l *Like) Eval(ctx *Context, row types.Row) (types.Value, error) {
	v, err := l.E.Eval(ctx, row)
	if err != nil || v.K == types.Null {
		return types.Value{}, err
	}
	var pat string
	if l.constPat != nil {
		pat = *l.constPat
	} else {
		p, err := l.Pattern.Eval(ctx, row)
		if err != nil || p.K == types.Null {
			return types.Value{}, err
		}
		pat = p.S
		if l.Fold {
			pat = strings.ToLower(pat)
		}
	}
	s := v.S
	if l.Fold {
		s = strings.ToLower(s)
	}
	return types.NewBool(likeMatch(s, pat) != l.Not), nil
}

// likeMatch matches s against a LIKE pattern (iterative, with
// backtracking to the last %).
func likeMatch(s, p string) bool {
	si, pi := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			c := p[pi]
			switch {
			case c == '%':
				starP, starS = pi, si
				pi++
				continue
			case c == '_':
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				pi++
				continue
			case c == '\\' && pi+1 < len(p):
				if s[si] == p[pi+1] {
					si++
					pi += 2
					continue
				}
			default:
				if s[si] == c {
					si++
					pi++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		si = starS
		pi = starP + 1
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// Regexp is E [NOT] ~ Pattern (POSIX-style regular expression match, Go
// RE2 syntax); Fold is ~*.
type Regexp struct {
	E, Pattern Expr
	Fold, Not  bool
	re         *regexp.Regexp
}

// NewRegexp type-checks a regular-expression match; a constant pattern is
// compiled now and a bad one is a 2201B error.
func NewRegexp(e, pat Expr, fold, not bool) (Expr, error) {
	for _, x := range []Expr{e, pat} {
		if k := x.Type().Kind; k != types.Text && k != types.Null {
			return nil, sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s ~ %s", e.Type(), pat.Type())
		}
	}
	r := &Regexp{E: e, Pattern: pat, Fold: fold, Not: not}
	if c, ok := pat.(*Const); ok && !c.V.IsNull() {
		re, err := compileRe(c.V.S, fold)
		if err != nil {
			return nil, err
		}
		r.re = re
	}
	return r, nil
}

func compileRe(p string, fold bool) (*regexp.Regexp, error) {
	if fold {
		p = "(?i)" + p
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, &sqlerr.Error{Code: "2201B", Message: "invalid regular expression: " + err.Error(), Err: err}
	}
	return re, nil
}

// Type implements Expr.
func (r *Regexp) Type() types.Type { return types.TBool }

// String implements Expr.
func (r *Regexp) String() string {
	op := " ~ "
	if r.Fold {
		op = " ~* "
	}
	if r.Not {
		op = " !" + op[1:]
	}
	return "(" + r.E.String() + op + r.Pattern.String() + ")"
}

// Eval implements Expr.
func (r *Regexp) Eval(ctx *Context, row types.Row) (types.Value, error) {
	v, err := r.E.Eval(ctx, row)
	if err != nil || v.K == types.Null {
		return types.Value{}, err
	}
	re := r.re
	if re == nil {
		p, err := r.Pattern.Eval(ctx, row)
		if err != nil || p.K == types.Null {
			return types.Value{}, err
		}
		if re, err = compileRe(p.S, r.Fold); err != nil {
			return types.Value{}, err
		}
	}
	return types.NewBool(re.MatchString(v.S) != r.Not), nil
}
