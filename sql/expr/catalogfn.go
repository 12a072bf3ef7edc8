package expr

import (
	"strings"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// Version is what version() returns: clients parse the PostgreSQL version.
const Version = "PostgreSQL 15.0 (Sluice 0.1 streaming SQL) on x86_64-pc-linux-gnu"

// The catalog and session functions that Postgres clients call (psql \d,
// JDBC, Grafana, pgx). Their defaults need no catalog; a session that can
// answer better (pg_get_viewdef, obj_description) sets Context.Funcs.
func registerCatalog() {
	constFn := func(name string, min, max int, t types.Type, v func(ctx *Context, a []types.Value) types.Value) *FuncDef {
		return &FuncDef{Name: name, Min: min, Max: max, Volatile: true, RetType: t,
			Eval: func(ctx *Context, a []types.Value) (types.Value, error) { return v(ctx, a), nil }}
	}
	yes := func(*Context, []types.Value) types.Value { return types.NewBool(true) }
	null := func(*Context, []types.Value) types.Value { return types.Value{} }
	empty := func(*Context, []types.Value) types.Value { return types.NewText("") }
	user := func(ctx *Context, _ []types.Value) types.Value {
		if ctx == nil || ctx.User == "" {
			return types.NewText("sluice")
		}
		return types.NewText(ctx.User)
	}
	register(
		&FuncDef{Name: "format_type", Min: 2, Max: 2, Args: []types.Kind{kInt, kInt}, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				if a[0].IsNull() {
					return types.Value{}, nil
				}
				return types.NewText(FormatType(uint32(a[0].I), a[1])), nil
			}},
		constFn("pg_get_expr", 2, 3, types.TText, null),
		constFn("pg_table_is_visible", 1, 1, types.TBool, yes),
		constFn("pg_type_is_visible", 1, 1, types.TBool, yes),
		constFn("pg_function_is_visible", 1, 1, types.TBool, yes),
		constFn("pg_get_userbyid", 1, 1, types.TText, user),
		constFn("obj_description", 1, 2, types.TText, null),
		constFn("col_description", 2, 2, types.TText, null),
		constFn("shobj_description", 2, 2, types.TText, null),
		constFn("pg_get_viewdef", 1, 2, types.TText, null),
		constFn("pg_get_indexdef", 1, 3, types.TText, empty),
		constFn("pg_get_constraintdef", 1, 2, types.TText, empty),
		constFn("pg_get_triggerdef", 1, 2, types.TText, empty),
		constFn("pg_get_function_result", 1, 1, types.TText, null),
		constFn("pg_get_function_arguments", 1, 1, types.TText, empty),
		constFn("pg_get_statisticsobjdef_columns", 1, 1, types.TText, null),
		constFn("pg_get_partkeydef", 1, 1, types.TText, null),
		constFn("pg_relation_is_publishable", 1, 1, types.TBool, func(*Context, []types.Value) types.Value { return types.NewBool(false) }),
		constFn("has_table_privilege", 1, 3, types.TBool, yes),
		constFn("has_schema_privilege", 1, 3, types.TBool, yes),
		constFn("has_database_privilege", 1, 3, types.TBool, yes),
		constFn("has_column_privilege", 1, 4, types.TBool, yes),
		constFn("has_function_privilege", 1, 3, types.TBool, yes),
		constFn("has_any_column_privilege", 1, 3, types.TBool, yes),
		constFn("pg_has_role", 1, 3, types.TBool, yes),
		constFn("current_schema", 0, 0, types.TText, func(*Context, []types.Value) types.Value { return types.NewText("public") }),
		// Arrays are not a Sluice type: current_schemas returns the Postgres
		// text form of the array.
		constFn("current_schemas", 1, 1, types.TText, func(*Context, []types.Value) types.Value {
			return types.NewText("{pg_catalog,public}")
		}),
		constFn("current_database", 0, 0, types.TText, func(ctx *Context, _ []types.Value) types.Value {
			if ctx == nil || ctx.Database == "" {
				return types.NewText("sluice")
			}
			return types.NewText(ctx.Database)
		}),
		constFn("current_user", 0, 0, types.TText, user),
		constFn("version", 0, 0, types.TText, func(*Context, []types.Value) types.Value { return types.NewText(Version) }),
		constFn("pg_backend_pid", 0, 0, types.TInt32, func(*Context, []types.Value) types.Value { return types.NewIntKind(types.Int32, 1) }),
		constFn("pg_encoding_to_char", 1, 1, types.TText, func(*Context, []types.Value) types.Value { return types.NewText("UTF8") }),
		constFn("inet_server_port", 0, 0, types.TInt32, null),
		constFn("inet_server_addr", 0, 0, types.TText, null),
		constFn("pg_postmaster_start_time", 0, 0, types.TTimestampTZ, null),
		constFn("pg_is_in_recovery", 0, 0, types.TBool, func(*Context, []types.Value) types.Value { return types.NewBool(false) }),
		constFn("txid_current", 0, 0, types.TInt64, func(*Context, []types.Value) types.Value { return types.NewInt(1) }),
		&FuncDef{Name: "current_setting", Min: 1, Max: 2, Args: []types.Kind{kText, kBool}, Volatile: true, RetType: types.TText,
			Eval: func(ctx *Context, a []types.Value) (types.Value, error) {
				if a[0].IsNull() {
					return types.Value{}, nil
				}
				if ctx != nil && ctx.Setting != nil {
					if v, ok := ctx.Setting(strings.ToLower(a[0].S)); ok {
						return types.NewText(v), nil
					}
				}
				if len(a) == 2 && a[1].Bool() {
					return types.Value{}, nil
				}
				return types.Value{}, sqlerr.New(sqlerr.UndefinedObject, "unrecognized configuration parameter %q", a[0].S)
			}},
		// array_to_string over the text form of an array ("{a,b}").
		&FuncDef{Name: "array_to_string", Min: 2, Max: 3, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				s := strings.TrimSuffix(strings.TrimPrefix(a[0].S, "{"), "}")
				if s == "" {
					return types.NewText(""), nil
				}
				return types.NewText(strings.Join(strings.Split(s, ","), a[1].S)), nil
			}},
		&FuncDef{Name: "to_regclass", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, Volatile: true, RetType: types.TInt64,
			Eval: func(*Context, []types.Value) (types.Value, error) { return types.Value{}, nil }},
	)
	alias("session_user", "current_user")
	alias("user", "current_user")
	alias("current_catalog", "current_database")
	alias("getpgusername", "current_user")
}

// FormatType renders a type OID and typmod as Postgres' format_type does.
func FormatType(oid uint32, typmod types.Value) string {
	t, ok := types.KindFromOID(oid)
	if !ok {
		switch oid {
		case 1042:
			return "character"
		case 1083:
			return "time without time zone"
		case 114:
			return "json"
		case 2950:
			return "uuid"
		case 19:
			return "name"
		case 26:
			return "oid"
		}
		return "???"
	}
	switch oid {
	case types.OIDName:
		return "name"
	case types.OIDOid:
		return "oid"
	case types.OIDRegproc:
		return "regproc"
	}
	if !typmod.IsNull() && typmod.I >= 4 {
		switch t.Kind {
		case types.Numeric:
			m := typmod.I - 4
			t.Precision, t.Scale = int(m>>16), int(m&0xffff)
		case types.Text:
			t.Width = int(typmod.I - 4)
		}
	}
	return t.String()
}
