// Package fields extracts the values of configured field paths from a
// record, once per record, for every detector of a feed. The plan is built
// once; extraction writes into a slice the caller owns and allocates nothing.
//
// Extraction is also the record's validation: it scans the whole record,
// wherever the fields are, and accepts exactly what encoding/json's Valid
// accepts, provided the top level is an object and nests at most MaxDepth
// deep (FuzzExtract holds it to that). Like Valid, it does not require
// strings to be UTF-8; decoding text replaces bad bytes with U+FFFD. What
// it checks:
//   - structure: balanced objects and arrays, commas and colons, nothing
//     after the top-level object; at most MaxDepth levels (encoding/json
//     allows 10000), kept as a bit per level, so a deep record cannot
//     exhaust the stack;
//   - strings: escapes (\uXXXX with 4 hex digits), no raw control
//     character (below 0x20), a closing quote;
//   - numbers: the full JSON grammar (no leading zeros, no "1.", no "+1");
//   - literals: true, false, null.
//
// When a key repeats, the last one wins, as with encoding/json.
//
// A record takes one of two paths, which agree on every record (the tests
// and FuzzExtract run both):
//   - the fast path (fast.go), for a record without escapes, on a CPU
//     with AVX2 and BMI2: stage 1, in assembly, finds where every string
//     of the record ends, 64 bytes at a time, in one pass; stage 2 walks
//     the record by the grammar, taking each string's end from stage 1's
//     list instead of searching for it. Its first part, also in assembly,
//     walks the pairs of a flat, compact record (flat.go), and as many
//     pairs as are so of any other; the general walk, in Go, goes on from
//     there. Extracting 4 fields from a 300-byte record costs 110-145 ns,
//     wherever they sit (BenchmarkExtract);
//   - the scanner (scan.go), which reads the record byte by byte and
//     strings 8 bytes at a time, for any other record, and for every
//     invalid one, since only it says where a record went wrong (a
//     record that does not end with '}' goes to it at once; another
//     invalid one costs both). It takes about 200 ns for the same
//     (BenchmarkExtractScanner).
package fields

// Kind is the JSON type of an extracted value.
type Kind uint8

const (
	Missing Kind = iota // the path is not in the record
	Null
	String
	Number
	Bool
	Object
	Array
)

// Value is one extracted field. Raw aliases the record's bytes: for a
// String it is the text between the quotes (still escaped when Escaped is
// set; see Text), for a Number the literal, for Bool "true"/"false", for
// Null "null", for Object and Array the whole JSON text, for Missing nil.
// Raw is only valid until the record's buffer is reused.
type Value struct {
	Raw     []byte
	Kind    Kind
	Escaped bool
}

// Rows decodes a record value that holds many rows (an Arrow IPC stream):
// for each row it fills out (one Value per planned path) and calls row. It
// returns the number of rows, or an error when the value cannot be
// decoded. Implementations allocate nothing per row in steady state.
type Rows interface {
	Decode(value []byte, out []Value, row func()) (int, error)
}
