package pgcatalog

import (
	"sort"
	"strings"

	"github.com/sluice-db/sluice/sql/types"
)

// settingInfo describes a known setting for pg_settings.
type settingInfo struct {
	unit, category, desc, context, vartype, boot string
}

var knownSettings = map[string]settingInfo{
	"application_name":              {"", "Reporting and Logging / What to Log", "Sets the application name to be reported in statistics and logs.", "user", "string", ""},
	"client_encoding":               {"", "Client Connection Defaults / Locale and Formatting", "Sets the client's character set encoding.", "user", "string", "UTF8"},
	"DateStyle":                     {"", "Client Connection Defaults / Locale and Formatting", "Sets the display format for date and time values.", "user", "string", "ISO, MDY"},
	"IntervalStyle":                 {"", "Client Connection Defaults / Locale and Formatting", "Sets the display format for interval values.", "user", "enum", "postgres"},
	"TimeZone":                      {"", "Client Connection Defaults / Locale and Formatting", "Sets the time zone for displaying and interpreting time stamps.", "user", "string", "UTC"},
	"extra_float_digits":            {"", "Client Connection Defaults / Locale and Formatting", "Sets the number of digits displayed for floating-point values.", "user", "integer", "1"},
	"integer_datetimes":             {"", "Preset Options", "Shows whether datetimes are integer based.", "internal", "bool", "on"},
	"max_connections":               {"", "Connections and Authentication / Connection Settings", "Sets the maximum number of concurrent connections.", "postmaster", "integer", "100"},
	"search_path":                   {"", "Client Connection Defaults / Statement Behavior", "Sets the schema search order for names that are not schema-qualified.", "user", "string", "\"$user\", public"},
	"server_encoding":               {"", "Preset Options", "Shows the server (database) character set encoding.", "internal", "string", "UTF8"},
	"server_version":                {"", "Preset Options", "Shows the server version.", "internal", "string", "15.0 (Sluice 0.1)"},
	"server_version_num":            {"", "Preset Options", "Shows the server version as an integer.", "internal", "integer", "150000"},
	"standard_conforming_strings":   {"", "Version and Platform Compatibility / Previous PostgreSQL Versions", "Causes '...' strings to treat backslashes literally.", "user", "bool", "on"},
	"statement_timeout":             {"ms", "Client Connection Defaults / Statement Behavior", "Sets the maximum allowed duration of any statement.", "user", "integer", "0"},
	"transaction_isolation":         {"", "Client Connection Defaults / Statement Behavior", "Sets the current transaction's isolation level.", "user", "enum", "read committed"},
	"transaction_read_only":         {"", "Client Connection Defaults / Statement Behavior", "Sets the current transaction's read-only status.", "user", "bool", "off"},
	"default_transaction_read_only": {"", "Client Connection Defaults / Statement Behavior", "Sets the default read-only status of new transactions.", "user", "bool", "off"},
	"lc_messages":                   {"", "Client Connection Defaults / Locale and Formatting", "Sets the language in which messages are displayed.", "superuser", "string", "C"},
	"lc_monetary":                   {"", "Client Connection Defaults / Locale and Formatting", "Sets the locale for formatting monetary amounts.", "user", "string", "C"},
	"lc_numeric":                    {"", "Client Connection Defaults / Locale and Formatting", "Sets the locale for formatting numbers.", "user", "string", "C"},
	"lc_time":                       {"", "Client Connection Defaults / Locale and Formatting", "Sets the locale for formatting date and time values.", "user", "string", "C"},
	"block_size":                    {"", "Preset Options", "Shows the size of a disk block.", "internal", "integer", "8192"},
	"max_identifier_length":         {"", "Preset Options", "Shows the maximum identifier length.", "internal", "integer", "63"},
}

func init() {
	register("pg_catalog", "pg_namespace", "oid oid, nspname name, nspowner oid, nspacl aclitem[]", func(l Lister) [][]any {
		rows := [][]any{
			{OIDPgCatalog, "pg_catalog", OIDSuperuser, nil},
			{OIDPublic, "public", OIDSuperuser, nil},
			{OIDInformationSchema, "information_schema", OIDSuperuser, nil},
			{OIDPgToast, "pg_toast", OIDSuperuser, nil},
		}
		seen := map[string]bool{"pg_catalog": true, "public": true, "information_schema": true, "pg_toast": true}
		for _, o := range sortedObjects(l) {
			if s := o.schema(); !seen[s] {
				seen[s] = true
				rows = append(rows, []any{namespaceOID(s), s, OIDSuperuser, nil})
			}
		}
		return rows
	})

	register("pg_catalog", "pg_class", "oid oid, relname name, relnamespace oid, reltype oid, reloftype oid, relowner oid, relam oid, "+
		"relfilenode oid, reltablespace oid, relpages int4, reltuples float4, relallvisible int4, reltoastrelid oid, relhasindex bool, "+
		"relisshared bool, relpersistence char, relkind char, relnatts int2, relchecks int2, relhasrules bool, relhastriggers bool, "+
		"relhassubclass bool, relrowsecurity bool, relforcerowsecurity bool, relispopulated bool, relreplident char, relispartition bool, "+
		"relrewrite oid, relfrozenxid xid, relminmxid xid, relacl aclitem[], reloptions text[], relpartbound pg_node_tree",
		func(l Lister) [][]any {
			var rows [][]any
			for _, r := range relations(l) {
				am := uint32(0)
				if r.kind == "r" || r.kind == "m" {
					am = OIDHeapAM
				}
				rows = append(rows, []any{
					r.oid, r.name, r.namespace, 0, 0, OIDSuperuser, am, 0, 0, 0, -1.0, 0, 0, false,
					false, "p", r.kind, len(r.cols), 0, r.kind == "v", false,
					false, false, false, true, "d", false,
					0, 0, 0, nil, nil, nil,
				})
			}
			return rows
		})

	register("pg_catalog", "pg_attribute", "attrelid oid, attname name, atttypid oid, attstattarget int4, attlen int2, attnum int2, "+
		"attndims int4, attcacheoff int4, atttypmod int4, attbyval bool, attalign char, attstorage char, attcompression char, "+
		"attnotnull bool, atthasdef bool, atthasmissing bool, attidentity char, attgenerated char, attisdropped bool, attislocal bool, "+
		"attinhcount int4, attcollation oid, attacl aclitem[], attoptions text[], attfdwoptions text[], attmissingval anyarray",
		func(l Lister) [][]any {
			var rows [][]any
			for _, r := range relations(l) {
				for i, c := range r.cols {
					oid := typeOID(c.Type)
					t := typesByOID[oid]
					var coll uint32
					if t.collate {
						coll = OIDDefaultCollation
					}
					rows = append(rows, []any{
						r.oid, c.Name, oid, -1, c.Type.Size(), i + 1,
						0, -1, c.Type.Typmod(), t.byval, t.align, t.storage, "",
						!c.Nullable && r.object != nil, false, false, "", "", false, true,
						0, coll, nil, nil, nil, nil,
					})
				}
			}
			return rows
		})

	register("pg_catalog", "pg_type", "oid oid, typname name, typnamespace oid, typowner oid, typlen int2, typbyval bool, typtype char, "+
		"typcategory char, typispreferred bool, typisdefined bool, typdelim char, typrelid oid, typsubscript regproc, typelem oid, "+
		"typarray oid, typinput regproc, typoutput regproc, typreceive regproc, typsend regproc, typmodin regproc, typmodout regproc, "+
		"typanalyze regproc, typalign char, typstorage char, typnotnull bool, typbasetype oid, typtypmod int4, typndims int4, "+
		"typcollation oid, typdefaultbin pg_node_tree, typdefault text, typacl aclitem[]", typeRows)

	register("pg_catalog", "pg_database", "oid oid, datname name, datdba oid, encoding int4, datlocprovider char, datistemplate bool, "+
		"datallowconn bool, datconnlimit int4, datfrozenxid xid, datminmxid xid, dattablespace oid, datcollate text, datctype text, "+
		"daticulocale text, datcollversion text, datacl aclitem[]", func(l Lister) [][]any {
		return [][]any{{OIDDatabase, l.Database(), OIDSuperuser, 6, "c", false, true, -1, 0, 1, OIDDefaultTablespace,
			"C.UTF-8", "C.UTF-8", nil, nil, nil}}
	})

	register("pg_catalog", "pg_settings", "name text, setting text, unit text, category text, short_desc text, extra_desc text, "+
		"context text, vartype text, source text, min_val text, max_val text, enumvals text[], boot_val text, reset_val text, "+
		"sourcefile text, sourceline int4, pending_restart bool", func(l Lister) [][]any {
		vals := map[string]string{}
		for k, info := range knownSettings {
			vals[k] = info.boot
		}
		for k, v := range l.Settings() {
			vals[canonicalSetting(k)] = v
		}
		names := make([]string, 0, len(vals))
		for k := range vals {
			names = append(names, k)
		}
		sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
		rows := make([][]any, 0, len(names))
		for _, n := range names {
			info, ok := knownSettings[n]
			if !ok {
				info = settingInfo{category: "Sluice", context: "user", vartype: "string"}
			}
			unit := any(nil)
			if info.unit != "" {
				unit = info.unit
			}
			source := "default"
			if vals[n] != info.boot {
				source = "session"
			}
			rows = append(rows, []any{n, vals[n], unit, info.category, info.desc, nil, info.context, info.vartype, source,
				nil, nil, nil, info.boot, info.boot, nil, nil, false})
		}
		return rows
	})

	register("pg_catalog", "pg_roles", "rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, "+
		"rolcanlogin bool, rolreplication bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz, rolbypassrls bool, "+
		"rolconfig text[], oid oid", func(l Lister) [][]any {
		return [][]any{{l.User(), true, true, true, true, true, false, -1, "********", nil, true, nil, OIDSuperuser}}
	})
	register("pg_catalog", "pg_authid", "oid oid, rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, "+
		"rolcanlogin bool, rolreplication bool, rolbypassrls bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz",
		func(l Lister) [][]any {
			return [][]any{{OIDSuperuser, l.User(), true, true, true, true, true, false, true, -1, nil, nil}}
		})
	register("pg_catalog", "pg_user", "usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl bool, usebypassrls bool, "+
		"passwd text, valuntil timestamptz, useconfig text[]", func(l Lister) [][]any {
		return [][]any{{l.User(), OIDSuperuser, true, true, false, true, "********", nil, nil}}
	})
	register("pg_catalog", "pg_auth_members", "roleid oid, member oid, grantor oid, admin_option bool", nil)

	register("pg_catalog", "pg_proc", "oid oid, proname name, pronamespace oid, proowner oid, prolang oid, procost float4, "+
		"prorows float4, provariadic oid, prosupport regproc, prokind char, prosecdef bool, proleakproof bool, proisstrict bool, "+
		"proretset bool, provolatile char, proparallel char, pronargs int2, pronargdefaults int2, prorettype oid, proargtypes oidvector, "+
		"proallargtypes oid[], proargmodes char[], proargnames text[], proargdefaults pg_node_tree, protrftypes oid[], prosrc text, "+
		"probin text, prosqlbody pg_node_tree, proconfig text[], proacl aclitem[]", procRows)

	register("pg_catalog", "pg_description", "objoid oid, classoid oid, objsubid int4, description text", func(l Lister) [][]any {
		var rows [][]any
		for _, r := range relations(l) {
			if r.comment != "" {
				rows = append(rows, []any{r.oid, OIDPgClass, 0, r.comment})
			}
		}
		return rows
	})
	register("pg_catalog", "pg_shdescription", "objoid oid, classoid oid, description text", nil)

	register("pg_catalog", "pg_index", "indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique bool, "+
		"indnullsnotdistinct bool, indisprimary bool, indisexclusion bool, indimmediate bool, indisclustered bool, indisvalid bool, "+
		"indcheckxmin bool, indisready bool, indislive bool, indisreplident bool, indkey int2vector, indcollation oidvector, "+
		"indclass oidvector, indoption int2vector, indexprs pg_node_tree, indpred pg_node_tree", nil)
	register("pg_catalog", "pg_constraint", "oid oid, conname name, connamespace oid, contype char, condeferrable bool, "+
		"condeferred bool, convalidated bool, conrelid oid, contypid oid, conindid oid, conparentid oid, confrelid oid, "+
		"confupdtype char, confdeltype char, confmatchtype char, conislocal bool, coninhcount int4, connoinherit bool, conkey int2[], "+
		"confkey int2[], conpfeqop oid[], conppeqop oid[], conffeqop oid[], confdelsetcols int2[], conexclop oid[], conbin pg_node_tree", nil)
	register("pg_catalog", "pg_am", "oid oid, amname name, amhandler regproc, amtype char", func(Lister) [][]any {
		return [][]any{{OIDHeapAM, "heap", "heap_tableam_handler", "t"}, {OIDBtreeAM, "btree", "bthandler", "i"}}
	})
	register("pg_catalog", "pg_attrdef", "oid oid, adrelid oid, adnum int2, adbin pg_node_tree", nil)
	register("pg_catalog", "pg_collation", "oid oid, collname name, collnamespace oid, collowner oid, collprovider char, "+
		"collisdeterministic bool, collencoding int4, collcollate text, collctype text, colliculocale text, collversion text",
		func(Lister) [][]any {
			return [][]any{
				{OIDDefaultCollation, "default", OIDPgCatalog, OIDSuperuser, "d", true, -1, nil, nil, nil, nil},
				{950, "C", OIDPgCatalog, OIDSuperuser, "c", true, -1, "C", "C", nil, nil},
				{951, "POSIX", OIDPgCatalog, OIDSuperuser, "c", true, -1, "POSIX", "POSIX", nil, nil},
			}
		})
	register("pg_catalog", "pg_inherits", "inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool", nil)
	register("pg_catalog", "pg_tablespace", "oid oid, spcname name, spcowner oid, spcacl aclitem[], spcoptions text[]", func(Lister) [][]any {
		return [][]any{{OIDDefaultTablespace, "pg_default", OIDSuperuser, nil, nil}, {OIDGlobalTablespace, "pg_global", OIDSuperuser, nil, nil}}
	})
	register("pg_catalog", "pg_range", "rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid, rngsubopc oid, "+
		"rngcanonical regproc, rngsubdiff regproc", nil)
	register("pg_catalog", "pg_enum", "oid oid, enumtypid oid, enumsortorder float4, enumlabel name", nil)
	register("pg_catalog", "pg_extension", "oid oid, extname name, extowner oid, extnamespace oid, extrelocatable bool, "+
		"extversion text, extconfig oid[], extcondition text[]", func(Lister) [][]any {
		return [][]any{{13500, "plpgsql", OIDSuperuser, OIDPgCatalog, false, "1.0", nil, nil}}
	})
	register("pg_catalog", "pg_language", "oid oid, lanname name, lanowner oid, lanispl bool, lanpltrusted bool, "+
		"lanplcallfoid oid, laninline oid, lanvalidator oid, lanacl aclitem[]", func(Lister) [][]any {
		return [][]any{{12, "internal", OIDSuperuser, false, false, 0, 0, 0, nil}, {14, "sql", OIDSuperuser, false, true, 0, 0, 0, nil}}
	})
	register("pg_catalog", "pg_trigger", "oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid, tgtype int2, "+
		"tgenabled char, tgisinternal bool, tgconstrrelid oid, tgconstrindid oid, tgconstraint oid, tgdeferrable bool, "+
		"tginitdeferred bool, tgnargs int2, tgattr int2vector, tgargs text, tgqual pg_node_tree, tgoldtable name, tgnewtable name", nil)
	register("pg_catalog", "pg_rewrite", "oid oid, rulename name, ev_class oid, ev_type char, ev_enabled char, is_instead bool, "+
		"ev_qual pg_node_tree, ev_action pg_node_tree", nil)
	register("pg_catalog", "pg_depend", "classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, refobjsubid int4, deptype char", nil)
	register("pg_catalog", "pg_policy", "oid oid, polname name, polrelid oid, polcmd char, polpermissive bool, polroles oid[], "+
		"polqual pg_node_tree, polwithcheck pg_node_tree", nil)
	register("pg_catalog", "pg_statistic_ext", "oid oid, stxrelid oid, stxname name, stxnamespace oid, stxowner oid, "+
		"stxstattarget int4, stxkeys int2vector, stxkind char[], stxexprs pg_node_tree", nil)
	register("pg_catalog", "pg_publication", "oid oid, pubname name, pubowner oid, puballtables bool, pubinsert bool, "+
		"pubupdate bool, pubdelete bool, pubtruncate bool, pubviaroot bool", nil)
	register("pg_catalog", "pg_publication_rel", "oid oid, prpubid oid, prrelid oid, prqual pg_node_tree, prattrs int2vector", nil)
	register("pg_catalog", "pg_publication_namespace", "oid oid, pnpubid oid, pnnspid oid", nil)
	register("pg_catalog", "pg_partitioned_table", "partrelid oid, partstrat char, partnatts int2, partdefid oid, "+
		"partattrs int2vector, partclass oidvector, partcollation oidvector, partexprs pg_node_tree", nil)
	register("pg_catalog", "pg_sequence", "seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8, "+
		"seqmin int8, seqcache int8, seqcycle bool", nil)
	register("pg_catalog", "pg_event_trigger", "oid oid, evtname name, evtevent name, evtowner oid, evtfoid oid, "+
		"evtenabled char, evttags text[]", nil)
	register("pg_catalog", "pg_operator", "oid oid, oprname name, oprnamespace oid, oprowner oid, oprkind char, oprcanmerge bool, "+
		"oprcanhash bool, oprleft oid, oprright oid, oprresult oid, oprcom oid, oprnegate oid, oprcode regproc, oprrest regproc, "+
		"oprjoin regproc", nil)
	register("pg_catalog", "pg_opclass", "oid oid, opcmethod oid, opcname name, opcnamespace oid, opcowner oid, opcfamily oid, "+
		"opcintype oid, opcdefault bool, opckeytype oid", nil)
	register("pg_catalog", "pg_cast", "oid oid, castsource oid, casttarget oid, castfunc oid, castcontext char, castmethod char", nil)
	register("pg_catalog", "pg_conversion", "oid oid, conname name, connamespace oid, conowner oid, conforencoding int4, "+
		"contoencoding int4, conproc regproc, condefault bool", nil)
	register("pg_catalog", "pg_foreign_data_wrapper", "oid oid, fdwname name, fdwowner oid, fdwhandler oid, fdwvalidator oid, "+
		"fdwacl aclitem[], fdwoptions text[]", func(Lister) [][]any {
		return [][]any{{OIDForeignWrapper, "sluice_sink", OIDSuperuser, 0, 0, nil, nil}}
	})
	register("pg_catalog", "pg_foreign_server", "oid oid, srvname name, srvowner oid, srvfdw oid, srvtype text, srvversion text, "+
		"srvacl aclitem[], srvoptions text[]", func(Lister) [][]any {
		return [][]any{{OIDForeignServer, "sluice_sinks", OIDSuperuser, OIDForeignWrapper, nil, nil, nil, nil}}
	})
	register("pg_catalog", "pg_foreign_table", "ftrelid oid, ftserver oid, ftoptions text[]", func(l Lister) [][]any {
		var rows [][]any
		for _, o := range sortedObjects(l) {
			if relkind(o.Kind) == "f" {
				rows = append(rows, []any{ObjectOID(o), OIDForeignServer, nil})
			}
		}
		return rows
	})

	view := func(schema, name, cols string, rows func(Lister) [][]any) {
		register(schema, name, cols, rows).view = true
	}

	view("pg_catalog", "pg_tables", "schemaname name, tablename name, tableowner name, tablespace name, hasindexes bool, "+
		"hasrules bool, hastriggers bool, rowsecurity bool", func(l Lister) [][]any {
		var rows [][]any
		for _, r := range relations(l) {
			if r.kind == "r" {
				rows = append(rows, []any{r.schema, r.name, l.User(), nil, false, false, false, false})
			}
		}
		return rows
	})
	view("pg_catalog", "pg_views", "schemaname name, viewname name, viewowner name, definition text", func(l Lister) [][]any {
		var rows [][]any
		for _, r := range relations(l) {
			if r.kind == "v" {
				rows = append(rows, []any{r.schema, r.name, l.User(), defOrNil(viewQuery(r.def))})
			}
		}
		return rows
	})
	view("pg_catalog", "pg_matviews", "schemaname name, matviewname name, matviewowner name, tablespace name, hasindexes bool, "+
		"ispopulated bool, definition text", func(l Lister) [][]any {
		var rows [][]any
		for _, r := range relations(l) {
			if r.kind == "m" {
				rows = append(rows, []any{r.schema, r.name, l.User(), nil, false, true, defOrNil(viewQuery(r.def))})
			}
		}
		return rows
	})
	view("pg_catalog", "pg_stat_activity", "datid oid, datname name, pid int4, leader_pid int4, usesysid oid, usename name, "+
		"application_name text, client_addr inet, client_hostname text, client_port int4, backend_start timestamptz, "+
		"xact_start timestamptz, query_start timestamptz, state_change timestamptz, wait_event_type text, wait_event text, "+
		"state text, backend_xid xid, backend_xmin xid, query_id int8, query text, backend_type text", func(l Lister) [][]any {
		al, ok := l.(ActivityLister)
		if !ok {
			return nil
		}
		var rows [][]any
		for _, a := range al.Activity() {
			var qs any
			if a.QueryStart != 0 {
				qs = a.QueryStart
			}
			rows = append(rows, []any{OIDDatabase, a.Database, a.PID, nil, OIDSuperuser, a.User, a.ApplicationName,
				nilIfEmpty(a.ClientAddr), nil, nil, a.BackendStart, nil, qs, qs, nil, nil, a.State, nil, nil, nil, a.Query,
				"client backend"})
		}
		return rows
	})
	view("pg_catalog", "pg_timezone_names", "name text, abbrev text, utc_offset text, is_dst bool", func(Lister) [][]any {
		return [][]any{{"UTC", "UTC", "00:00:00", false}}
	})

	registerInformationSchema()
}

func defOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// canonicalSetting spells a setting as pg_settings names it.
func canonicalSetting(k string) string {
	for name := range knownSettings {
		if strings.EqualFold(name, k) {
			return name
		}
	}
	return strings.ToLower(k)
}

// Functions lists the functions pg_proc shows: the SQL functions clients
// probe for (name, argument type OIDs, result type OID).
var Functions = []struct {
	Name   string
	Args   []uint32
	Result uint32
}{
	{"version", nil, 25},
	{"current_database", nil, 19},
	{"current_schema", nil, 19},
	{"current_user", nil, 19},
	{"current_setting", []uint32{25}, 25},
	{"set_config", []uint32{25, 25, 16}, 25},
	{"format_type", []uint32{26, 23}, 25},
	{"pg_get_expr", []uint32{194, 26}, 25},
	{"pg_get_viewdef", []uint32{26}, 25},
	{"pg_table_is_visible", []uint32{26}, 16},
	{"pg_type_is_visible", []uint32{26}, 16},
	{"pg_get_userbyid", []uint32{26}, 19},
	{"has_table_privilege", []uint32{25, 25}, 16},
	{"has_schema_privilege", []uint32{25, 25}, 16},
	{"has_database_privilege", []uint32{25, 25}, 16},
	{"obj_description", []uint32{26, 19}, 25},
	{"col_description", []uint32{26, 23}, 25},
	{"quote_ident", []uint32{25}, 25},
	{"array_to_string", []uint32{2277, 25}, 25},
	{"now", nil, 1184},
	{"pg_sleep", []uint32{701}, 2278},
	{"pg_backend_pid", nil, 23},
	{"pg_encoding_to_char", []uint32{23}, 19},
	{"count", []uint32{2283}, 20},
	{"sum", []uint32{701}, 701},
	{"avg", []uint32{701}, 701},
	{"min", []uint32{2283}, 2283},
	{"max", []uint32{2283}, 2283},
	{"date_trunc", []uint32{25, 1184}, 1184},
	{"to_timestamp", []uint32{701}, 1184},
	{"tumble", []uint32{2249, 1184, 1186}, 2249},
	{"hop", []uint32{2249, 1184, 1186, 1186}, 2249},
}

func procRows(Lister) [][]any {
	rows := make([][]any, 0, len(Functions))
	for i, f := range Functions {
		args := make([]string, len(f.Args))
		for j, a := range f.Args {
			args[j] = types.NewInt(int64(a)).String()
		}
		kind := "f"
		switch f.Name {
		case "count", "sum", "avg", "min", "max":
			kind = "a"
		}
		rows = append(rows, []any{
			uint32(13600 + i), f.Name, OIDPgCatalog, OIDSuperuser, 12, 1.0, 0.0, 0, "-", kind, false, false, true,
			false, "s", "s", len(f.Args), 0, f.Result, strings.Join(args, " "),
			nil, nil, nil, nil, nil, f.Name, nil, nil, nil, nil,
		})
	}
	return rows
}
