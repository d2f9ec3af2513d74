package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// The record's fields, in the order they are written.
const (
	fEmail = iota
	fProfileID
	fCompany
	fTitle
	fScore
	fChangedAt
	fCountry
	fEvent
	fURL
	numFields
)

var fieldNames = [numFields]string{
	"email", "profile_id", "company", "title", "score", "changed_at", "country", "event", "url",
}

// Fields lists the record's JSON fields in the order they are written.
func Fields() []string { return append([]string(nil), fieldNames[:]...) }

func fieldIndex(name string) int {
	for i, f := range fieldNames {
		if f == name {
			return i
		}
	}
	return -1
}

const urlPrefix = "https://api.sponsortrack.example/v2/profiles/"

// feedRow is a record before encoding: indices into the universe, so that
// incidents can rewrite a connection without touching bytes.
type feedRow struct {
	email   int32 // the key
	profile int32 // whose profile_id, title and url are written
	company int32
	event   int16
	nulls   uint16 // bit per field: written as null
	renamed uint16 // bit per field: written under the batch's new name
	score   float64
	changed int64 // unix seconds
}

// rowEncoder writes rows as JSON. Keys are quoted once per batch.
type rowEncoder struct {
	u       *universe
	keys    [numFields][]byte // `"email":`
	renamed [numFields][]byte // the new names of renamed fields
}

func newRowEncoder(u *universe) *rowEncoder {
	e := &rowEncoder{u: u}
	for i, f := range fieldNames {
		e.keys[i] = quoteKey(f)
	}
	return e
}

// quoteKey is json.Marshal, as a renamed field's name comes from the user.
func quoteKey(name string) []byte {
	b, err := json.Marshal(name)
	if err != nil { // a string always marshals
		b = []byte(strconv.Quote(name))
	}
	return append(b, ':')
}

func (e *rowEncoder) rename(field int, to string) { e.renamed[field] = quoteKey(to) }

// append writes r as one JSON object. Values come from the word lists and
// the generator, which hold no characters JSON needs escaped.
func (e *rowEncoder) append(dst []byte, r *feedRow) []byte {
	u := e.u
	p := &u.profiles[r.profile]
	dst = append(dst, '{')
	for f := range numFields {
		if f > 0 {
			dst = append(dst, ',')
		}
		if r.renamed&(1<<f) != 0 && e.renamed[f] != nil {
			dst = append(dst, e.renamed[f]...)
		} else {
			dst = append(dst, e.keys[f]...)
		}
		if r.nulls&(1<<f) != 0 {
			dst = append(dst, "null"...)
			continue
		}
		switch f {
		case fEmail:
			dst = appendString(dst, u.emails[r.email].addr)
		case fProfileID:
			dst = appendString(dst, p.id)
		case fCompany:
			dst = appendString(dst, u.companies[r.company].name)
		case fTitle:
			dst = appendString(dst, simTitles[p.title])
		case fScore:
			dst = strconv.AppendFloat(dst, r.score, 'f', 2, 64)
		case fChangedAt:
			dst = append(dst, '"')
			dst = time.Unix(r.changed, 0).UTC().AppendFormat(dst, time.RFC3339)
			dst = append(dst, '"')
		case fCountry:
			dst = appendString(dst, u.companies[r.company].country)
		case fEvent:
			dst = appendString(dst, simEvents[r.event])
		case fURL:
			dst = append(dst, '"')
			dst = append(dst, urlPrefix...)
			dst = append(dst, p.id...)
			dst = append(dst, '"')
		}
	}
	return append(dst, '}')
}

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// WriteJSONL writes the batch's record values, one a line: the format
// sluice replay reads. Generated values never contain a newline, malformed
// ones included.
func (b Batch) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	for i := range b.Records {
		bw.Write(b.Records[i].Value)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil { // bufio keeps the first write error
		return fmt.Errorf("cannot write batch %s: %w", b.ID, err)
	}
	return nil
}

// WriteLog writes the batch's incidents as JSON lines.
func (b Batch) WriteLog(w io.Writer) error { return writeLog(w, b.Incidents) }

func writeLog(w io.Writer, incs []Injected) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, inc := range incs {
		if err := enc.Encode(inc); err != nil {
			return fmt.Errorf("cannot write incident log: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cannot write incident log: %w", err)
	}
	return nil
}
