package sql

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluice-db/sluice/sql/sqlerr"
)

// tokKind is the lexical class of a token.
type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // unquoted identifier or keyword; Val is lower-cased
	tQIdent         // "quoted identifier"; Val is the unquoted name
	tString         // '...', E'...', $$...$$; Val is the decoded value
	tNumber         // 12, 1.5, 1e3, .5
	tParam          // $1; Val is the digits
	tOp             // operator: + - * / < > = ~ ! @ # % ^ & | ? and combinations
	tPunct          // ( ) [ ] , ; . : ::
)

// token is one lexeme of the user's text. Pos and End are byte offsets into
// the whole input given to the lexer.
type token struct {
	Kind     tokKind
	Val      string
	Pos, End int
	// Escape is set for E'..' strings and dollar-quoted strings, whose
	// source text cannot be copied verbatim into the normalised text.
	Escape bool
}

// is reports whether t is the unquoted keyword kw (lower case).
func (t token) is(kw string) bool { return t.Kind == tIdent && t.Val == kw }

// isPunct reports whether t is the punctuation or operator p.
func (t token) isPunct(p string) bool { return (t.Kind == tPunct || t.Kind == tOp) && t.Val == p }

// multi-character operators, longest first.
var multiOps = []string{"->>", "#>>", "!~*", "<=>", "->", "#>", "<=", ">=", "<>", "!=", "||", "!~", "~*", "~~", "@>", "<@", "&&", "<<", ">>"}

const opChars = "+-*/<>=~!@#%^&|?`"

// lexer splits text into tokens, skipping whitespace and comments.
type lexer struct {
	src  string
	pos  int
	toks []token
}

// lex tokenises src. On an unterminated string, identifier or comment it
// returns the tokens read so far and a 42601 error.
func lex(src string) ([]token, error) { return lexInto(src, nil) }

// lexInto is lex appending to toks (which may be a reused buffer).
func lexInto(src string, toks []token) ([]token, error) {
	l := &lexer{src: src, toks: toks}
	for {
		t, err := l.next()
		if err != nil {
			return l.toks, err
		}
		if t.Kind == tEOF {
			return l.toks, nil
		}
		l.toks = append(l.toks, t)
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) errAt(pos int, format string, args ...any) error {
	e := sqlerr.New(sqlerr.SyntaxError, format, args...)
	setPos(e, l.src, pos)
	return e
}

func (l *lexer) next() (token, error) {
	src := l.src
	// Skip whitespace and comments.
	for l.pos < len(src) {
		c := src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.pos++
		case c == '-' && l.pos+1 < len(src) && src[l.pos+1] == '-':
			for l.pos < len(src) && src[l.pos] != '\n' {
				l.pos++
			}
		case c == '/' && l.pos+1 < len(src) && src[l.pos+1] == '*':
			start := l.pos
			depth := 0
			for {
				if l.pos+1 >= len(src) {
					l.pos = len(src)
					return token{}, l.errAt(start, "unterminated /* comment")
				}
				if src[l.pos] == '/' && src[l.pos+1] == '*' {
					depth++
					l.pos += 2
					continue
				}
				if src[l.pos] == '*' && src[l.pos+1] == '/' {
					depth--
					l.pos += 2
					if depth == 0 {
						break
					}
					continue
				}
				l.pos++
			}
		default:
			goto scan
		}
	}
	return token{Kind: tEOF, Pos: len(src), End: len(src)}, nil
scan:
	start := l.pos
	c := src[start]
	switch {
	case (c == 'e' || c == 'E') && start+1 < len(src) && src[start+1] == '\'':
		l.pos++
		val, err := l.quoted('\'', true)
		if err != nil {
			return token{}, err
		}
		return token{Kind: tString, Val: val, Pos: start, End: l.pos, Escape: true}, nil
	case (c == 'n' || c == 'N') && start+1 < len(src) && src[start+1] == '\'':
		l.pos++
		val, err := l.quoted('\'', false)
		if err != nil {
			return token{}, err
		}
		return token{Kind: tString, Val: val, Pos: start, End: l.pos, Escape: true}, nil
	case isIdentStart(c):
		for l.pos < len(src) && isIdentChar(src[l.pos]) {
			l.pos++
		}
		return token{Kind: tIdent, Val: foldASCII(src[start:l.pos]), Pos: start, End: l.pos}, nil
	case c == '"':
		val, err := l.quoted('"', false)
		if err != nil {
			return token{}, err
		}
		if val == "" {
			return token{}, l.errAt(start, "zero-length delimited identifier")
		}
		return token{Kind: tQIdent, Val: val, Pos: start, End: l.pos}, nil
	case c == '`':
		// MySQL-style quoted identifier, accepted for Flink queries.
		val, err := l.quoted('`', false)
		if err != nil {
			return token{}, err
		}
		return token{Kind: tQIdent, Val: val, Pos: start, End: l.pos}, nil
	case c == '\'':
		val, err := l.quoted('\'', false)
		if err != nil {
			return token{}, err
		}
		return token{Kind: tString, Val: val, Pos: start, End: l.pos}, nil
	case c == '$':
		if start+1 < len(src) && isDigit(src[start+1]) {
			l.pos++
			for l.pos < len(src) && isDigit(src[l.pos]) {
				l.pos++
			}
			return token{Kind: tParam, Val: src[start+1 : l.pos], Pos: start, End: l.pos}, nil
		}
		// Dollar quote: $tag$ ... $tag$.
		j := start + 1
		for j < len(src) && src[j] != '$' && isIdentChar(src[j]) {
			j++
		}
		if j < len(src) && src[j] == '$' {
			tag := src[start : j+1]
			end := strings.Index(src[j+1:], tag)
			if end < 0 {
				l.pos = len(src)
				return token{}, l.errAt(start, "unterminated dollar-quoted string")
			}
			val := src[j+1 : j+1+end]
			l.pos = j + 1 + end + len(tag)
			return token{Kind: tString, Val: val, Pos: start, End: l.pos, Escape: true}, nil
		}
		l.pos++
		return token{Kind: tOp, Val: "$", Pos: start, End: l.pos}, nil
	case isDigit(c) || (c == '.' && start+1 < len(src) && isDigit(src[start+1])):
		for l.pos < len(src) && isDigit(src[l.pos]) {
			l.pos++
		}
		if l.pos < len(src) && src[l.pos] == '.' && !(l.pos+1 < len(src) && src[l.pos+1] == '.') {
			l.pos++
			for l.pos < len(src) && isDigit(src[l.pos]) {
				l.pos++
			}
		}
		if l.pos < len(src) && (src[l.pos] == 'e' || src[l.pos] == 'E') {
			j := l.pos + 1
			if j < len(src) && (src[j] == '+' || src[j] == '-') {
				j++
			}
			if j < len(src) && isDigit(src[j]) {
				for j < len(src) && isDigit(src[j]) {
					j++
				}
				l.pos = j
			}
		}
		return token{Kind: tNumber, Val: src[start:l.pos], Pos: start, End: l.pos}, nil
	case c == ':' && start+1 < len(src) && src[start+1] == ':':
		l.pos += 2
		return token{Kind: tPunct, Val: "::", Pos: start, End: l.pos}, nil
	case strings.IndexByte("()[],;.:{}", c) >= 0:
		l.pos++
		return token{Kind: tPunct, Val: src[start:l.pos], Pos: start, End: l.pos}, nil
	case strings.IndexByte(opChars, c) >= 0:
		for _, op := range multiOps {
			if strings.HasPrefix(src[start:], op) {
				l.pos += len(op)
				return token{Kind: tOp, Val: op, Pos: start, End: l.pos}, nil
			}
		}
		l.pos++
		return token{Kind: tOp, Val: src[start:l.pos], Pos: start, End: l.pos}, nil
	}
	_, size := utf8.DecodeRuneInString(src[start:])
	l.pos += size
	return token{}, l.errAt(start, "syntax error at or near %q", src[start:l.pos])
}

// quoted reads a string delimited by q starting at l.pos (the opening
// quote), with doubled quotes as escapes and, when esc is set, backslash
// escapes as in Postgres E” strings.
func (l *lexer) quoted(q byte, esc bool) (string, error) {
	src := l.src
	start := l.pos
	l.pos++
	// Fast path: no doubled quote and no escape before the closing quote.
	for j := start + 1; j < len(src); j++ {
		c := src[j]
		if c == q {
			if j+1 < len(src) && src[j+1] == q {
				break
			}
			l.pos = j + 1
			return src[start+1 : j], nil
		}
		if esc && c == '\\' {
			break
		}
	}
	var b strings.Builder
	for {
		if l.pos >= len(src) {
			if q == '"' {
				return "", l.errAt(start, "unterminated quoted identifier")
			}
			return "", l.errAt(start, "unterminated quoted string")
		}
		c := src[l.pos]
		if c == q {
			if l.pos+1 < len(src) && src[l.pos+1] == q {
				b.WriteByte(q)
				l.pos += 2
				continue
			}
			l.pos++
			return b.String(), nil
		}
		if esc && c == '\\' && l.pos+1 < len(src) {
			l.pos++
			e := src[l.pos]
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'x':
				j := l.pos + 1
				for j < len(src) && j < l.pos+3 && isHex(src[j]) {
					j++
				}
				if j == l.pos+1 {
					b.WriteByte('x')
					break
				}
				n, _ := strconv.ParseUint(src[l.pos+1:j], 16, 8)
				b.WriteByte(byte(n))
				l.pos = j - 1
			case 'u', 'U':
				width := 4
				if e == 'U' {
					width = 8
				}
				j := l.pos + 1
				if j+width <= len(src) {
					if n, err := strconv.ParseUint(src[j:j+width], 16, 32); err == nil {
						b.WriteRune(rune(n))
						l.pos = j + width - 1
						break
					}
				}
				b.WriteByte(e)
			default:
				if e >= '0' && e <= '7' {
					j := l.pos
					for j < len(src) && j < l.pos+3 && src[j] >= '0' && src[j] <= '7' {
						j++
					}
					n, _ := strconv.ParseUint(src[l.pos:j], 8, 16)
					b.WriteByte(byte(n))
					l.pos = j - 1
				} else {
					b.WriteByte(e)
				}
			}
			l.pos++
			continue
		}
		b.WriteByte(c)
		l.pos++
	}
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// lineCol returns the 1-based line, column (in characters) and character
// position of byte offset off in src.
func lineCol(src string, off int) (line, col, char int) {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	line, col = 1, 1
	for i, r := range src[:off] {
		_ = i
		char++
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col, char + 1
}

// setPos fills the position fields of e from byte offset off in src.
func setPos(e *sqlerr.Error, src string, off int) {
	e.Line, e.Col, e.Position = lineCol(src, off)
}

// Split splits text into statements on semicolons outside quotes,
// comments and dollar quotes. Each statement is returned as written,
// without the semicolon and surrounding whitespace; empty statements are
// dropped. Text that does not lex (an unterminated quote) ends up in the
// last statement unchanged.
func Split(text string) []string {
	toks, err := lex(text)
	var out []string
	start := -1
	end := 0
	for _, t := range toks {
		if t.isPunct(";") {
			if start >= 0 {
				out = append(out, text[start:end])
			}
			start = -1
			continue
		}
		if start < 0 {
			start = t.Pos
		}
		end = t.End
	}
	if err != nil {
		// The unterminated part runs to the end of the text.
		if start < 0 {
			start = len(text)
			if len(toks) > 0 {
				start = toks[len(toks)-1].End
			}
			for start < len(text) && (text[start] == ';' || isSpace(text[start])) {
				start++
			}
		}
		if s := strings.TrimSpace(text[start:]); s != "" {
			out = append(out, s)
		}
		return out
	}
	if start >= 0 {
		out = append(out, text[start:end])
	}
	return out
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// foldASCII lower-cases the ASCII letters of an unquoted identifier, as
// Postgres does for UTF-8 input; other characters keep their case. A
// keyword written in upper case (SELECT) folds to a shared string without
// allocating.
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			if len(s) <= 16 {
				var buf [16]byte
				for j := 0; j < len(s); j++ {
					c := s[j]
					if c >= 'A' && c <= 'Z' {
						c += 'a' - 'A'
					}
					buf[j] = c
				}
				if kw, ok := commonKeywords[string(buf[:len(s)])]; ok {
					return kw
				}
			}
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// commonKeywords interns the keywords that queries usually spell in upper
// case, so that lexing them does not allocate.
var commonKeywords = func() map[string]string {
	m := map[string]string{}
	for _, k := range strings.Fields(`select from where and or not in is null true false as on join left
		right inner outer full cross group by order having limit offset asc desc distinct all union
		case when then else end between like ilike exists count sum min max avg insert into values
		create table view materialized source sink drop with set show begin commit rollback
		interval cast any some using natural window over partition fetch first next rows row only
		explain describe subscribe declare cursor close timestamp date time zone at`) {
		m[k] = k
	}
	return m
}()
