// Package format turns the raw bytes of one event (a Pulsar message, a line
// of a file, an HTTP request body line) into a row of a given schema, and a
// row back into bytes for sinks.
//
// NewDecoder builds a Decoder for a format name ("json", "csv", "avro");
// NewJSONEncoder builds the encoder sinks use. Decoding rules shared by every
// connector:
//
//   - JSON: one object per event; fields are matched to columns by name
//     (exact match first, then case-insensitive). A missing field or a JSON
//     null is SQL NULL, or an error for a NOT NULL column (Column.Nullable
//     false) unless the option json_missing = 'null' relaxes that. A value of
//     the wrong JSON type is an error naming the field. TIMESTAMP columns take
//     RFC 3339 text, "YYYY-MM-DD HH:MM:SS[.fff][zone]" text or integer epoch
//     milliseconds. JSONB columns keep the sub-JSON as text. NUMERIC columns
//     take numbers or numeric strings. Unknown fields are ignored.
//   - CSV: one record per line; columns in schema order, or by the names of
//     a header line when csv_header = 'true' (the header line itself decodes
//     to ErrSkipRow). Fields are parsed with the Postgres text input rules
//     (types.ParseText); the csv_null text (default empty) is NULL.
//   - Avro: binary Avro datums (no container header) of the writer schema in
//     the avro_schema option, as Pulsar's AVRO schema type produces them.
//
// The JSON decoder has three paths that decode the same rows: a shape path
// for objects laid out like the last one it decoded (the same bytes between
// values, values of the same kinds: one comparison per key and its
// punctuation, then only the values are parsed), a single-pass path for flat
// objects of numbers, plain strings, booleans and null, and the general
// fastjson path that also words the errors. Tests compare them on random and
// fuzzed input.
//
// A Decoder is not safe for concurrent use: it reuses a parser between calls
// (each goroutine builds its own). Decoders never panic on input; errors wrap
// ErrDecode and name the field and the reason. There are no goroutines and no
// resources to release.
package format
