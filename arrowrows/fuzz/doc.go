// Package fuzz holds the fuzz target of arrowrows' decoder (FuzzArrowDecode),
// apart from arrowrows' own tests on purpose: those build streams with
// arrow-go, and a test binary that links arrow-go fuzzes 30 to 50 times
// slower (every execution scans arrow-go's coverage counters too: about
// 1,000 executions a second against 30,000 to 50,000 here). The decoder
// itself does not import arrow-go, so this package's test binary is small.
//
// The seed corpus is testdata/fuzz/FuzzArrowDecode, written by arrow-go:
// regenerate it with `go test ./arrowrows -run TestFuzzCorpus -update`.
// Crashers the fuzzer finds land there too; keep them.
package fuzz
