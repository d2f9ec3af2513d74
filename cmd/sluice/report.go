package main

import (
	"errors"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/gate"
)

// replayReport collects what an HTML report needs.
// TODO(report): the report package replaces this placeholder.
type replayReport struct{}

func newReplayReport(*config.Config, string) *replayReport { return &replayReport{} }
func (r *replayReport) add(gate.Replayed)                  {}
func (r *replayReport) write(string) error {
	return errors.New("--report is not built yet")
}
