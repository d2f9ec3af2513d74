package sketch

import (
	"os/exec"
	"strings"
	"testing"
)

// TestInlining guards the tiny functions on the insert paths: losing their
// inlining costs a call per insert.
func TestInlining(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(gobin, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, fn := range []string{"(*HLL).Insert", "rank", "fastrange", "record", "zeroLanes", "keyTag", "fingerprint", "zeroBytes", "records"} {
		if !strings.Contains(string(out), "can inline "+fn+"\n") {
			t.Errorf("%s is no longer inlinable", fn)
		}
	}
}
