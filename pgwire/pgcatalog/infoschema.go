package pgcatalog

import (
	"github.com/sluice-db/sluice/sql/types"
)

// tableType is information_schema.tables.table_type of a relkind.
func tableType(relkind string) string {
	switch relkind {
	case "v", "m":
		// Materialized views show as VIEW so that BI tools that list
		// BASE TABLE and VIEW find them.
		return "VIEW"
	case "f":
		return "FOREIGN"
	}
	return "BASE TABLE"
}

// dataType is information_schema.columns.data_type: the SQL name without
// modifiers.
func dataType(t types.Type) string {
	if t.Kind == types.Text && t.Varchar {
		return "character varying"
	}
	return t.Kind.String()
}

func registerInformationSchema() {
	const is = "information_schema"
	register(is, "schemata", "catalog_name name, schema_name name, schema_owner name, default_character_set_catalog name, "+
		"default_character_set_schema name, default_character_set_name name, sql_path text", func(l Lister) [][]any {
		nsRows, _ := Rows("pg_catalog.pg_namespace", l)
		rows := make([][]any, 0, len(nsRows))
		for _, r := range nsRows {
			rows = append(rows, []any{l.Database(), r[1].S, l.User(), nil, nil, nil, nil})
		}
		return rows
	})
	register(is, "tables", "table_catalog name, table_schema name, table_name name, table_type text, "+
		"self_referencing_column_name name, reference_generation text, user_defined_type_catalog name, "+
		"user_defined_type_schema name, user_defined_type_name name, is_insertable_into text, is_typed text, commit_action text",
		func(l Lister) [][]any {
			var rows [][]any
			for _, r := range relations(l) {
				ins := "NO"
				if r.kind == "r" && r.object != nil && r.object.Kind == KindTable {
					ins = "YES"
				}
				rows = append(rows, []any{l.Database(), r.schema, r.name, tableType(r.kind), nil, nil, nil, nil, nil, ins, "NO", nil})
			}
			return rows
		})
	register(is, "views", "table_catalog name, table_schema name, table_name name, view_definition text, check_option text, "+
		"is_updatable text, is_insertable_into text, is_trigger_updatable text, is_trigger_deletable text, "+
		"is_trigger_insertable_into text", func(l Lister) [][]any {
		var rows [][]any
		for _, r := range relations(l) {
			if r.kind == "v" || r.kind == "m" {
				rows = append(rows, []any{l.Database(), r.schema, r.name, defOrNil(viewQuery(r.def)), "NONE", "NO", "NO", "NO", "NO", "NO"})
			}
		}
		return rows
	})
	register(is, "columns", "table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4, "+
		"column_default text, is_nullable text, data_type text, character_maximum_length int4, character_octet_length int4, "+
		"numeric_precision int4, numeric_precision_radix int4, numeric_scale int4, datetime_precision int4, interval_type text, "+
		"interval_precision int4, character_set_catalog name, character_set_schema name, character_set_name name, "+
		"collation_catalog name, collation_schema name, collation_name name, domain_catalog name, domain_schema name, "+
		"domain_name name, udt_catalog name, udt_schema name, udt_name name, scope_catalog name, scope_schema name, "+
		"scope_name name, maximum_cardinality int4, dtd_identifier name, is_self_referencing text, is_identity text, "+
		"identity_generation text, identity_start text, identity_increment text, identity_maximum text, identity_minimum text, "+
		"identity_cycle text, is_generated text, generation_expression text, is_updatable text", func(l Lister) [][]any {
		var rows [][]any
		for _, r := range relations(l) {
			for i, c := range r.cols {
				nullable := "YES"
				if !c.Nullable && r.object != nil {
					nullable = "NO"
				}
				var charMax, octet, prec, radix, scale, dtPrec any
				switch c.Type.Kind {
				case types.Text:
					if c.Type.Width > 0 {
						charMax, octet = c.Type.Width, 4*c.Type.Width
					} else {
						octet = 1073741824
					}
				case types.Int16:
					prec, radix, scale = 16, 2, 0
				case types.Int32:
					prec, radix, scale = 32, 2, 0
				case types.Int64:
					prec, radix, scale = 64, 2, 0
				case types.Float32:
					prec, radix = 24, 2
				case types.Float64:
					prec, radix = 53, 2
				case types.Numeric:
					radix = 10
					if c.Type.Precision > 0 {
						prec, scale = c.Type.Precision, c.Type.Scale
					}
				case types.Date:
					dtPrec = 0
				case types.Timestamp, types.TimestampTZ, types.Interval:
					dtPrec = 6
				}
				udt, _ := TypeName(typeOID(c.Type))
				rows = append(rows, []any{
					l.Database(), r.schema, r.name, c.Name, i + 1,
					nil, nullable, dataType(c.Type), charMax, octet,
					prec, radix, scale, dtPrec, nil,
					nil, nil, nil, nil,
					nil, nil, nil, nil, nil,
					nil, l.Database(), "pg_catalog", udt, nil, nil,
					nil, nil, i + 1, "NO", "NO",
					nil, nil, nil, nil, nil,
					"NO", "NEVER", nil, "NO",
				})
			}
		}
		return rows
	})
	register(is, "table_constraints", "constraint_catalog name, constraint_schema name, constraint_name name, "+
		"table_catalog name, table_schema name, table_name name, constraint_type text, is_deferrable text, "+
		"initially_deferred text, enforced text, nulls_distinct text", nil)
	register(is, "key_column_usage", "constraint_catalog name, constraint_schema name, constraint_name name, "+
		"table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4, "+
		"position_in_unique_constraint int4", nil)
	register(is, "routines", "specific_catalog name, specific_schema name, specific_name name, routine_catalog name, "+
		"routine_schema name, routine_name name, routine_type text, data_type text", func(l Lister) [][]any {
		var rows [][]any
		for _, f := range Functions {
			rt, _ := TypeName(f.Result)
			rows = append(rows, []any{l.Database(), "pg_catalog", f.Name, l.Database(), "pg_catalog", f.Name, "FUNCTION", rt})
		}
		return rows
	})
}
