package format

import (
	"fmt"

	"github.com/sluice-db/sluice/sql/types"
)

// NewAvroDecoder returns an Avro decoder for schema.
func NewAvroDecoder(schema types.Schema, opts map[string]string) (Decoder, error) {
	return nil, fmt.Errorf("%w \"avro\": not implemented yet", ErrUnknownFormat)
}
