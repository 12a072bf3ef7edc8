package expr

import (
	"strings"

	"github.com/sluice-db/sluice/sql/types"
)

// Sluice has no array type: arrays (ARRAY[...], current_schemas(),
// catalog columns) are text in Postgres' array output form "{a,b,c}".
// These functions back the front end's __array, __any/__all and
// __subscript rewrites and the #> / #>> JSON path operators.

// ArrayText renders values in Postgres' array text form.
func ArrayText(vals []types.Value) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		if v.IsNull() {
			b.WriteString("NULL")
			continue
		}
		s := v.String()
		if s == "" || strings.ContainsAny(s, ",{}\" \\") || strings.EqualFold(s, "null") {
			s = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
		}
		b.WriteString(s)
	}
	b.WriteByte('}')
	return b.String()
}

// ArrayElems splits Postgres array text ("{a,"b c",NULL}") into elements;
// ok is false for a NULL element.
func ArrayElems(s string) (elems []string, nulls []bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return []string{s}, []bool{false}
	}
	s = s[1 : len(s)-1]
	if s == "" {
		return nil, nil
	}
	var cur strings.Builder
	quoted, inQuote, esc := false, false, false
	flush := func() {
		v := cur.String()
		if !quoted {
			v = strings.TrimSpace(v)
		}
		elems = append(elems, v)
		nulls = append(nulls, !quoted && strings.EqualFold(v, "null"))
		cur.Reset()
		quoted = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			cur.WriteByte(c)
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			inQuote = !inQuote
			quoted = true
		case c == ',' && !inQuote:
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return elems, nulls
}

func init() {
	register(
		&FuncDef{Name: "__array", Min: 0, Max: -1, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return types.NewText(ArrayText(a)), nil
			}},
		&FuncDef{Name: "__array_contains", Min: 2, Max: 2, Args: []types.Kind{kText}, RetType: types.TBool,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				if a[0].IsNull() || a[1].IsNull() {
					return types.Value{}, nil
				}
				elems, nulls := ArrayElems(a[0].S)
				null := false
				for i, e := range elems {
					if nulls[i] {
						null = true
						continue
					}
					if e == a[1].S {
						return types.NewBool(true), nil
					}
				}
				if null {
					return types.Value{}, nil
				}
				return types.NewBool(false), nil
			}},
		&FuncDef{Name: "__subscript", Min: 2, Max: 2, Args: []types.Kind{kAny, kInt}, Strict: true,
			Ret: func(args []types.Type) (types.Type, error) {
				if args[0].Kind == types.JSONB {
					return types.TJSONB, nil
				}
				return types.TText, nil
			},
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				if a[0].K == types.JSONB {
					s, ok := JSONGet(a[0].S, types.NewInt(a[1].I-1))
					if !ok {
						return types.Value{}, nil
					}
					return types.NewJSONB(s), nil
				}
				elems, nulls := ArrayElems(a[0].String())
				i := a[1].I - 1
				if i < 0 || i >= int64(len(elems)) || nulls[i] {
					return types.Value{}, nil
				}
				return types.NewText(elems[i]), nil
			}},
		&FuncDef{Name: "array_length", Min: 2, Max: 2, Args: []types.Kind{kText, kInt}, Strict: true, RetType: types.TInt32,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				elems, _ := ArrayElems(a[0].S)
				if len(elems) == 0 || a[1].I != 1 {
					return types.Value{}, nil
				}
				return types.NewIntKind(types.Int32, int64(len(elems))), nil
			}},
		&FuncDef{Name: "json_get_path", Min: 2, Max: 2, Args: []types.Kind{kAny, kText}, Strict: true, RetType: types.TJSONB,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				s, ok := jsonPath(a[0].S, a[1].S)
				if !ok {
					return types.Value{}, nil
				}
				return types.NewJSONB(s), nil
			}},
		&FuncDef{Name: "json_get_path_text", Min: 2, Max: 2, Args: []types.Kind{kAny, kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				s, ok := jsonPath(a[0].S, a[1].S)
				if !ok {
					return types.Value{}, nil
				}
				t, ok := JSONText(s)
				if !ok {
					return types.Value{}, nil
				}
				return types.NewText(t), nil
			}},
	)
}

func jsonPath(doc, path string) (string, bool) {
	elems, _ := ArrayElems(path)
	cur := doc
	for _, e := range elems {
		key := types.NewText(e)
		if n, err := parseIndex(e); err == nil && strings.HasPrefix(strings.TrimSpace(cur), "[") {
			key = types.NewInt(n)
		}
		next, ok := JSONGet(cur, key)
		if !ok {
			return "", false
		}
		cur = next
	}
	return cur, true
}

func parseIndex(s string) (int64, error) {
	v, err := types.ParseText(types.TInt64, s)
	return v.I, err
}
