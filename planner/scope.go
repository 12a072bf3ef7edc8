package planner

import (
	"sort"
	"strings"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// col is one column visible to name resolution.
type col struct {
	table  string // qualifier: alias or relation name, lower-case ("" none)
	name   string
	t      types.Type
	hidden bool
}

// scope is the list of columns an expression is bound against, in the
// order of the rows it will be evaluated over.
type scope struct {
	cols   []col
	parent *scope // the enclosing query, for correlated subqueries
	// correlated is set when a sub-scope resolved a name in this scope's
	// parents (shared by the whole subquery).
	correlated *bool
}

func scopeOf(table string, s types.Schema) *scope {
	sc := &scope{}
	for _, c := range s {
		sc.cols = append(sc.cols, col{table: strings.ToLower(table), name: c.Name, t: c.Type, hidden: c.Hidden})
	}
	return sc
}

func (s *scope) schema() types.Schema {
	out := make(types.Schema, len(s.cols))
	for i, c := range s.cols {
		out[i] = types.Column{Name: c.name, Type: c.t, Nullable: true, Hidden: c.hidden}
	}
	return out
}

func (s *scope) concat(o *scope) *scope {
	out := &scope{parent: s.parent, correlated: s.correlated}
	out.cols = append(append(out.cols, s.cols...), o.cols...)
	return out
}

// find returns the index of table.name in s, -1 when absent; two matches
// are an ambiguity error.
func (s *scope) find(table, name string) (int, error) {
	found := -1
	for i, c := range s.cols {
		if !strings.EqualFold(c.name, name) {
			continue
		}
		if table != "" && !strings.EqualFold(c.table, table) {
			continue
		}
		if found >= 0 {
			return -1, sqlerr.New(sqlerr.AmbiguousColumn, "column reference %q is ambiguous", name)
		}
		found = i
	}
	return found, nil
}

func (s *scope) hasTable(table string) bool {
	for _, c := range s.cols {
		if strings.EqualFold(c.table, table) {
			return true
		}
	}
	return false
}

// undefinedColumn is the 42703 error with a hint naming close matches.
func (s *scope) undefinedColumn(table, name string) error {
	full := name
	if table != "" {
		full = table + "." + name
	}
	e := sqlerr.New(sqlerr.UndefinedColumn, "column %q does not exist", full)
	var cands []string
	for sc := s; sc != nil; sc = sc.parent {
		for _, c := range sc.cols {
			if c.hidden {
				continue
			}
			if d := editDistance(strings.ToLower(c.name), strings.ToLower(name)); d <= max(2, len(name)/3) {
				q := c.name
				if c.table != "" {
					q = c.table + "." + c.name
				}
				cands = append(cands, q)
			}
		}
	}
	if table != "" && !s.hasTable(table) {
		e.Hint = "There is no table or alias named " + table + " in this query."
	}
	if len(cands) > 0 {
		sort.Strings(cands)
		cands = dedupStrings(cands)
		if len(cands) > 5 {
			cands = cands[:5]
		}
		e.Hint = "Perhaps you meant " + strings.Join(cands, ", ") + "."
	}
	return e
}

func dedupStrings(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
