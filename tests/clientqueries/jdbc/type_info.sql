-- pgjdbc TypeInfoCache.getSQLTypeQuery: how the driver resolves a type OID it has not seen
-- (sent when a result column has such a type, and by getColumns for every column type).
SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid   FROM pg_catalog.pg_type   LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  WHERE pg_type.oid = $1  ORDER BY sp.r, pg_type.oid DESC;

-- The session setup older pgjdbc versions send as statements (newer ones send them as
-- startup parameters).
SET extra_float_digits = 3;
SET application_name = 'PostgreSQL JDBC Driver';
