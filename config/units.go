package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// String renders d as Go does: "30s", "1h30m0s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as String does, so that encoders round-trip it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration: "30s", "5m", "1h30m". A bare number
// is an error: it has no unit.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("cannot parse duration %q: %w", text, err)
	}
	*d = Duration(v)
	return nil
}

// byteUnits are the suffixes ByteSize accepts. The IEC ones (KiB, MiB, GiB,
// TiB) are powers of 1024; the SI ones (KB, MB, GB, TB) are powers of 1000,
// as the SI and IEC standards have it. The order is the one String prefers.
var byteUnits = []struct {
	name string
	size int64
}{
	{"TiB", 1 << 40}, {"TB", 1e12},
	{"GiB", 1 << 30}, {"GB", 1e9},
	{"MiB", 1 << 20}, {"MB", 1e6},
	{"KiB", 1 << 10}, {"KB", 1e3},
	{"B", 1},
}

// ParseByteSize parses a size: a plain number of bytes ("1048576"), or a
// number with a unit: B, KiB, MiB, GiB, TiB (1024-based) or KB, MB, GB, TB
// (1000-based). Units are case-sensitive; a space before the unit and a
// decimal fraction ("1.5GiB") are allowed as long as the result is a whole
// number of bytes.
func ParseByteSize(s string) (ByteSize, error) {
	b, err := parseByteSize(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("cannot parse byte size %q: %w", s, err)
	}
	return b, nil
}

func parseByteSize(s string) (ByteSize, error) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
			continue
		case c == '.' && !dot:
			dot = true
			continue
		}
		break
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	if digits == 0 {
		return 0, errors.New("want a number of bytes, optionally with a unit: 65536, 64KiB, 64MiB, 1GiB")
	}
	mult := int64(1)
	if unit != "" {
		mult = 0
		for _, u := range byteUnits {
			if u.name == unit {
				mult = u.size
				break
			}
		}
		if mult == 0 {
			return 0, fmt.Errorf("unknown unit %q (want B, KiB, MiB, GiB, TiB, or 1000-based KB, MB, GB, TB)", unit)
		}
	}
	if !dot {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult || n < math.MinInt64/mult {
			return 0, errors.New("too large")
		}
		return ByteSize(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, err
	}
	f *= float64(mult)
	if f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, errors.New("too large")
	}
	if f != math.Trunc(f) {
		return 0, errors.New("not a whole number of bytes")
	}
	return ByteSize(f), nil
}

// String renders b with the largest unit that divides it exactly, IEC
// before SI: 67108864 is "64MiB", 1000 is "1KB", 1500 is "1500B".
func (b ByteSize) String() string {
	if b == 0 {
		return "0"
	}
	for _, u := range byteUnits {
		if int64(b)%u.size == 0 {
			return strconv.FormatInt(int64(b)/u.size, 10) + u.name
		}
	}
	panic("unreachable") // every size divides by 1
}

// MarshalText writes b as String does, so that encoders round-trip it.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText parses what ParseByteSize does.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}
