package pgwire

import (
	"fmt"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"", "[]"},
		{" ; ;; ", "[]"},
		{"select 1", "[{select 1 0}]"},
		{"select 1; select 2;", "[{select 1 0} {select 2 10}]"},
		{"select 'a;b'; select \"x;y\"", "[{select 'a;b' 0} {select \"x;y\" 14}]"},
		{"select 'it''s;'; x", "[{select 'it''s;' 0} {x 17}]"},
		{"select E'\\';'; y", "[{select E'\\';' 0} {y 15}]"},
		{"select $$;$$; select $tag$ ; $ $tag$; z", "[{select $$;$$ 0} {select $tag$ ; $ $tag$ 14} {z 38}]"},
		{"select 1 -- ; c\n; d", "[{select 1 -- ; c 0} {d 18}]"},
		{"/* a; /* nested; */ b; */ select 1; -- only comment", "[{/* a; /* nested; */ b; */ select 1 0}]"},
		{"select 'é'; x", "[{select 'é' 0} {x 12}]"},
		{"select $1; select a$b; c", "[{select $1 0} {select a$b 11} {c 23}]"},
		{"select 'unterminated; x", "[{select 'unterminated; x 0}]"},
	} {
		if got := fmt.Sprint(splitStatements(c.in)); got != c.want {
			t.Errorf("split %q = %s, want %s", c.in, got, c.want)
		}
	}
}
