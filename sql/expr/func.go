package expr

import (
	"sort"
	"strings"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// FuncDef describes a scalar function of the library.
type FuncDef struct {
	Name string
	// Min and Max bound the argument count (Max -1: variadic).
	Min, Max int
	// Args are the parameter kinds; Null accepts any type. When there are
	// more arguments than kinds, the last kind repeats. Arguments of another
	// kind are cast when the cast is implicit-safe (numeric widening, text
	// literals, anything to text); otherwise the call is a 42883 error.
	Args []types.Kind
	// Strict functions return NULL when any argument is NULL, without
	// calling Eval.
	Strict bool
	// Volatile functions depend on the Context (clock, session, catalog)
	// and are never constant-folded.
	Volatile bool
	// Ret computes the result type from the (coerced) argument types; nil
	// means RetType.
	Ret     func(args []types.Type) (types.Type, error)
	RetType types.Type
	Eval    func(ctx *Context, args []types.Value) (types.Value, error)
}

var funcs = map[string]*FuncDef{}

func register(defs ...*FuncDef) {
	for _, d := range defs {
		funcs[d.Name] = d
	}
}

func alias(name, to string) {
	d := *funcs[to]
	d.Name = name
	funcs[name] = &d
}

// LookupFunc returns the scalar function named name (lower-case, without a
// pg_catalog. prefix).
func LookupFunc(name string) (*FuncDef, bool) {
	d, ok := funcs[strings.ToLower(strings.TrimPrefix(name, "pg_catalog."))]
	return d, ok
}

// FuncNames lists the scalar functions, sorted (for hints and docs).
func FuncNames() []string {
	out := make([]string, 0, len(funcs))
	for n := range funcs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Func is a call of a library function.
type Func struct {
	Name string
	Args []Expr
	T    types.Type
	Def  *FuncDef
}

// NewFunc type-checks a call of name over args, inserting casts; an
// unknown name or an argument list no signature takes is a 42883 error.
func NewFunc(name string, args []Expr) (Expr, error) {
	def, ok := LookupFunc(name)
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s does not exist", name).
			WithHint("No function matches the given name and argument types.")
	}
	if len(args) < def.Min || (def.Max >= 0 && len(args) > def.Max) {
		return nil, noSignature(def.Name, args)
	}
	cargs := make([]Expr, len(args))
	argTypes := make([]types.Type, len(args))
	for i, a := range args {
		want := types.Null
		if len(def.Args) > 0 {
			want = def.Args[min(i, len(def.Args)-1)]
		}
		c, err := coerceArg(a, want)
		if err != nil {
			return nil, noSignature(def.Name, args)
		}
		cargs[i] = c
		argTypes[i] = c.Type()
	}
	t := def.RetType
	if def.Ret != nil {
		var err error
		if t, err = def.Ret(argTypes); err != nil {
			return nil, err
		}
	}
	return &Func{Name: def.Name, Args: cargs, T: t, Def: def}, nil
}

func noSignature(name string, args []Expr) error {
	ts := make([]string, len(args))
	for i, a := range args {
		ts[i] = a.Type().String()
	}
	return sqlerr.New(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, strings.Join(ts, ", ")).
		WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

// coerceArg casts a to kind want when that is an implicit conversion.
func coerceArg(a Expr, want types.Kind) (Expr, error) {
	have := a.Type().Kind
	if want == types.Null || have == want || have == types.Null {
		return a, nil
	}
	t := types.Type{Kind: want}
	_, isConst := a.(*Const)
	switch {
	case want == types.Text && have == types.Bytea,
		have.IsNumeric() && want.IsNumeric(),
		have == types.Date && want.IsTime(),
		have.IsTime() && want.IsTime(),
		isConst && have == types.Text:
		return NewCast(a, t)
	}
	return nil, sqlerr.New(sqlerr.UndefinedFunction, "cannot use %s as %s", a.Type(), want)
}

// Type implements Expr.
func (f *Func) Type() types.Type { return f.T }

// String implements Expr.
func (f *Func) String() string { return f.Name + joinArgs(f.Args) }

// Eval implements Expr. Arguments of up to four are gathered without a heap
// allocation when the function does not retain them.
func (f *Func) Eval(ctx *Context, row types.Row) (types.Value, error) {
	var buf [4]types.Value
	args := buf[:0]
	if len(f.Args) > len(buf) {
		args = make([]types.Value, 0, len(f.Args))
	}
	for _, a := range f.Args {
		v, err := a.Eval(ctx, row)
		if err != nil {
			return types.Value{}, err
		}
		if v.K == types.Null && f.Def.Strict {
			return types.Value{}, nil
		}
		args = append(args, v)
	}
	if ctx != nil && ctx.Funcs != nil {
		if h, ok := ctx.Funcs[f.Name]; ok {
			return h(ctx, args)
		}
	}
	return f.Def.Eval(ctx, args)
}
