package pulsar

import (
	"context"
	"fmt"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
)

// SinkOptions implements connectors.Connector.
func (Connector) SinkOptions() []connectors.OptionSpec { return nil }

// OpenSink implements connectors.Connector.
func (Connector) OpenSink(ctx context.Context, spec connectors.SinkSpec) (connectors.Sink, error) {
	return nil, fmt.Errorf("%w: pulsar sink not written yet", connectors.ErrBadOption)
}

var _ = chunk.Insert
