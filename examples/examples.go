// Package examples holds example configs, embedded so that `sluice demo`
// runs from any directory.
package examples

import _ "embed"

// Demo is examples/demo.yaml.
//
//go:embed demo.yaml
var Demo []byte
