package pgwire

import (
	"strings"
	"unicode/utf8"
)

// statement is one statement of a simple-query string.
type statement struct {
	text string
	// offset is the number of characters before text in the whole query,
	// added to error positions so they point into what the client sent.
	offset int
}

// splitStatements splits a simple-query string at semicolons outside
// quotes, dollar quotes and comments, dropping empty statements.
func splitStatements(q string) []statement {
	var out []statement
	start := 0
	emit := func(end int) {
		seg := q[start:end]
		trimmed := strings.TrimLeft(seg, " \t\r\n\f")
		lead := len(seg) - len(trimmed)
		trimmed = strings.TrimRight(trimmed, " \t\r\n\f")
		if !onlyComments(trimmed) {
			out = append(out, statement{text: trimmed, offset: utf8.RuneCountInString(q[:start+lead])})
		}
	}
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == '\'':
			escapes := i > 0 && (q[i-1] == 'E' || q[i-1] == 'e') && (i < 2 || !isIdentByte(q[i-2]))
			i = skipQuoted(q, i, '\'', escapes)
		case c == '"':
			i = skipQuoted(q, i, '"', false)
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			i = skipBlockComment(q, i)
		case c == '$' && (i == 0 || !isIdentByte(q[i-1])):
			if tag, ok := dollarTag(q[i:]); ok {
				end := strings.Index(q[i+len(tag):], tag)
				if end < 0 {
					i = len(q)
				} else {
					i += len(tag) + end + len(tag)
				}
			} else {
				i++
			}
		case c == ';':
			emit(i)
			i++
			start = i
		default:
			i++
		}
	}
	emit(len(q))
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// skipQuoted returns the index after the quoted string starting at i.
func skipQuoted(q string, i int, quote byte, escapes bool) int {
	i++
	for i < len(q) {
		switch q[i] {
		case '\\':
			if escapes {
				i += 2
				continue
			}
		case quote:
			if i+1 < len(q) && q[i+1] == quote {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(q)
}

func skipBlockComment(q string, i int) int {
	depth := 0
	for i < len(q) {
		switch {
		case strings.HasPrefix(q[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(q[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return len(q)
}

// dollarTag returns the opening $tag$ at the start of s.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1], true
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || (j > 1 && c >= '0' && c <= '9')) {
			return "", false
		}
	}
	return "", false
}

// onlyComments reports whether s holds nothing but whitespace and comments.
func onlyComments(s string) bool {
	i := 0
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f':
			i++
		case strings.HasPrefix(s[i:], "--"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			i = skipBlockComment(s, i)
		default:
			return false
		}
	}
	return true
}
