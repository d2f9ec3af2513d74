//go:build !race

package sketch

import "testing"

func skipIfRace(*testing.T) {}
