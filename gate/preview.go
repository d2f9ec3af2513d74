package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/detectors"
)

// RecordPreview renders a record value for a person: at most max bytes, and
// with the feed's key field replaced by its hash when keys are redacted.
// Used by `sluice quarantine show` and the review page.
func RecordPreview(value []byte, keyField string, redact bool, max int) string {
	s := string(value)
	if redact && keyField != "" && !json.Valid(value) {
		// The key cannot be found in it, so nothing of it is shown.
		return fmt.Sprintf("(%d bytes, not JSON: hidden because keys are redacted)", len(value))
	}
	if redact && keyField != "" {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(value))
		dec.UseNumber()
		if dec.Decode(&m) == nil && redactPath(m, strings.Split(keyField, ".")) {
			if b, err := json.Marshal(m); err == nil {
				s = string(b)
			}
		}
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func redactPath(m map[string]any, path []string) bool {
	v, ok := m[path[0]]
	if !ok {
		return false
	}
	if len(path) > 1 {
		sub, ok := v.(map[string]any)
		return ok && redactPath(sub, path[1:])
	}
	if s, ok := v.(string); ok {
		m[path[0]] = "redacted:" + detectors.KeyHashString(xxhash.Sum64String(s))
	} else {
		m[path[0]] = "redacted"
	}
	return true
}
