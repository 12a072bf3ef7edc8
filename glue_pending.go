//go:build !sluice_glue

package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-db/sluice/exec/server"
)

// openDatabase is a temporary placeholder until exec/db (the database glue)
// lands; glue.go (build tag sluice_glue) is the real wiring.
func openDatabase(context.Context, server.Config, *slog.Logger, *prometheus.Registry) (server.Deps, error) {
	return server.Deps{}, errors.New("this build has no database yet: build with -tags sluice_glue once exec/db is in")
}
