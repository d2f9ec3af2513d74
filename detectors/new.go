package detectors

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/sluicehq/sluice/config"
)

// Env is what a detector gets from its feed.
type Env struct {
	Feed   string
	Binder *Binder
	// RedactKeys makes examples key hashes instead of keys.
	RedactKeys bool
	// Dir resolves relative paths in the config (reference files).
	Dir    string
	Logger *slog.Logger
	// Reference opens what an accuracy detector checks records against.
	// The gate and replay set it to a reference.Opener's Open (a topic
	// reference needs Kafka, which this package never touches); an
	// accuracy detector without it is a construction error.
	Reference func(config.Reference) (Reference, error)
}

// Example renders a key for a finding: its hash unless keys are not
// redacted. It allocates, so call it only when judging.
func (e *Env) Example(key []byte, hash uint64) string {
	if !e.RedactKeys && key != nil {
		return string(key)
	}
	return KeyHashString(hash)
}

// KeyHashString is how a key hash is shown: 16 hex digits.
func KeyHashString(h uint64) string {
	var b [16]byte
	s := strconv.AppendUint(b[:0], h, 16)
	out := make([]byte, 16)
	for i := range out {
		out[i] = '0'
	}
	copy(out[16-len(s):], s)
	return string(out)
}

// New builds the detector a config entry describes. The config has been
// validated; New reports what validation cannot see (a reference file that
// does not load).
func New(cfg config.Detector, env *Env) (Detector, error) {
	ctor, ok := constructors[cfg.Type]
	if !ok {
		return nil, fmt.Errorf("unknown detector type %q", cfg.Type)
	}
	return ctor(cfg, env)
}

var constructors = map[string]func(config.Detector, *Env) (Detector, error){}

// register adds a detector type; each detector's file calls it from init.
func register(typ string, ctor func(config.Detector, *Env) (Detector, error)) {
	constructors[typ] = ctor
}
