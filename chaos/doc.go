// Package chaos holds Sluice's tests with the real binary as processes:
// the memory test (memory_test.go: peak RSS of one gate beside a
// dev-broker), and the fleet crash test. In the latter, one `sluice
// dev-broker` (with a data directory) and several `sluice run` replicas in one consumer group take a vendor feed with
// planted bad deliveries while the test SIGKILLs and restarts replicas.
// Afterwards the output and quarantine topics, read read_committed, must
// hold every input record exactly once and in partition order, the
// quarantined batches must be exactly the planted ones, and the decisions
// must equal those of one uninterrupted process.
//
// The package has only tests. `go test ./chaos/` runs the CI size
// (SLUICE_CHAOS_RECORDS, default 60000); `make chaos` runs 1,000,000.
// Knobs, all optional:
//
//	SLUICE_CHAOS_RECORDS     input records (default 60000)
//	SLUICE_CHAOS_PARTITIONS  input partitions (default 12)
//	SLUICE_CHAOS_KILLS       SIGKILLs, at least 5 (default 5)
//	SLUICE_CHAOS_REPLICAS    gate processes (default 3)
//	SLUICE_CHAOS_SEED        the feed's seed (default 1)
//	SLUICE_CHAOS_WINDOW      how long the feed takes to arrive (default
//	                         20s, or 1s per 10,000 records beyond 200,000)
//	SLUICE_CHAOS_LOGS        a directory to keep the processes' logs in
package chaos
