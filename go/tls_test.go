package modsynclog_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modsynclog.dev/go"
	"modsynclog.dev/go/internal/testserver"
)

func TestTLSAndMutualTLS(t *testing.T) {
	certs := testserver.Certs(t)
	f := func(name string) string { return filepath.Join(certs, name) }
	srv := testserver.Start(t, "--tls-cert", f("server.pem"), "--tls-key", f("server.key"),
		"--tls-client-ca", f("ca.pem"))

	// trusted server, client certificate: delivered (an IP address with the name the
	// certificate carries)
	p, err := modsynclog.NewProducer(fmt.Sprintf("https://127.0.0.1:%d", srv.Port), modsynclog.Options{
		TLSCAFile: f("ca.pem"), TLSCertFile: f("client.pem"), TLSKeyFile: f("client.key"), TLSServerName: "localhost",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := p.Commit(7, payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.FlushTimeout(30 * time.Second); err != nil {
		t.Fatalf("flush over mTLS: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	// a CA that did not sign the server's certificate: retried, then a Timeout naming why
	q, err := modsynclog.NewProducer(fmt.Sprintf("https://localhost:%d", srv.Port), modsynclog.Options{
		TLSCAFile: f("other-ca.pem"), TLSCertFile: f("client.pem"), TLSKeyFile: f("client.key"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer q.CloseTimeout(0)
	if err := q.Commit(1, []byte("untrusted")); err != nil {
		t.Fatal(err)
	}
	e := wantKind(t, "flush to an untrusted server", q.FlushTimeout(2*time.Second), modsynclog.Timeout)
	if !strings.Contains(strings.ToLower(e.Message()), "certificate") {
		t.Fatalf("the timeout does not name the certificate problem: %q", e.Message())
	}

	srv.Stop()
	var want []sent
	for i := 0; i < 100; i++ {
		want = append(want, sent{7, payload(i)})
	}
	checkStored(t, srv.Dir, want, time.Now().Add(-time.Minute))
}
