package httpingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/sql/types"
)

// Name is the connector name of HTTP push sources.
const Name = "http"

// ErrPushOnly is returned by OpenSource: rows of an http source arrive by
// POST /ingest/{source}, not from a reader.
var ErrPushOnly = errors.New("http sources are push sources: rows arrive by POST /ingest/{source}")

// IsPush reports whether a source of connector name receives rows by push
// (Engine.Insert) rather than from a Reader.
func IsPush(connector string) bool { return strings.EqualFold(connector, Name) }

type connector struct{}

func init() { connectors.Register(connector{}) }

func (connector) Name() string { return Name }

// SourceOptions lists the WITH options of an http source.
func (connector) SourceOptions() []connectors.OptionSpec {
	return []connectors.OptionSpec{
		{Name: "format", Default: "json", Doc: "body format: json (newline-delimited JSON or a JSON array)", Valid: connectors.OneOf("json")},
		{Name: "token", Doc: "bearer token required for POST /ingest/{source} (overrides --ingest-token for this source)", Valid: func(v string) error {
			if strings.TrimSpace(v) == "" || strings.ContainsAny(v, " \t\r\n") {
				return errors.New("must be non-empty and contain no whitespace")
			}
			return nil
		}},
		{Name: "json_missing", Default: "error", Doc: "a missing field of a NOT NULL column: error (reject the row) or null", Valid: connectors.OneOf("error", "null")},
		{Name: "idle_timeout", Doc: "a source silent this long stops holding back the watermark (default --idle-timeout)", Valid: validInterval},
		{Name: "quiet_advance", Doc: "when every input is silent this long, event time advances with the wall clock (default --quiet-advance)", Valid: validInterval},
	}
}

// SinkOptions is nil: http is not a sink.
func (connector) SinkOptions() []connectors.OptionSpec { return nil }

func (connector) OpenSource(context.Context, connectors.SourceSpec) (connectors.Reader, error) {
	return nil, ErrPushOnly
}

func (connector) OpenSink(context.Context, connectors.SinkSpec) (connectors.Sink, error) {
	return nil, fmt.Errorf("connector %q cannot be used as a sink", Name)
}

// validInterval accepts SQL interval text ('5 seconds') and Go durations
// ('5s').
func validInterval(v string) error {
	us, err := types.ParseInterval(v)
	if err != nil {
		d, derr := time.ParseDuration(strings.TrimSpace(v))
		if derr != nil {
			return err
		}
		us = d.Microseconds()
	}
	if us < 0 {
		return errors.New("must not be negative")
	}
	return nil
}
