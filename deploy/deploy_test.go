// Package deploy_test checks the deployment files in this directory
// without a container engine or a cluster: the Dockerfile builds the
// binary the way the Makefile does and runs it as nonroot on a static
// base; the Kubernetes manifests parse, their sluice.yaml loads, and the
// pods run the gate the way it needs (probes on the admin port the config
// listens on, the instance id from the pod name, a read-only root, the
// token from the Secret, a PDB over the fleet).
package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/gate"
)

// The Dockerfile stamps this variable; it must stay a string variable.
var _ string = gate.Version

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	// The version variable the Makefile stamps is the one the image does.
	stamp := regexp.MustCompile(`-X (\S+)=`).FindStringSubmatch(string(mk))
	if stamp == nil {
		t.Fatal("the Makefile stamps no version with -X")
	}
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{strings.Contains(df, "CGO_ENABLED=0"), "a static binary (CGO_ENABLED=0)"},
		{strings.Contains(df, "-trimpath"), "-trimpath"},
		{strings.Contains(df, "-X "+stamp[1]+"="), "the version stamped as the Makefile does (-X " + stamp[1] + ")"},
		{strings.Contains(df, "./cmd/sluice"), "the build of ./cmd/sluice"},
		{len(froms) >= 2, "a multi-stage build"},
		{len(froms) > 0 && (strings.HasPrefix(froms[len(froms)-1][1], "gcr.io/distroless/static") || froms[len(froms)-1][1] == "scratch"),
			"a final stage on distroless static or scratch"},
		{len(users) > 0 && strings.HasPrefix(users[len(users)-1][1], "65532"), "USER 65532 last"},
		{strings.Contains(df, "EXPOSE 9644"), "the admin port exposed"},
	} {
		if !c.ok {
			t.Errorf("Dockerfile: want %s", c.what)
		}
	}
}

// doc is one manifest, decoded loosely.
type doc struct {
	file string
	m    map[string]any
}

func (d doc) kind() string { return str(d.m, "kind") }
func (d doc) name() string { return str(d.m, "metadata", "name") }

func manifests(t *testing.T) []doc {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var docs []doc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var m map[string]any
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m == nil {
				continue
			}
			d := doc{file: f, m: m}
			if d.kind() == "" || str(m, "apiVersion") == "" {
				t.Errorf("%s: a document without apiVersion and kind", f)
			}
			if d.kind() != "Kustomization" && d.name() == "" {
				t.Errorf("%s: a %s without metadata.name", f, d.kind())
			}
			docs = append(docs, d)
		}
	}
	return docs
}

func TestKubernetesManifests(t *testing.T) {
	docs := manifests(t)
	byKind := map[string][]doc{}
	for _, d := range docs {
		byKind[d.kind()] = append(byKind[d.kind()], d)
	}
	find := func(kind, name string) (doc, bool) {
		for _, d := range byKind[kind] {
			if d.name() == name {
				return d, true
			}
		}
		return doc{}, false
	}

	for _, k := range byKind["Kustomization"] {
		for _, r := range list(k.m, "resources") {
			if _, err := os.Stat(filepath.Join("kubernetes", r.(string))); err != nil {
				t.Errorf("%s: resource %v: %v", k.file, r, err)
			}
		}
	}

	var fleetLabels map[string]any
	for _, dep := range byKind["Deployment"] {
		pod := obj(dep.m, "spec", "template", "spec")
		where := dep.file + ": Deployment " + dep.name()
		sluice, init := sluiceContainer(pod)
		if sluice == nil {
			t.Errorf("%s: no sluice container", where)
			continue
		}
		if !init {
			fleetLabels = obj(dep.m, "spec", "template", "metadata", "labels")
		}
		if sel := obj(dep.m, "spec", "selector", "matchLabels"); !subset(sel, obj(dep.m, "spec", "template", "metadata", "labels")) {
			t.Errorf("%s: the selector does not match the pod's labels", where)
		}
		checkPod(t, where, pod, sluice, find)
	}
	if fleetLabels == nil {
		t.Fatal("no fleet Deployment (sluice in containers)")
	}

	pdbs := byKind["PodDisruptionBudget"]
	if len(pdbs) == 0 || !subset(obj(pdbs[0].m, "spec", "selector", "matchLabels"), fleetLabels) {
		t.Errorf("want a PodDisruptionBudget over the fleet's pods")
	} else if obj(pdbs[0].m, "spec")["maxUnavailable"] == nil && obj(pdbs[0].m, "spec")["minAvailable"] == nil {
		t.Errorf("%s: the PDB allows any disruption", pdbs[0].file)
	}
	for _, s := range byKind["Service"] {
		if !subset(obj(s.m, "spec", "selector"), fleetLabels) {
			t.Errorf("%s: Service %s selects no fleet pod", s.file, s.name())
		}
	}
}

// checkPod checks a pod that runs the gate.
func checkPod(t *testing.T, where string, pod, c map[string]any, find func(kind, name string) (doc, bool)) {
	t.Helper()
	args := strs(list(c, "args"))
	// The instance id is the pod's name, from the downward API.
	if i := slices.Index(args, "--instance-id"); i < 0 || i+1 == len(args) || args[i+1] != "$(POD_NAME)" {
		t.Errorf("%s: want --instance-id $(POD_NAME) in %v", where, args)
	}
	podName := false
	for _, e := range list(c, "env") {
		e := e.(map[string]any)
		if str(e, "name") == "POD_NAME" && str(e, "valueFrom", "fieldRef", "fieldPath") == "metadata.name" {
			podName = true
		}
	}
	if !podName {
		t.Errorf("%s: POD_NAME does not come from metadata.name", where)
	}

	// The config is a mounted ConfigMap whose sluice.yaml loads.
	mounts := map[string]string{} // volume → mount path
	for _, m := range list(c, "volumeMounts") {
		m := m.(map[string]any)
		if str(m, "subPath") != "" {
			t.Errorf("%s: a subPath mount (%s) never sees updates", where, str(m, "name"))
		}
		mounts[str(m, "name")] = str(m, "mountPath")
	}
	volumes := map[string]map[string]any{}
	for _, v := range list(pod, "volumes") {
		v := v.(map[string]any)
		volumes[str(v, "name")] = v
	}
	i := slices.Index(args, "-c")
	if i < 0 || i+1 == len(args) {
		t.Fatalf("%s: no -c in %v", where, args)
	}
	cfgPath := args[i+1]
	var cfgMap string
	for vol, dir := range mounts {
		if path.Dir(cfgPath) == dir {
			cfgMap = str(volumes[vol], "configMap", "name")
		}
	}
	cm, ok := find("ConfigMap", cfgMap)
	if !ok {
		t.Fatalf("%s: %s is not in a mounted ConfigMap of these manifests", where, cfgPath)
	}
	text := str(cm.m, "data", path.Base(cfgPath))
	cfg, err := config.Parse(path.Base(cfgPath), []byte(text))
	if err != nil {
		t.Fatalf("%s: ConfigMap %s: %v", where, cfgMap, err)
	}
	if errs := gate.CheckDetectors(cfg); len(errs) > 0 {
		t.Errorf("%s: ConfigMap %s: %v", where, cfgMap, errs)
	}

	// Probes reach the admin server: on every interface, on the port
	// the container names.
	if !strings.HasPrefix(cfg.Admin.Listen, "0.0.0.0:") && !strings.HasPrefix(cfg.Admin.Listen, ":") {
		t.Errorf("%s: admin.listen %q: the kubelet's probes come to the pod's IP; listen on 0.0.0.0", where, cfg.Admin.Listen)
	}
	_, port, _ := strings.Cut(cfg.Admin.Listen, ":")
	ports := map[string]string{}
	for _, p := range list(c, "ports") {
		p := p.(map[string]any)
		ports[str(p, "name")] = strconv.Itoa(num(p, "containerPort"))
	}
	for probe, want := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		g := obj(c, probe, "httpGet")
		p := anyString(g["port"])
		if n, ok := ports[p]; ok {
			p = n
		}
		if str(g, "path") != want || p != port {
			t.Errorf("%s: %s is %s on port %s, want %s on %s", where, probe, str(g, "path"), p, want, port)
		}
	}

	// The token comes from a mounted Secret holding the file's name.
	dir, file := path.Split(cfg.Admin.TokenFile)
	var secret string
	for vol, d := range mounts {
		if strings.TrimSuffix(dir, "/") == d {
			secret = str(volumes[vol], "secret", "secretName")
		}
	}
	if s, ok := find("Secret", secret); !ok {
		t.Errorf("%s: admin.token_file %s is in no mounted Secret of these manifests", where, cfg.Admin.TokenFile)
	} else if str(s.m, "stringData", file) == "" && str(s.m, "data", file) == "" {
		t.Errorf("%s: Secret %s has no key %s", where, secret, file)
	}

	// Locked down.
	psc, sc := obj(pod, "securityContext"), obj(c, "securityContext")
	if psc["runAsNonRoot"] != true || num(psc, "runAsUser") != 65532 {
		t.Errorf("%s: want runAsNonRoot and runAsUser 65532, have %v", where, psc)
	}
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false || !slices.Contains(strs(list(sc, "capabilities", "drop")), "ALL") {
		t.Errorf("%s: want readOnlyRootFilesystem, no privilege escalation and every capability dropped, have %v", where, sc)
	}
	if pod["automountServiceAccountToken"] != false {
		t.Errorf("%s: the gate needs no service account token", where)
	}

	// Sized, with time to stop.
	req, lim := obj(c, "resources", "requests"), obj(c, "resources", "limits")
	if req["cpu"] == nil || req["memory"] == nil || lim["memory"] == nil {
		t.Errorf("%s: want cpu and memory requests and a memory limit, have %v %v", where, req, lim)
	}
	for _, e := range list(c, "env") {
		e := e.(map[string]any)
		if str(e, "name") == "GOMEMLIMIT" && mib(t, str(e, "value")) >= mib(t, anyString(lim["memory"])) {
			t.Errorf("%s: GOMEMLIMIT %s is not below the memory limit %v", where, str(e, "value"), lim["memory"])
		}
	}
	if g := num(pod, "terminationGracePeriodSeconds"); g < 30 {
		t.Errorf("%s: terminationGracePeriodSeconds %d: give the gate time to stop", where, g)
	}
}

// sluiceContainer is the container that runs the sluice image, and
// whether it is an init container (a native sidecar).
func sluiceContainer(pod map[string]any) (map[string]any, bool) {
	for _, key := range []string{"containers", "initContainers"} {
		for _, c := range list(pod, key) {
			c := c.(map[string]any)
			if strings.Contains(str(c, "image"), "/sluice") {
				if key == "initContainers" && str(c, "restartPolicy") != "Always" {
					return nil, false
				}
				return c, key == "initContainers"
			}
		}
	}
	return nil, false
}

func obj(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, _ := m[k].(map[string]any)
		m = next
	}
	if m == nil {
		return map[string]any{}
	}
	return m
}

func list(m map[string]any, keys ...string) []any {
	l, _ := obj(m, keys[:len(keys)-1]...)[keys[len(keys)-1]].([]any)
	return l
}

func str(m map[string]any, keys ...string) string {
	return anyString(obj(m, keys[:len(keys)-1]...)[keys[len(keys)-1]])
}

func num(m map[string]any, key string) int {
	n, _ := m[key].(int)
	return n
}

func anyString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	}
	return ""
}

func strs(l []any) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = anyString(v)
	}
	return out
}

// subset reports whether every label of a is in b, and a has some.
func subset(a, b map[string]any) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) > 0
}

// mib reads a memory quantity (Kubernetes' Mi/Gi or Go's MiB/GiB) in MiB.
func mib(t *testing.T, q string) int {
	t.Helper()
	for suf, f := range map[string]int{"MiB": 1, "Mi": 1, "GiB": 1024, "Gi": 1024} {
		if n, ok := strings.CutSuffix(q, suf); ok {
			if v, err := strconv.Atoi(n); err == nil {
				return v * f
			}
		}
	}
	t.Fatalf("cannot read the memory quantity %q", q)
	return 0
}
