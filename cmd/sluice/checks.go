package main

import (
	"context"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/gate"
)

func init() {
	// Build every detector as the gate would: reference files must exist
	// and parse.
	configChecks = append(configChecks, func(_ context.Context, cfg *config.Config) config.Errors {
		return gate.CheckDetectors(cfg)
	})
}
