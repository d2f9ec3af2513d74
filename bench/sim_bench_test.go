package bench

import (
	"io"
	"testing"
)

// benchNext measures generating batches, reported per record.
func benchNext(b *testing.B, cfg Config, inject func(*Sim)) {
	s := newSim(b, cfg)
	b.ReportAllocs()
	b.ResetTimer()
	var recs, bytes int
	for b.Loop() {
		if inject != nil {
			inject(s)
		}
		bt := s.Next()
		recs += len(bt.Records)
		for _, r := range bt.Records {
			bytes += len(r.Key) + len(r.Value)
		}
	}
	b.SetBytes(int64(bytes / max(1, b.N)))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(1, recs)), "ns/record")
}

func BenchmarkSimNext(b *testing.B) {
	benchNext(b, Config{Seed: 1, Emails: 100_000, MeanBatch: 10_000, Flat: true}, nil)
}

// Every batch hit by the costliest incidents.
func BenchmarkSimNextIncidents(b *testing.B) {
	benchNext(b, Config{Seed: 1, Emails: 100_000, MeanBatch: 10_000, Flat: true}, func(s *Sim) {
		for _, k := range []Kind{Repeat, Supernode, Wrong, Malformed} {
			if err := s.Inject(Incident{Kind: k}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSimNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		newSim(b, Config{Seed: 1, Emails: 100_000})
	}
}

func BenchmarkSimWriteJSONL(b *testing.B) {
	bt := newSim(b, Config{Seed: 1, MeanBatch: 10_000, Flat: true}).Next()
	b.ReportAllocs()
	var n int64
	for _, r := range bt.Records {
		n += int64(len(r.Value)) + 1
	}
	b.SetBytes(n)
	for b.Loop() {
		if err := bt.WriteJSONL(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
