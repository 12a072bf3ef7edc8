package expr

import (
	"fmt"
	"strings"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// maxSeries bounds generate_series so that a typo cannot exhaust memory.
const maxSeries = 10_000_000

// TableFuncType returns the column type of the table function name over
// args of the given types, and whether name is set-returning. A scalar
// function (not set-returning) in FROM is planned as "__scalar" over the
// bound call.
func TableFuncType(name string, args []types.Type) (types.Type, bool, error) {
	switch name {
	case "unnest":
		if len(args) != 1 {
			return types.Type{}, true, sqlerr.New(sqlerr.UndefinedFunction, "unnest takes one array")
		}
		return types.TText, true, nil
	case "generate_series":
		if len(args) < 2 || len(args) > 3 {
			return types.Type{}, true, sqlerr.New(sqlerr.UndefinedFunction, "generate_series takes a start, a stop and an optional step")
		}
		switch {
		case args[0].Kind.IsTime() || args[0].Kind == types.Date:
			if len(args) != 3 {
				return types.Type{}, true, sqlerr.New(sqlerr.UndefinedFunction, "generate_series over timestamps needs an interval step")
			}
			return types.Type{Kind: args[0].Kind}, true, nil
		case args[0].Kind == types.Int32 && args[1].Kind == types.Int32:
			return types.TInt32, true, nil
		}
		return types.TInt64, true, nil
	}
	return types.Type{}, false, nil
}

// TableFuncRows evaluates a table function (see plan.TableFunc).
func TableFuncRows(ctx *Context, name string, args []Expr, ordinality bool) ([]types.Row, error) {
	vals := make([]types.Value, len(args))
	for i, a := range args {
		v, err := a.Eval(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("evaluate %s argument: %w", name, err)
		}
		vals[i] = v
	}
	var out []types.Row
	add := func(v types.Value) {
		r := types.Row{v}
		if ordinality {
			r = append(r, types.NewInt(int64(len(out)+1)))
		}
		out = append(out, r)
	}
	switch name {
	case "__scalar":
		add(vals[0])
	case "unnest":
		if vals[0].IsNull() {
			return nil, nil
		}
		elems, nulls := ArrayElems(vals[0].String())
		for i, e := range elems {
			if nulls[i] {
				add(types.Value{})
			} else {
				add(types.NewText(e))
			}
		}
	case "generate_series":
		for _, v := range vals {
			if v.IsNull() {
				return nil, nil
			}
		}
		if vals[0].K.IsTime() || vals[0].K == types.Date {
			start, stop, step := vals[0].I, vals[1].I, vals[2].I
			if vals[0].K == types.Date {
				start *= types.MicrosPerDay
			}
			if vals[1].K == types.Date {
				stop *= types.MicrosPerDay
			}
			if step == 0 {
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "step size cannot equal zero")
			}
			k := vals[0].K
			if k == types.Date {
				k = types.Timestamp
			}
			for t := start; (step > 0 && t <= stop) || (step < 0 && t >= stop); t += step {
				if len(out) >= maxSeries {
					return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "generate_series produces more than %d rows", maxSeries)
				}
				add(types.Value{K: k, I: t})
			}
			return out, nil
		}
		start, stop, step := vals[0].I, vals[1].I, int64(1)
		if len(vals) == 3 {
			step = vals[2].I
		}
		if step == 0 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "step size cannot equal zero")
		}
		k := types.Int64
		if vals[0].K == types.Int32 && vals[1].K == types.Int32 {
			k = types.Int32
		}
		for i := start; (step > 0 && i <= stop) || (step < 0 && i >= stop); i += step {
			if len(out) >= maxSeries {
				return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "generate_series produces more than %d rows", maxSeries)
			}
			add(types.Value{K: k, I: i})
		}
	default:
		return nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s is not a table function", name)
	}
	return out, nil
}

func init() {
	register(
		&FuncDef{Name: "string_to_array", Min: 2, Max: 3, Args: []types.Kind{kText}, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				if a[0].IsNull() {
					return types.Value{}, nil
				}
				var parts []string
				if a[1].IsNull() {
					for _, r := range a[0].S {
						parts = append(parts, string(r))
					}
				} else if a[1].S == "" {
					parts = []string{a[0].S}
				} else {
					parts = strings.Split(a[0].S, a[1].S)
				}
				vals := make([]types.Value, len(parts))
				for i, p := range parts {
					if len(a) == 3 && !a[2].IsNull() && p == a[2].S {
						continue
					}
					vals[i] = types.NewText(p)
				}
				return types.NewText(ArrayText(vals)), nil
			}},
		&FuncDef{Name: "array_lower", Min: 2, Max: 2, Args: []types.Kind{kText, kInt}, Strict: true, RetType: types.TInt32,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				elems, _ := ArrayElems(a[0].S)
				if len(elems) == 0 || a[1].I != 1 {
					return types.Value{}, nil
				}
				return types.NewIntKind(types.Int32, 1), nil
			}},
		&FuncDef{Name: "array_upper", Min: 2, Max: 2, Args: []types.Kind{kText, kInt}, Strict: true, RetType: types.TInt32,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				elems, _ := ArrayElems(a[0].S)
				if len(elems) == 0 || a[1].I != 1 {
					return types.Value{}, nil
				}
				return types.NewIntKind(types.Int32, int64(len(elems))), nil
			}},
		&FuncDef{Name: "cardinality", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, RetType: types.TInt32,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				elems, _ := ArrayElems(a[0].S)
				return types.NewIntKind(types.Int32, int64(len(elems))), nil
			}},
		// __regclass, __regnamespace: 'name'::regclass. A session that knows
		// the catalog's OIDs supplies them through Context.Funcs; by default
		// only the fixed schema OIDs are known.
		&FuncDef{Name: "__regclass", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, Volatile: true, RetType: types.TInt64,
			Eval: func(*Context, []types.Value) (types.Value, error) { return types.Value{}, nil }},
		&FuncDef{Name: "__regtype", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, Volatile: true, RetType: types.TInt64,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				name := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(a[0].S)), "pg_catalog.")
				if i := strings.IndexByte(name, '('); i >= 0 {
					name = strings.TrimSpace(name[:i])
				}
				k, ok := types.ParseTypeName(name)
				if !ok {
					return types.Value{}, sqlerr.New(sqlerr.UndefinedObject, "type %q does not exist", a[0].S)
				}
				t := types.Type{Kind: k, Varchar: strings.HasPrefix(name, "varchar") || strings.HasPrefix(name, "character varying")}
				return types.NewInt(int64(t.OID())), nil
			}},
		&FuncDef{Name: "__regnamespace", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, Volatile: true, RetType: types.TInt64,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				switch strings.ToLower(a[0].S) {
				case "pg_catalog":
					return types.NewInt(11), nil
				case "public":
					return types.NewInt(2200), nil
				}
				return types.Value{}, nil
			}},
	)
}
