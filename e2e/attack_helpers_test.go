package e2e_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tallyhq/tally/tallytest"
)

// insideService is a listener standing for a service inside tally's network
// (an admin port, a database console, a metadata endpoint): it counts every
// TCP connection it accepts, and answers HTTP with its handler.
type insideService struct {
	URL   string // http://127.0.0.1:<port>
	Host  string // 127.0.0.1:<port>
	Port  string
	conns atomic.Int64
}

// Conns is how many connections reached the service.
func (s *insideService) Conns() int64 { return s.conns.Load() }

type countingListener struct {
	net.Listener
	s *insideService
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.conns.Add(1)
	}
	return c, err
}

func newInsideService(t *testing.T, h http.Handler) *insideService {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &insideService{Host: ln.Addr().String()}
	s.URL = "http://" + s.Host
	_, s.Port, _ = net.SplitHostPort(s.Host)
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"code":200,"success":true,"data":{"secret":"inside-only"}}`))
		})
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(countingListener{ln, s}) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// forceBaseURL writes a provider account's base URL straight into the
// database, past every check of the API and the CLI (a row an attacker
// reached, an old row from before the policy), and waits until every
// process has read it again (the account cache's 2 s).
func forceBaseURL(t *testing.T, e *tallytest.Env, account, base string) {
	t.Helper()
	if _, err := e.Pool.Exec(context.Background(), `UPDATE provider_accounts SET base_url = $1, updated_at = now() WHERE name = $2`, base, account); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2200 * time.Millisecond)
}

// lockedBuffer collects logs written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
