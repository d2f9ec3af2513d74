package pipeline

import (
	"context"
	"testing"
	"time"
)

// BenchmarkPipeline runs the end-to-end comparison once per iteration at a
// small size; `sluice bench` runs it at full size and writes the README's
// table.
func BenchmarkPipeline(b *testing.B) {
	for b.Loop() {
		r, err := Measure(context.Background(), Options{Records: 40_000, Partitions: 4, Batch: 10_000, Rounds: 1,
			LatencyRate: 5_000, LatencyFor: 2 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Gate[0].RecordsPerSec, "gate-records/s")
		b.ReportMetric(r.Passthrough[0].RecordsPerSec, "pass-records/s")
		b.ReportMetric(r.Ratio, "ratio")
		b.ReportMetric(r.RatioPerPoll, "ratio-per-poll")
		b.ReportMetric(float64(r.LatencyP99.Milliseconds()), "p99-ms")
	}
}
