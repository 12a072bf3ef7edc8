package format

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-db/sluice/sql/types"
)

// Sentinel errors.
var (
	// ErrDecode is wrapped by every error about the content of an event.
	ErrDecode = errors.New("cannot decode event")
	// ErrSkipRow is returned by Decode for an input that was consumed but
	// carries no row (a CSV header line). Callers skip it silently.
	ErrSkipRow = errors.New("input carries no row")
	// ErrUnknownFormat is returned by NewDecoder for a format it lacks.
	ErrUnknownFormat = errors.New("unknown format")
	// ErrBadOption is returned for an invalid format option.
	ErrBadOption = errors.New("invalid format option")
)

// Decoder decodes the raw bytes of one event into row, which has one slot
// per schema column. Decode overwrites every slot of row; on error the
// contents of row are unspecified. raw is not retained after Decode returns.
type Decoder interface {
	Decode(raw []byte, row types.Row) error
}

// Formats lists the format names NewDecoder accepts.
var Formats = []string{"json", "csv", "avro"}

// NewDecoder returns a decoder of format for rows of schema. opts are the
// connector's WITH options; the ones a format reads are documented in the
// package comment (json_missing, csv_header, csv_delimiter, csv_null,
// avro_schema). Unknown options are ignored, so callers can pass all WITH
// options through.
func NewDecoder(format string, schema types.Schema, opts map[string]string) (Decoder, error) {
	switch strings.ToLower(format) {
	case "json", "ndjson":
		return NewJSONDecoder(schema, opts)
	case "csv":
		return NewCSVDecoder(schema, opts)
	case "avro":
		return NewAvroDecoder(schema, opts)
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownFormat, format, strings.Join(Formats, ", "))
}

// fieldError builds the error of one field.
func fieldError(field string, format string, args ...any) error {
	return fmt.Errorf("%w: field %q: %s", ErrDecode, field, fmt.Sprintf(format, args...))
}

func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}

func wrapDecode(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDecode, fmt.Sprintf(format, args...))
}

func errRowWidth(got, want int) error {
	return fmt.Errorf("decode into a row of %d slots: schema has %d columns", got, want)
}

func fieldOptError(name, val, allowed string) error {
	return fmt.Errorf("%w: %s = %q (allowed: %s)", ErrBadOption, name, val, allowed)
}
