// Package fields extracts the values of configured field paths from a
// record, once per record, for every detector of a feed. The plan is built
// once; extraction writes into a slice the caller owns and allocates nothing.
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
// set), for a Number the literal, for Bool "true"/"false", for Object and
// Array the whole JSON text. Raw is only valid until the record is reused.
type Value struct {
	Raw     []byte
	Kind    Kind
	Escaped bool
}
