package gate

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/reference"
)

// CheckDetectors builds every detector of a config the way the gate would,
// without a broker, and reports what fails (a reference file that does not
// exist or does not parse) at the detector's place in the file. A topic
// reference is only checked by a running gate.
func CheckDetectors(cfg *config.Config) config.Errors {
	refs := reference.NewOpener(cfg.Dir())
	defer refs.Close()
	var errs config.Errors
	for i := range cfg.Feeds {
		f := &cfg.Feeds[i]
		for j := range f.Detectors {
			d := f.Detectors[j]
			env := &detectors.Env{Feed: f.Name, Binder: &detectors.Binder{}, RedactKeys: true, Dir: cfg.Dir(),
				Logger: slog.New(slog.DiscardHandler), Reference: func(rc config.Reference) (detectors.Reference, error) {
					if rc.Topic != "" {
						return offlineReference{}, nil
					}
					return refs.Open(rc)
				}}
			if _, err := detectors.New(d, env); err != nil {
				path := fmt.Sprintf("feeds[%d].detectors[%d]", i, j)
				if d.Reference != nil {
					path += ".reference"
				}
				errs = append(errs, cfg.Errorf(path, "%v", err))
			}
		}
	}
	return errs
}

// offlineReference stands in for a topic reference where there is no broker.
type offlineReference struct{}

func (offlineReference) Check(context.Context, []detectors.Sample) error {
	return fmt.Errorf("topic references are not checked offline")
}
func (offlineReference) Close() error { return nil }
