package format

import (
	"fmt"

	"github.com/sluice-db/sluice/sql/types"
)

// NewCSVDecoder returns a CSV decoder for schema.
func NewCSVDecoder(schema types.Schema, opts map[string]string) (Decoder, error) {
	return nil, fmt.Errorf("%w \"csv\": not implemented yet", ErrUnknownFormat)
}
