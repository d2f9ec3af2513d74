//go:build race

package sketch

import "testing"

// skipIfRace skips the 10^7-pair tests under the race detector (make
// test-race), which makes them minutes long; the sketches hold no shared
// state, so races are covered by the smaller tests.
func skipIfRace(t *testing.T) {
	t.Skip("10^7-pair accuracy test skipped under -race; run go test ./sketch/")
}
