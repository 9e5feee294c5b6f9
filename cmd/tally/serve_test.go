package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/secrets"
)

// tally serve terminates TLS itself with --tls-cert and --tls-key: HTTPS on the
// public listener (TLS 1.2 at least, plain HTTP refused), while metrics,
// readiness and pprof are on the admin listener only.
func TestServeTLSAndAdminListener(t *testing.T) {
	t.Setenv(secrets.EnvKey, secrets.GenerateKey())
	_, dbURL := testdb.NewWithURL(t)
	certFile, keyFile, roots := selfSigned(t)
	pub, adm := freeAddr(t), freeAddr(t)
	stop := start(t, dbURL, "serve", "--addr", pub, "--admin-addr", adm, "--tls-cert", certFile, "--tls-key", keyFile,
		"--workers=false", "--schedule=false", "--pool-size", "4")
	defer stop()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp := eventually(t, client, "https://"+pub+"/healthz")
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("healthz over %+v", resp.TLS)
	}
	for path, want := range map[string]int{"/openapi.json": 200, "/v1/orders": 401, "/metrics": 404, "/readyz": 404, "/debug/pprof/": 404} {
		if got := status(t, client, "https://"+pub+path); got != want {
			t.Errorf("public %s = %d, want %d", path, got, want)
		}
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/debug/pprof/": 200, "/v1/orders": 404} {
		if got := status(t, http.DefaultClient, "http://"+adm+path); got != want {
			t.Errorf("admin %s = %d, want %d", path, got, want)
		}
	}
	// A client that offers only TLS 1.1 is refused at the handshake.
	old := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	if r, err := old.Get("https://" + pub + "/healthz"); err == nil {
		r.Body.Close()
		t.Fatal("a TLS 1.1 client was served")
	}
	// Plain HTTP on the TLS port gets no answer of the API.
	if got := status(t, http.DefaultClient, "http://"+pub+"/healthz"); got != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS port = %d, want 400", got)
	}
}

// tally worker has an admin listener of its own: health, readiness and its
// workers' metrics.
func TestWorkerAdminListener(t *testing.T) {
	t.Setenv(secrets.EnvKey, secrets.GenerateKey())
	_, dbURL := testdb.NewWithURL(t)
	adm := freeAddr(t)
	stop := start(t, dbURL, "worker", "--public-url", "https://tally.example", "--admin-addr", adm, "--schedule=false", "--pool-size", "4")
	defer stop()
	eventually(t, http.DefaultClient, "http://"+adm+"/healthz")
	if got := status(t, http.DefaultClient, "http://"+adm+"/readyz"); got != http.StatusOK {
		t.Errorf("readyz = %d", got)
	}
	resp, err := http.Get("http://" + adm + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `tally_callbacks_applied_total{path="group"}`) || !strings.Contains(string(b), "go_goroutines") {
		t.Errorf("worker metrics:\n%s", b)
	}
}

// Only one of --tls-cert and --tls-key is refused before anything starts; so
// is a pair that does not load.
func TestServeTLSFlags(t *testing.T) {
	t.Setenv(secrets.EnvKey, secrets.GenerateKey())
	certFile, keyFile, _ := selfSigned(t)
	for _, args := range [][]string{{"--tls-cert", certFile}, {"--tls-key", keyFile}} {
		if _, err := run(t, "postgres://nowhere.invalid:1/x", append([]string{"serve"}, args...)...); !errors.Is(err, errTLSPair) {
			t.Errorf("serve %v: %v, want errTLSPair", args, err)
		}
	}
	if _, err := run(t, "postgres://nowhere.invalid:1/x", "serve", "--tls-cert", keyFile, "--tls-key", certFile); err == nil ||
		!strings.Contains(err.Error(), "load --tls-cert") {
		t.Errorf("serve with the files swapped: %v", err)
	}
}

// start runs the tally command line in the background until stop.
func start(t *testing.T, dbURL string, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRoot()
	root.SetOut(io.Discard)
	root.SetArgs(append([]string{"--database-url", dbURL, "--log-level", "error"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("tally %s: %v", strings.Join(args, " "), err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("tally %s did not stop", strings.Join(args, " "))
		}
	}
}

// eventually GETs url until it answers 200 (the process is starting).
func eventually(t *testing.T, c *http.Client, url string) *http.Response {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return resp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func status(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and localhost
// and its key (PEM), and returns their paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tally test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}
