package config

import (
	"path/filepath"
	"testing"
)

// TestOnSchemaChangeDefault: an Arrow feed warns on a schema change unless
// it says otherwise; other formats have no such setting.
func TestOnSchemaChangeDefault(t *testing.T) {
	c, err := Parse("test.yaml", []byte(`
feeds:
  - {name: a, input: a.in, output: a.out, quarantine: a.q, format: arrow}
  - {name: j, input: j.in, output: j.out, quarantine: j.q}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Feeds[0].OnSchemaChange; got != "warn" {
		t.Errorf("arrow feed: on_schema_change = %q, want warn", got)
	}
	if got := c.Feeds[1].OnSchemaChange; got != "" {
		t.Errorf("json feed: on_schema_change = %q, want unset", got)
	}
	c, err = Load(filepath.Join(testdata, "arrow.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Feeds[0].OnSchemaChange; got != "quarantine" {
		t.Errorf("arrow.good.yaml: on_schema_change = %q, want quarantine", got)
	}
}
