package egress_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tallyhq/tally/egress"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want egress.Class
	}{
		{"8.8.8.8", egress.Public},
		{"93.184.216.34", egress.Public},
		{"2606:4700:4700::1111", egress.Public},
		{"0.0.0.0", egress.Unspecified},
		{"0.1.2.3", egress.Unspecified},
		{"::", egress.Unspecified},
		{"127.0.0.1", egress.Loopback},
		{"127.255.255.254", egress.Loopback},
		{"::1", egress.Loopback},
		{"::ffff:127.0.0.1", egress.Loopback},
		{"10.0.0.1", egress.Private},
		{"172.16.0.1", egress.Private},
		{"172.31.255.255", egress.Private},
		{"172.32.0.1", egress.Public},
		{"192.168.1.1", egress.Private},
		{"::ffff:192.168.1.1", egress.Private},
		{"fc00::1", egress.Private},
		{"fd12:3456::1", egress.Private},
		{"fec0::1", egress.Private},
		{"100.64.0.1", egress.SharedNAT},
		{"100.127.255.255", egress.SharedNAT},
		{"100.128.0.1", egress.Public},
		{"169.254.1.1", egress.LinkLocal},
		{"fe80::1", egress.LinkLocal},
		{"fe80::1%eth0", egress.LinkLocal},
		{"224.0.0.1", egress.Multicast},
		{"239.255.255.250", egress.Multicast},
		{"ff02::1", egress.Multicast},
		{"169.254.169.254", egress.Metadata},
		{"::ffff:169.254.169.254", egress.Metadata},
		{"169.254.170.2", egress.Metadata},
		{"100.100.100.200", egress.Metadata},
		{"168.63.129.16", egress.Metadata},
		{"fd00:ec2::254", egress.Metadata},
		{"fd20:ce::254", egress.Metadata},
		{"255.255.255.255", egress.Reserved},
		{"240.0.0.1", egress.Reserved},
		{"192.0.2.1", egress.Reserved},
		{"198.18.0.1", egress.Reserved},
		{"2001:db8::1", egress.Reserved},
		{"2001::1", egress.Reserved},
		{"::127.0.0.1", egress.Reserved},
		{"4000::1", egress.Reserved},
		// Translation addresses are what they lead to.
		{"64:ff9b::7f00:1", egress.Loopback},
		{"64:ff9b::a9fe:a9fe", egress.Metadata},
		{"64:ff9b::808:808", egress.Public},
		{"64:ff9b:1::a00:1", egress.Private},
		{"2002:7f00:1::1", egress.Loopback},
		{"2002:c0a8:101::1", egress.Private},
		{"2002:808:808::1", egress.Public},
	} {
		if got := egress.Classify(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("Classify(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
	if got := egress.Classify(netip.Addr{}); got != egress.Unspecified {
		t.Errorf("Classify(zero) = %s", got)
	}
}

func TestParseAllowList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // String() of the list; "!" for an error
	}{
		{"", ""},
		{" 127.0.0.0/8 , 10.1.2.3 ", "127.0.0.0/8,10.1.2.3"},
		{"127.0.0.1/8", "127.0.0.0/8"},
		{"::1", "::1"},
		{"[::1]", "::1"},
		{"fd00::/8", "fd00::/8"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"127.0.0.1:9000", "127.0.0.1:9000"},
		{"[::1]:9000", "[::1]:9000"},
		{"Sandbox.Internal.", "sandbox.internal"},
		{"sandbox.internal:9000", "sandbox.internal:9000"},
		{"*.corp.example", "*.corp.example"},
		{"localhost:8080,localhost", "localhost:8080,localhost"},
		{"10.0.0.0/33", "!"},
		{"10.0.0.0/x", "!"},
		{"fe80::1%eth0", "!"},
		{"127.0.0.1:0", "!"},
		{"127.0.0.1:70000", "!"},
		{"host:port", "!"},
		{"*", "!"},
		{"a..b", "!"},
		{"-a.example", "!"},
		{"exa mple.com", "!"},
		{"http://example.com", "!"},
		{"1234", "!"},
		{"::1::", "!"},
	} {
		l, err := egress.ParseAllowList(tc.in)
		if tc.want == "!" {
			if err == nil || !errors.Is(err, egress.ErrBadAllowEntry) {
				t.Errorf("ParseAllowList(%q) = %v, %v; want ErrBadAllowEntry", tc.in, l, err)
			}
			continue
		}
		if err != nil || l.String() != tc.want {
			t.Errorf("ParseAllowList(%q) = %q, %v; want %q", tc.in, l.String(), err, tc.want)
		}
	}
}

func TestAllowListMatches(t *testing.T) {
	l := egress.MustAllowList("127.0.0.0/8", "10.1.2.3:8443", "169.254.0.0/16", "sandbox.internal", "api.corp:9000", "*.svc.local")
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		host, ip string
		ok       bool
	}{
		{"127.0.0.1", "127.0.0.1:80", true},
		{"localhost", "127.0.0.1:9000", true},
		{"10.1.2.3", "10.1.2.3:8443", true},
		{"10.1.2.3", "10.1.2.3:8444", false},
		{"10.1.2.4", "10.1.2.4:8443", false},
		{"169.254.1.1", "169.254.1.1:80", true},
		// A wide network never opens a metadata address.
		{"169.254.169.254", "169.254.169.254:80", false},
		{"sandbox.internal", "10.9.9.9:443", true},
		{"SANDBOX.internal.", "10.9.9.9:443", true},
		{"api.corp", "10.9.9.9:9000", true},
		{"api.corp", "10.9.9.9:9001", false},
		{"a.svc.local", "192.168.0.1:80", true},
		{"svc.local", "192.168.0.1:80", false},
		{"evil.example", "192.168.0.1:80", false},
		{"evil.example", "8.8.8.8:443", true},
	} {
		err := egress.New(l).Check(tc.host, ap(tc.ip))
		if (err == nil) != tc.ok {
			t.Errorf("Check(%s, %s) = %v, want allowed %v", tc.host, tc.ip, err, tc.ok)
		}
		if err != nil && !errors.Is(err, egress.ErrRefused) {
			t.Errorf("Check(%s, %s) = %v, not ErrRefused", tc.host, tc.ip, err)
		}
	}
	exact := egress.New(egress.MustAllowList("169.254.169.254"))
	if err := exact.Check("169.254.169.254", ap("169.254.169.254:80")); err != nil {
		t.Errorf("an entry naming the metadata address: %v", err)
	}
	var nilPolicy *egress.Policy
	if err := nilPolicy.Check("x", ap("127.0.0.1:1")); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("nil policy allows loopback: %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	def := egress.Default()
	allow := egress.New(egress.MustAllowList("127.0.0.1:9000", "localhost:8080"))
	for _, tc := range []struct {
		p    *egress.Policy
		url  string
		want error
	}{
		{def, "https://api.cpay.ltd/", nil},
		{def, "https://unknown.example/x", nil}, // names are checked when tally connects
		{def, "http://127.0.0.1:9000/cpay", egress.ErrRefused},
		{def, "http://[::1]/", egress.ErrRefused},
		{def, "http://169.254.169.254/latest/meta-data/", egress.ErrRefused},
		{def, "http://[fd00:ec2::254]/", egress.ErrRefused},
		{def, "http://localhost:8080/", egress.ErrRefused},
		{def, "http://a.b.localhost/", egress.ErrRefused},
		{def, "http://10.0.0.1/", egress.ErrRefused},
		{def, "ftp://example.com/", egress.ErrBadURL},
		{def, "http:///x", egress.ErrBadURL},
		{def, "http://example.com:0/", egress.ErrBadURL},
		{allow, "http://127.0.0.1:9000/cpay", nil},
		{allow, "http://127.0.0.1:9001/cpay", egress.ErrRefused},
		{allow, "http://localhost:8080/", nil},
		{allow, "http://localhost:8081/", egress.ErrRefused},
	} {
		err := tc.p.CheckURL(tc.url)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("CheckURL(%s) = %v, want %v", tc.url, err, tc.want)
		}
	}
}

// listener counts the connections it accepts.
type listener struct {
	srv   *httptest.Server
	conns atomic.Int64
	host  string // host:port
}

func newListener(t *testing.T, h http.Handler) *listener {
	t.Helper()
	l := &listener{}
	l.srv = httptest.NewUnstartedServer(h)
	l.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			l.conns.Add(1)
		}
	}
	l.srv.Start()
	t.Cleanup(l.srv.Close)
	u, _ := url.Parse(l.srv.URL)
	l.host = u.Host
	return l
}

func ok() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
}

func TestDialRefusesLoopback(t *testing.T) {
	l := newListener(t, ok())
	c := egress.Default().Client(5 * time.Second)
	_, err := c.Get(l.srv.URL)
	var re *egress.RefusedError
	if !errors.Is(err, egress.ErrRefused) || !errors.As(err, &re) || re.Class != egress.Loopback {
		t.Fatalf("GET %s = %v, want a loopback refusal", l.srv.URL, err)
	}
	if !strings.Contains(err.Error(), l.host) {
		t.Errorf("the refusal does not name the address: %v", err)
	}
	if n := l.conns.Load(); n != 0 {
		t.Fatalf("the listener saw %d connections", n)
	}
	allowed := egress.New(egress.MustAllowList(l.host)).Client(5 * time.Second)
	resp, err := allowed.Get(l.srv.URL)
	if err != nil {
		t.Fatalf("allowed GET: %v", err)
	}
	resp.Body.Close()
	if n := l.conns.Load(); n != 1 {
		t.Fatalf("the listener saw %d connections, want 1", n)
	}
}

// TestDialRefusesNamesResolvingInside: a name is checked on the address it
// resolves to when tally connects: localhost (the system resolver), and a
// name a rebinding DNS server answers with a public address first and
// 127.0.0.1 afterwards.
func TestDialRefusesNamesResolvingInside(t *testing.T) {
	l := newListener(t, ok())
	_, port, _ := net.SplitHostPort(l.host)
	if _, err := egress.Default().Client(5 * time.Second).Get("http://localhost:" + port + "/"); !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("GET localhost: %v, want ErrRefused", err)
	}
	var asked atomic.Int64
	rebinding := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host != "rebind.test" {
			return nil, errors.New("no such host")
		}
		if asked.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil // what a check made in advance would have seen
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	p := egress.New(egress.AllowList{}, egress.WithLookup(rebinding))
	if err := p.CheckURL("http://rebind.test:" + port + "/"); err != nil {
		t.Fatalf("CheckURL of a name: %v", err)
	}
	_, _ = rebinding(context.Background(), "rebind.test") // the first answer, public, is spent
	_, err := p.Client(5 * time.Second).Get("http://rebind.test:" + port + "/")
	if !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("GET rebind.test: %v, want ErrRefused", err)
	}
	if n := l.conns.Load(); n != 0 {
		t.Fatalf("the listener saw %d connections", n)
	}
	// The operator allows the name: every address it resolves to is allowed.
	named := egress.New(egress.MustAllowList("rebind.test"), egress.WithLookup(rebinding))
	resp, err := named.Client(5 * time.Second).Get("http://rebind.test:" + port + "/")
	if err != nil {
		t.Fatalf("GET an allowed name: %v", err)
	}
	resp.Body.Close()
}

func TestNoRedirect(t *testing.T) {
	second := newListener(t, ok())
	first := newListener(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, second.srv.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	c := egress.New(egress.MustAllowList("127.0.0.0/8")).Client(5 * time.Second)
	resp, err := c.Post(first.srv.URL, "application/json", strings.NewReader(`{"signed":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("status %d, want the 307 itself", resp.StatusCode)
	}
	if n := second.conns.Load(); n != 0 {
		t.Fatalf("the redirect target saw %d connections", n)
	}
}

func TestTLSVerified(t *testing.T) {
	srv := httptest.NewTLSServer(ok()) // a certificate no root signs
	t.Cleanup(srv.Close)
	c := egress.New(egress.MustAllowList("127.0.0.0/8")).Client(5 * time.Second)
	if _, err := c.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("GET over TLS with an unknown certificate: %v, want a certificate error", err)
	}
	if tr := egress.Default().Transport(); tr.TLSClientConfig.InsecureSkipVerify || tr.Proxy != nil {
		t.Fatal("the transport skips verification or uses a proxy")
	}
}

// FuzzParseAllowList: whatever it reads, it prints back as a list that reads
// the same, and it never panics.
func FuzzParseAllowList(f *testing.F) {
	for _, s := range []string{"127.0.0.0/8", "10.1.2.3:80,[::1]:9000", "*.corp.example", "sandbox.internal:9000", "::ffff:10.0.0.0/104", "a,,b", "[::1]", "1.2.3.4/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := egress.ParseAllowList(s)
		if err != nil {
			if !errors.Is(err, egress.ErrBadAllowEntry) {
				t.Fatalf("%q: %v does not wrap ErrBadAllowEntry", s, err)
			}
			return
		}
		again, err := egress.ParseAllowList(l.String())
		if err != nil || again.String() != l.String() {
			t.Fatalf("%q printed as %q reads as %q, %v", s, l.String(), again.String(), err)
		}
		// Whatever it allows, it never opens a metadata address through a network wider than it.
		if low := strings.ToLower(s); !strings.Contains(low, "169.254.169.254") && !strings.Contains(low, "a9fe") && l.AllowsAddr(netip.MustParseAddrPort("169.254.169.254:80"), egress.Metadata) {
			t.Fatalf("%q allows the metadata address", s)
		}
	})
}
