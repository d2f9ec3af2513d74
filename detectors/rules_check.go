package detectors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fields"
)

// rule is one config.Rule, compiled.
//
// A missing or null field breaks the rule only when it is required; the
// other checks skip it. Min and max apply to numbers, so any other value
// breaks a rule that sets them; regex and the lengths (in runes) apply to
// strings, on their unescaped text. Enum applies to strings, and to numbers
// and bools by their JSON text ("1", "true"), so that `enum: [1, 2, 3]`
// works for a numeric field. An integer is a number with no fractional
// part (2.0 is one).
type rule struct {
	field    string
	idx      int // in Record.Values
	required bool
	kinds    uint16 // accepted fields.Kind bits; 0 accepts any
	integer  bool
	numeric  bool     // min or max is set
	textual  bool     // regex or a length is set
	re       *byteDFA // the regex's answers, mostly from a DFA
	enum     []string // sorted
	min, max float64
	hasMin   bool
	hasMax   bool
	minLen   int
	maxLen   int
	hasLen   bool

	// why says each reason in words; broken counts the records of the open
	// batch that break the rule, by reason.
	why    [numRuleReasons]string
	broken [numRuleReasons]int
}

// ruleReason is why a value breaks a rule; each record counts once per
// rule, for the first check it fails, in this order.
type ruleReason uint8

const (
	ruleOK ruleReason = iota
	ruleMissing
	ruleType
	ruleRange
	ruleLength
	ruleEnum
	ruleRegex
	numRuleReasons
)

var ruleKinds = map[string]fields.Kind{
	"string": fields.String, "number": fields.Number, "integer": fields.Number,
	"bool": fields.Bool, "object": fields.Object, "array": fields.Array,
}

func compileRule(c config.Rule) (rule, error) {
	u := rule{field: c.Field, required: c.Required}
	if c.Field == "" {
		return u, errors.New("no field")
	}
	expect := ""
	if c.Type != "" {
		k, known := ruleKinds[c.Type]
		if !known {
			return u, fmt.Errorf("unknown type %q (want string, number, integer, bool, object or array)", c.Type)
		}
		u.kinds, u.integer, expect = 1<<k, c.Type == "integer", c.Type
	}
	if c.Regex != "" {
		re, err := regexp.Compile(c.Regex)
		if err != nil {
			return u, fmt.Errorf("cannot compile regex: %w", err)
		}
		u.re = newByteDFA(re)
		u.why[ruleRegex] = "does not match " + c.Regex
	}
	if c.Enum != nil {
		u.enum = slices.Clone(c.Enum)
		slices.Sort(u.enum)
		u.why[ruleEnum] = "not one of " + ruleList(c.Enum, 8)
	}
	if c.Min != nil || c.Max != nil {
		u.numeric = true
		if c.Min != nil {
			u.min, u.hasMin = *c.Min, true
		}
		if c.Max != nil {
			u.max, u.hasMax = *c.Max, true
		}
		if u.hasMin && u.hasMax && u.min > u.max {
			return u, fmt.Errorf("min %v is above max %v", u.min, u.max)
		}
		u.why[ruleRange] = ruleBounds("", u.hasMin, u.hasMax, ruleFloat(u.min), ruleFloat(u.max))
	}
	if c.MinLen != nil || c.MaxLen != nil {
		u.hasLen, u.minLen, u.maxLen = true, 0, math.MaxInt
		if c.MinLen != nil {
			u.minLen = *c.MinLen
		}
		if c.MaxLen != nil {
			u.maxLen = *c.MaxLen
		}
		if u.minLen > u.maxLen {
			return u, fmt.Errorf("min_length %d is above max_length %d", u.minLen, u.maxLen)
		}
		u.why[ruleLength] = ruleBounds("length ", c.MinLen != nil, c.MaxLen != nil, strconv.Itoa(u.minLen), strconv.Itoa(u.maxLen))
	}
	u.textual = u.re != nil || u.hasLen
	switch {
	case expect != "":
	case u.numeric:
		expect = "number"
	case u.textual:
		expect = "string"
	case u.enum != nil:
		expect = "string, number or bool"
	}
	u.why[ruleType] = "not " + ruleArticle(expect) + " " + expect
	u.why[ruleMissing] = "missing or null"
	return u, nil
}

// check returns why v breaks the rule, or ruleOK. scratch holds the
// unescaped text of an escaped string; it grows as needed and is kept.
func (u *rule) check(v *fields.Value, scratch *[]byte) ruleReason {
	if absent(v) {
		if u.required {
			return ruleMissing
		}
		return ruleOK
	}
	if u.kinds != 0 && u.kinds&(1<<v.Kind) == 0 {
		return ruleType
	}
	if u.numeric || u.integer {
		f, isNum := v.Float()
		if !isNum || u.integer && f != math.Trunc(f) {
			return ruleType
		}
		if u.hasMin && f < u.min || u.hasMax && f > u.max {
			return ruleRange
		}
	}
	if !u.textual && u.enum == nil {
		return ruleOK
	}
	text, ascii := v.Raw, false
	switch {
	case v.Kind == fields.String:
		// ASCII, most text, is valid UTF-8 of one byte a rune.
		ascii = !v.Escaped && isASCII(text)
		if !ascii && (v.Escaped || !utf8.Valid(text)) {
			*scratch = v.AppendText((*scratch)[:0])
			text = *scratch
		}
	case u.textual || v.Kind != fields.Number && v.Kind != fields.Bool:
		return ruleType
	}
	if u.hasLen {
		n := len(text)
		if !ascii {
			n = utf8.RuneCount(text)
		}
		if n < u.minLen || n > u.maxLen {
			return ruleLength
		}
	}
	if u.enum != nil && !u.inEnum(text) {
		return ruleEnum
	}
	if u.re != nil && !u.re.Match(text) {
		return ruleRegex
	}
	return ruleOK
}

// inEnum searches the sorted enum; comparing string(text) does not
// allocate. A short enum is scanned: == rejects most values on their
// length, without the ordered comparisons of a binary search.
func (u *rule) inEnum(text []byte) bool {
	if len(u.enum) <= 8 {
		for _, e := range u.enum {
			if e == string(text) {
				return true
			}
		}
		return false
	}
	lo, hi := 0, len(u.enum)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if u.enum[m] < string(text) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(u.enum) && u.enum[lo] == string(text)
}

// violations counts the records of the open batch that break the rule.
func (u *rule) violations() int {
	n := 0
	for _, c := range u.broken {
		n += c
	}
	return n
}

// reasons says how the rule is broken: "does not match ^x$" when there is
// one reason, "missing or null: 12, not a string: 3" when there are more.
func (u *rule) reasons() string {
	type count struct {
		why string
		n   int
	}
	var cs []count
	for r, n := range u.broken {
		if n > 0 {
			cs = append(cs, count{u.why[r], n})
		}
	}
	if len(cs) == 1 {
		return cs[0].why
	}
	slices.SortStableFunc(cs, func(a, b count) int { return b.n - a.n })
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.why + ": " + strconv.Itoa(c.n)
	}
	return strings.Join(parts, ", ")
}

// ruleBounds says what lies outside [lo, hi] for the bounds that are set.
func ruleBounds(what string, hasLo, hasHi bool, lo, hi string) string {
	switch {
	case hasLo && hasHi:
		return what + "outside [" + lo + ", " + hi + "]"
	case hasLo:
		return what + "below " + lo
	}
	return what + "above " + hi
}

func ruleFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func ruleArticle(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an"
	}
	return "a"
}

// ruleList renders at most n values as "[a, b, c, …]".
func ruleList(vals []string, n int) string {
	if len(vals) > n {
		return "[" + strings.Join(vals[:n], ", ") + ", …]"
	}
	return "[" + strings.Join(vals, ", ") + "]"
}

// isASCII reports whether p is all ASCII, a word at a time: the last word
// overlaps the ones before, so a field of up to 16 bytes costs two loads
// and no loop, where utf8.Valid goes a byte at a time below 8 bytes.
func isASCII(p []byte) bool {
	const hi = 0x8080808080808080
	n := len(p)
	switch {
	case n >= 8:
		acc := binary.LittleEndian.Uint64(p[n-8:])
		for i := 0; i+8 < n; i += 8 {
			acc |= binary.LittleEndian.Uint64(p[i:])
		}
		return acc&hi == 0
	case n >= 4:
		return (binary.LittleEndian.Uint32(p)|binary.LittleEndian.Uint32(p[n-4:]))&(hi>>32) == 0
	case n > 0:
		return (p[0]|p[n>>1]|p[n-1])&0x80 == 0
	}
	return true
}
