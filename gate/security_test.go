package gate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/config"
)

// pki is a throwaway CA with a broker certificate for 127.0.0.1 and a
// client certificate, written as PEM files into a test directory.
type pki struct {
	dir                       string
	ca, clientCert, clientKey string // file names in dir
	server                    *tls.Config
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, name string, usage x509.ExtKeyUsage, ips ...net.IP) (tls.Certificate, []byte, []byte) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, DNSNames: []string{name}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(k)
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return c, certPEM, keyPEM
	}
	srv, _, _ := issue(2, "broker.test", x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	_, cliPEM, cliKeyPEM := issue(3, "sluice", x509.ExtKeyUsageClientAuth)
	p := &pki{dir: dir, ca: "ca.pem", clientCert: "client.pem", clientKey: "client-key.pem"}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(p.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	write(p.clientCert, cliPEM)
	write(p.clientKey, cliKeyPEM)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	// Mutual TLS: the broker wants a client certificate our CA signed.
	p.server = &tls.Config{Certificates: []tls.Certificate{srv}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	return p
}

// secureConfig is feedConfig with tls and/or sasl settings, written into
// dir as test.yaml so that relative files resolve there.
func secureConfig(t *testing.T, dir string, brokers []string, security, onFail string) *config.Config {
	t.Helper()
	yaml := fmt.Sprintf("brokers: [%s]\n%s\n%s", strings.Join(brokers, ", "), security, feedConfig("", onFail))
	path := filepath.Join(dir, "test.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if errs := CheckKafka(cfg); len(errs) > 0 {
		t.Fatalf("CheckKafka: %v", errs)
	}
	return cfg
}

func kafkaOpts(t *testing.T, cfg *config.Config) []kgo.Opt {
	t.Helper()
	opts, err := KafkaOpts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// judgeEndToEnd runs a gate on cfg over a feed with one failing batch and
// checks the outcome with clients built from the same config: output,
// quarantine, and a release through the operator path.
func judgeEndToEnd(t *testing.T, cfg *config.Config, opts Options) {
	t.Helper()
	kopts := kafkaOpts(t, cfg)
	in := input(2, 20, func(p int32, i int) bool { return p == 1 && i == 13 })
	produceWith(t, kopts, in...)
	g := startGate(t, cfg, opts)
	_, quar := exactlyOnce(t, kopts, in, 30*time.Second)
	if len(quar) != 10 {
		t.Fatalf("quarantine holds %d records, want the failing batch's 10", len(quar))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const id = "sponsors:1:10"
	waitIndexed(t, ctx, cfg, id, 15*time.Second)
	if _, err := Release(ctx, cfg, id, "tester", "checked"); err != nil {
		t.Fatalf("release: %v", err)
	}
	if out := consumeWith(t, kopts, "out", 40, 20*time.Second); len(out) != 40 {
		t.Fatalf("output holds %d records after the release, want 40", len(out))
	}
	g.stop(t)
}

// TestTLSEndToEnd: a broker that speaks only mutual TLS; the gate, the
// operator commands and the test's own clients reach it through the
// config's tls settings. A client without a certificate, or one that does
// not trust the broker's CA, gets nowhere, with an error that says why.
func TestTLSEndToEnd(t *testing.T) {
	p := newPKI(t)
	c := fakeCluster(t, 2, []string{"in"}, kfake.TLS(p.server))
	brokers := c.ListenAddrs()
	cfg := secureConfig(t, p.dir, brokers, fmt.Sprintf("tls: {ca_file: %s, cert_file: %s, key_file: %s}", p.ca, p.clientCert, p.clientKey), "quarantine")
	logger, logs := captureLogs(t)
	judgeEndToEnd(t, cfg, Options{Logger: logger})
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Fatal("key material in the logs")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Plaintext, no client certificate, or an untrusted broker: refused.
	for name, sec := range map[string]string{
		"no client certificate": fmt.Sprintf("tls: {ca_file: %s}", p.ca),
		"untrusted broker":      fmt.Sprintf("tls: {cert_file: %s, key_file: %s}", p.clientCert, p.clientKey),
	} {
		cfg := secureConfig(t, p.dir, brokers, sec, "quarantine")
		_, err := ReadIndex(ctx, cfg, kgo.RequestRetries(1), kgo.RetryTimeout(2*time.Second))
		if err == nil {
			t.Fatalf("%s: ReadIndex succeeded", name)
		}
		t.Logf("%s: %v", name, err)
		if name == "untrusted broker" && !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: the error does not say what is wrong: %v", name, err)
		}
	}
}

// TestSASLEndToEnd: brokers that require SASL (SCRAM-SHA-256, SCRAM-SHA-512
// and PLAIN, and SCRAM over TLS); the gate judges a feed with the
// configured user. A wrong password stops the gate with an error that says
// authentication failed, and the password is never in a log line or an
// error.
func TestSASLEndToEnd(t *testing.T) {
	const pass = "pw-Zq8!vX3#rK"
	for _, tc := range []struct {
		mech string
		tls  bool
	}{
		{"SCRAM-SHA-256", false},
		{"SCRAM-SHA-512", false},
		{"PLAIN", false},
		{"SCRAM-SHA-512", true},
	} {
		name := tc.mech
		if tc.tls {
			name += "+TLS"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			kopts := []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "admin", "admin-pw"),
				kfake.User(tc.mech, "sluice", pass)}
			security := "sasl: {mechanism: " + tc.mech + ", username: sluice, password_file: kafka.password}\n"
			if tc.tls {
				p := newPKI(t)
				dir = p.dir
				kopts = append(kopts, kfake.TLS(p.server))
				security += fmt.Sprintf("tls: {ca_file: %s, cert_file: %s, key_file: %s}\n", p.ca, p.clientCert, p.clientKey)
			}
			if err := os.WriteFile(filepath.Join(dir, "kafka.password"), []byte(pass+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c := fakeCluster(t, 2, []string{"in"}, kopts...)
			cfg := secureConfig(t, dir, c.ListenAddrs(), security, "quarantine")
			logger, logs := captureLogs(t)
			judgeEndToEnd(t, cfg, Options{Logger: logger})

			// The wrong password.
			if err := os.WriteFile(filepath.Join(dir, "kafka.password"), []byte("not-"+pass+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			g, err := New(cfg, Options{Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err = g.Run(ctx)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("gate with a wrong password: Run = %v after %v", err, time.Since(start).Round(time.Millisecond))
			}
			t.Logf("wrong password: Run failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
			if !strings.Contains(err.Error(), "SASL "+tc.mech+" authentication as \"sluice\" failed") {
				t.Errorf("the error does not say authentication failed: %v", err)
			}
			if ok, reasons := g.Ready(); ok || len(reasons) == 0 {
				t.Errorf("a gate that cannot authenticate is ready: %v", reasons)
			}
			for what, s := range map[string]string{"logs": logs.String(), "error": err.Error()} {
				if strings.Contains(s, pass) {
					t.Fatalf("the password is in the %s", what)
				}
			}
		})
	}
}

// TestKafkaOptsErrors: a file tls or sasl names that is missing, empty or
// not PEM fails KafkaOpts (and so New) with the setting's name and never
// with a file's content.
func TestKafkaOptsErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("empty.password", "\n")
	write("notpem.pem", "hunter2-in-a-pem-file")
	for _, tc := range []struct{ security, want string }{
		{"tls: {ca_file: missing.pem}", "tls.ca_file: cannot read: open "},
		{"tls: {ca_file: notpem.pem}", "tls.ca_file: notpem.pem holds no PEM certificate"},
		{"tls: {cert_file: notpem.pem, key_file: notpem.pem}", "tls.cert_file: cannot load the client certificate and key_file"},
		{"sasl: {mechanism: PLAIN, username: u, password_file: empty.password}", "sasl.password_file: empty.password is empty"},
		{"sasl: {mechanism: PLAIN, username: u, password_file: missing.password}", "sasl.password_file: cannot read: open "},
	} {
		yaml := "brokers: [127.0.0.1:1]\n" + tc.security + "\n" + feedConfig("", "quarantine")
		path := filepath.Join(dir, "test.yaml")
		write("test.yaml", yaml)
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want %q", tc.security, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: a file's content is in the error: %v", tc.security, err)
		}
		if errs := CheckKafka(cfg); len(errs) != 1 || errs[0].Line == 0 {
			t.Errorf("%s: CheckKafka = %v, want one placed error", tc.security, errs)
		}
	}
}

// TestKeysAndValuesNeverLogged runs a feed whose keys, values and headers
// (and the admin token) carry a marker through the gate, with debug logging captured, through
// quarantines, a decode error, a halt and its resume (findings not
// redacted), and looks for the marker in every log line and in /metrics.
// Neither may carry a key or a value; decisions and the quarantine topic
// are where they belong.
func TestKeysAndValuesNeverLogged(t *testing.T) {
	const mark = "ZQXSECRET"
	brokers := cluster(t, 2, "in")
	var in []*kgo.Record
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 40; i++ {
			email := fmt.Sprintf("%s-mail-%d-%d@example.com", mark, p, i)
			if p == 0 && i >= 12 && i < 15 {
				email = mark + "-not-an-email"
			}
			r := record("in", p, fmt.Sprintf("%s-key-%d-%d", mark, p, i),
				fmt.Sprintf(`{"email":%q,"profile_id":"%s-profile-%d","n":%d}`, email, mark, i, i))
			r.Headers = []kgo.RecordHeader{{Key: "trace", Value: []byte(mark + "-header")}}
			if p == 1 && i == 25 {
				r.Value = []byte(mark + "-<html>502 Bad Gateway</html>")
			}
			in = append(in, r)
		}
	}
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, feedConfig("", "quarantine"))
	cfg.Feeds[0].RedactKeys = new(false)
	cfg.Feeds[0].OnDecodeError = "fail"
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte("tok-"+mark+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Admin.TokenFile = tokenFile
	logger, logs := captureLogs(t)
	r := startGate(t, cfg, Options{Logger: logger})
	base := startAdmin(t, r.g)
	waitFor(t, "the halt of partition 1", 30*time.Second, func() bool {
		_, body := httpDo(t, "GET", base+"/api/batches?state=halted", "")
		return strings.Contains(body, `"sponsors:1:20"`)
	})
	if code, body := httpDo(t, "POST", base+"/api/feeds/sponsors/partitions/1/resume", "tok-"+mark); code != 202 {
		t.Fatalf("resume: %d %s", code, body)
	}
	if code, _ := httpDo(t, "POST", base+"/api/feeds/sponsors/partitions/1/resume", "wrong-"+mark); code != 401 {
		t.Fatalf("resume with a wrong token: %d", code)
	}
	out, quar := exactlyOnce(t, []kgo.Opt{kgo.SeedBrokers(brokers...)}, in, 30*time.Second)
	if len(quar) != 20 {
		t.Fatalf("quarantine holds %d records, want the 10 of the failing batch and the 10 of the halting one", len(quar))
	}
	_, metrics := httpDo(t, "GET", base+"/metrics", "")
	_, ready := httpDo(t, "GET", base+"/readyz", "")
	r.stop(t)
	// The decisions do carry the unredacted examples: the marker is there
	// to be found, where it belongs.
	found := false
	for _, d := range consume(t, brokers, "g1.decisions", 1000, 3*time.Second) {
		found = found || strings.Contains(string(d.Value), mark)
	}
	if !found {
		t.Fatal("no decision names an example key: the test proves nothing")
	}
	for what, text := range map[string]string{"log": logs.String(), "/metrics": metrics, "/readyz": ready} {
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, mark) {
				t.Errorf("a key, a value or the token in the %s: %s", what, l)
			}
		}
	}
	t.Logf("%d log lines, %d bytes of /metrics, %d records out, %d quarantined: no key, value or token", strings.Count(logs.String(), "\n"), len(metrics), len(out), len(quar))
}

// TestSASLPasswordRotation: the password file is read at each
// authentication, so a rotated secret takes effect on the next connection
// of clients built before the rotation.
func TestSASLPasswordRotation(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "kafka.password")
	if err := os.WriteFile(pwFile, []byte("old-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := fakeCluster(t, 1, []string{"in"}, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "admin", "admin-pw"),
		kfake.User("SCRAM-SHA-256", "sluice", "old-pw"))
	cfg := secureConfig(t, dir, c.ListenAddrs(), "sasl: {mechanism: SCRAM-SHA-256, username: sluice, password_file: kafka.password}", "quarantine")
	opts := kafkaOpts(t, cfg) // built once, before the rotation
	ping := func() error {
		cl, err := kgo.NewClient(append(opts, kgo.RequestRetries(0))...)
		if err != nil {
			return err
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return cl.Ping(ctx)
	}
	if err := ping(); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	// Rotate: the broker first, then the file.
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(scram.Auth{User: "admin", Pass: "admin-pw"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := kadm.NewClient(admin).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "sluice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "new-pw"}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(); err == nil {
		t.Fatal("the old password still works after the broker changed it")
	}
	if err := os.WriteFile(pwFile, []byte("new-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ping(); err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
	// A file that cannot be read keeps the last good password.
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	if err := ping(); err != nil {
		t.Fatalf("with the file gone: %v", err)
	}
}
