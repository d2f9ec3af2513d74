package fields

import (
	"errors"
	"strconv"
	"unsafe"
)

// ErrSyntax is wrapped by every error Extract returns: the record is not a
// valid JSON object. The error's text says the byte offset and what the
// grammar expected there.
var ErrSyntax = errors.New("invalid JSON")

// code says what the grammar expected where a record went wrong.
type code uint8

const (
	none code = iota
	expObject
	expKeyOrEnd
	expKey
	expColon
	expValue
	expObjectNext
	expArrayNext
	expEnd
	expDigit
	expEscape
	expHex
	expQuote
	errControl
	errDepth
	expTrue
	expFalse
	expNull
	numCodes
)

var codeText = [numCodes]string{
	expObject:     "expected '{' (a record must be a JSON object)",
	expKeyOrEnd:   "expected '\"' or '}'",
	expKey:        "expected '\"'",
	expColon:      "expected ':'",
	expValue:      "expected a value",
	expObjectNext: "expected ',' or '}'",
	expArrayNext:  "expected ',' or ']'",
	expEnd:        "expected end of record",
	expDigit:      "expected a digit",
	expEscape:     "expected an escape (one of \"\\/bfnrtu)",
	expHex:        "expected 4 hex digits after \\u",
	expQuote:      "expected '\"' (unterminated string)",
	errControl:    "control character in string (must be escaped)",
	errDepth:      "nesting deeper than " + strconv.Itoa(MaxDepth) + " levels",
	expTrue:       "expected true",
	expFalse:      "expected false",
	expNull:       "expected null",
}

func message(off int, c code) string {
	return ErrSyntax.Error() + " at byte " + strconv.Itoa(off) + ": " + codeText[c]
}

// Extract must not allocate even when it rejects a record (a feed of junk
// should not churn the heap), yet its error must say where. The error is
// therefore a pointer into posErrors whose address encodes the offset and
// the code: the array is zero, so it sits in bss and its pages are never
// touched, costing address space only. Offsets past the table (records
// over 64KiB) get an allocated error.
const posBits = 16

type posError byte

var posErrors [int(numCodes) << posBits]posError

func (e *posError) Error() string {
	i := int(uintptr(unsafe.Pointer(e)) - uintptr(unsafe.Pointer(&posErrors[0])))
	return message(i&(1<<posBits-1), code(i>>posBits))
}

func (e *posError) Unwrap() error { return ErrSyntax }

type syntaxError struct {
	off  int
	code code
}

func (e *syntaxError) Error() string { return message(e.off, e.code) }
func (e *syntaxError) Unwrap() error { return ErrSyntax }

// fail returns the error for an invalid record.
func fail(off int, c code) error {
	if off < 1<<posBits {
		return &posErrors[int(c)<<posBits|off]
	}
	return &syntaxError{off, c}
}
