package format

import (
	"strings"
	"unicode/utf8"

	"github.com/sluice-db/sluice/sql/types"
)

// CSVDecoder decodes one CSV record per line (RFC 4180 quoting within the
// line; quoted fields cannot span lines in this line-oriented decoder).
// With csv_header = 'true' the first line it sees names the columns; fields
// are then matched by name and the header decodes to ErrSkipRow. Fields are
// parsed with types.ParseText; a field equal to the csv_null text (default
// empty) is NULL.
type CSVDecoder struct {
	schema    types.Schema
	delim     byte
	null      string
	header    bool
	sawHeader bool
	// idx maps a field position to a column index (-1: ignored field).
	idx     []int
	fields  []string
	scratch []byte
	seen    []bool
}

// NewCSVDecoder returns a CSV decoder for schema. Options: csv_header
// ('true'|'false', default false), csv_delimiter (one byte, default ','; 'tab'
// or '\t' for tab), csv_null (default: the empty string).
func NewCSVDecoder(schema types.Schema, opts map[string]string) (*CSVDecoder, error) {
	d := &CSVDecoder{schema: schema, delim: ',', null: opts["csv_null"], seen: make([]bool, len(schema))}
	switch v := opts["csv_header"]; v {
	case "", "false":
	case "true":
		d.header = true
	default:
		return nil, fieldOptError("csv_header", v, "true, false")
	}
	switch v := opts["csv_delimiter"]; {
	case v == "":
	case v == "tab" || v == `\t`:
		d.delim = '\t'
	case len(v) == 1 && v[0] != '"' && v[0] != '\n' && v[0] != '\r':
		d.delim = v[0]
	default:
		return nil, fieldOptError("csv_delimiter", v, "one character other than quote and newline, or 'tab'")
	}
	if !d.header {
		d.idx = make([]int, len(schema))
		for i := range d.idx {
			d.idx[i] = i
		}
	}
	return d, nil
}

// Decode implements Decoder.
func (d *CSVDecoder) Decode(raw []byte, row types.Row) error {
	if len(row) < len(d.schema) {
		return errRowWidth(len(row), len(d.schema))
	}
	raw = trimEOL(raw)
	if err := d.split(raw); err != nil {
		return err
	}
	if d.header && !d.sawHeader {
		d.sawHeader = true
		d.idx = make([]int, len(d.fields))
		for i, f := range d.fields {
			d.idx[i] = d.schema.Index(strings.TrimSpace(f))
		}
		return ErrSkipRow
	}
	for i := range d.seen {
		d.seen[i] = false
		row[i] = types.Value{}
	}
	if !d.header && len(d.fields) != len(d.schema) {
		return wrapDecode("expected %d fields, got %d", len(d.schema), len(d.fields))
	}
	if d.header && len(d.fields) != len(d.idx) {
		return wrapDecode("expected %d fields as in the header, got %d", len(d.idx), len(d.fields))
	}
	for fi, f := range d.fields {
		ci := d.idx[fi]
		if ci < 0 {
			continue
		}
		d.seen[ci] = true
		if f == d.null {
			continue
		}
		c := d.schema[ci]
		v, err := types.ParseText(c.Type, f)
		if err != nil {
			return fieldError(c.Name, "%v", err)
		}
		row[ci] = v
	}
	for i, c := range d.schema {
		if !c.Nullable && row[i].K == types.Null {
			if d.seen[i] {
				return fieldError(c.Name, "null in a NOT NULL column")
			}
			return fieldError(c.Name, "missing in a NOT NULL column")
		}
	}
	return nil
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// split cuts one line into d.fields. Field strings are fresh copies (they
// end up in values that outlive raw).
func (d *CSVDecoder) split(line []byte) error {
	d.fields = d.fields[:0]
	if !utf8.Valid(line) {
		return wrapDecode("line is not valid UTF-8")
	}
	i := 0
	for {
		if i < len(line) && line[i] == '"' {
			d.scratch = d.scratch[:0]
			i++
			for {
				if i >= len(line) {
					return wrapDecode("unterminated quoted field %d", len(d.fields)+1)
				}
				c := line[i]
				if c == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						d.scratch = append(d.scratch, '"')
						i += 2
						continue
					}
					i++
					break
				}
				d.scratch = append(d.scratch, c)
				i++
			}
			d.fields = append(d.fields, string(d.scratch))
			if i == len(line) {
				return nil
			}
			if line[i] != d.delim {
				return wrapDecode("unexpected %q after quoted field %d", line[i], len(d.fields))
			}
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != d.delim {
			if line[j] == '"' {
				return wrapDecode("bare quote in field %d", len(d.fields)+1)
			}
			j++
		}
		d.fields = append(d.fields, string(line[i:j]))
		if j == len(line) {
			return nil
		}
		i = j + 1
	}
}
