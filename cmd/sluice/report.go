package main

import (
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/gate"
	"github.com/sluicehq/sluice/report"
)

// replayReport is replay's --report: the report package does the work.
type replayReport struct{ r *report.Report }

func newReplayReport(cfg *config.Config, feed string) *replayReport {
	return &replayReport{r: report.New(cfg, feed)}
}

func (r *replayReport) add(b gate.Replayed)     { r.r.Add(b) }
func (r *replayReport) write(path string) error { return r.r.WriteFile(path) }
