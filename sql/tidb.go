package sql

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	// The test driver gives literals (ast.ValueExpr) and parameter markers
	// their concrete types; the planner reads *test_driver.ValueExpr.
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/sluice-db/sluice/sql/sqlerr"
)

// SQLMode is the TiDB SQL mode the normalised text is parsed in:
// "double quotes" are identifiers, backslashes in strings are literal
// characters and || concatenates, as in Postgres.
const SQLMode = mysql.ModeANSIQuotes | mysql.ModeNoBackslashEscapes | mysql.ModePipesAsConcat

// parsers pools TiDB parser objects, which are expensive to build.
var parsers = sync.Pool{New: func() any {
	p := parser.New()
	p.SetSQLMode(SQLMode)
	p.EnableWindowFunc(true)
	return p
}}

// tidbParse parses normalised text with a pooled TiDB parser. TiDB's parser
// can panic on odd input; a panic becomes a syntax error at the start.
func tidbParse(text string) (stmt ast.StmtNode, err error) {
	p := parsers.Get().(*parser.Parser)
	defer func() {
		if rec := recover(); rec != nil {
			// The parser's state is unknown: do not return it to the pool.
			stmt, err = nil, fmt.Errorf("line 1 column 0 near \"%s\" (parser panic: %v)", text, rec)
			return
		}
		parsers.Put(p)
	}()
	return p.ParseOneStmt(text, "", "")
}

// tidbError turns a TiDB parse error on normalised text n into a 42601
// error located in the user's text src.
func tidbError(src string, n *normalised, err error) *sqlerr.Error {
	off := len(n.text)
	msg := err.Error()
	if k := strings.Index(msg, "near \""); k >= 0 {
		rest := msg[k+len("near \""):]
		for o := 0; o <= len(n.text); o++ {
			v := n.text[o:]
			if len(v) > 2048 {
				v = v[:2048]
			}
			if strings.HasPrefix(rest, v+"\"") {
				off = o
				break
			}
		}
	}
	u := n.pm.user(off)
	e := &sqlerr.Error{Code: sqlerr.SyntaxError, Err: err}
	if tok, ok := tokenAt(src, u); ok && u < n.pm.end {
		e.Message = fmt.Sprintf("syntax error at or near %q", tok)
		e.Hint = syntaxHint(src, u, tok)
	} else {
		e.Message = "syntax error at end of input"
		e.Hint = "the statement is incomplete"
		u = n.pm.end
	}
	setPos(e, src, u)
	return e
}

// clauseStarts are keywords that cannot follow a comma in a list.
var clauseStarts = setOf("from where group having order limit offset union intersect except window")

// syntaxHint suggests a fix for a syntax error at byte offset off of src,
// where the token tok starts: a trailing comma before a clause, or a
// reserved word used as a name.
func syntaxHint(src string, off int, tok string) string {
	low := strings.ToLower(tok)
	// The previous token: a punctuation character or a word.
	k := off - 1
	for k >= 0 && isSpace(src[k]) {
		k--
	}
	prevChar := byte(0)
	prevWord := ""
	if k >= 0 {
		prevChar = src[k]
		j := k
		for j >= 0 && isIdentChar(src[j]) {
			j--
		}
		prevWord = strings.ToLower(src[j+1 : k+1])
	}
	if clauseStarts[low] && prevChar == ',' {
		return fmt.Sprintf("remove the comma before %s", strings.ToUpper(low))
	}
	nameExpected := prevChar == ',' || prevChar == '.' || prevWord == "select" || prevWord == "from" ||
		prevWord == "join" || prevWord == "as"
	if nameExpected && !clauseStarts[low] && (reservedWords[low] || nonCallable[low]) {
		return fmt.Sprintf("%s is a reserved word; write it in double quotes (\"%s\") to use it as a name", strings.ToUpper(low), low)
	}
	return ""
}

// reservedWords are the words TiDB's grammar reserves.
var reservedWords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range parser.Keywords {
		if k.Reserved {
			m[strings.ToLower(k.Word)] = true
		}
	}
	return m
}()

// tokenAt returns the text of the token starting at or after byte offset
// off of src.
func tokenAt(src string, off int) (string, bool) {
	if off >= len(src) {
		return "", false
	}
	l := &lexer{src: src, pos: off}
	t, err := l.next()
	if err != nil || t.Kind == tEOF {
		return "", false
	}
	return src[t.Pos:t.End], true
}

// numberParams sets the Order of each parameter marker in stmt (the `?`
// that $n in LIMIT and OFFSET becomes) to n-1, reading n from the user's
// token the marker stands for.
func numberParams(stmt ast.Node, src string, pm *posMap) {
	stmt.Accept(&paramNumberer{src: src, pm: pm})
}

type paramNumberer struct {
	src string
	pm  *posMap
}

func (v *paramNumberer) Enter(n ast.Node) (ast.Node, bool) {
	if m, ok := n.(*test_driver.ParamMarkerExpr); ok {
		if tok, ok := tokenAt(v.src, v.pm.user(m.Offset)); ok && strings.HasPrefix(tok, "$") {
			if k, err := strconv.Atoi(tok[1:]); err == nil && k >= 1 {
				m.Order = k - 1
			}
		}
	}
	return n, false
}

func (v *paramNumberer) Leave(n ast.Node) (ast.Node, bool) { return n, true }
