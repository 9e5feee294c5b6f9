package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
	"github.com/tallyhq/tally/sandbox"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/tallytest"
)

// The scale-out test's processes and their database pools (--pool-size):
// every connection is reserved in the suite's budget (testdb.Reserve).
const (
	scaleServePool  = 4
	scaleWorkerPool = 8
	scaleOrders     = 200
	// scaleHeld orders have their rows locked while their callbacks arrive,
	// so that both workers are inside a callback's transaction when one dies.
	scaleHeld = 20
)

// TestScaleOutTwoServersTwoWorkersOneKilled runs tally as a deploy on several
// machines would: the real tally binary as two `tally serve` processes with
// workers and schedule off (behind a round-robin load balancer for the
// provider's callbacks) and two `tally worker` processes, one PostgreSQL,
// the provider sandbox. A burst of deposits goes through both servers, and
// their callbacks through the balancer; the worker that leads the schedule
// is killed with SIGKILL while it is inside a callback's transaction. Every
// callback the servers acknowledged is posted once, every order was created
// at the provider once, the schedule's leadership moved to the live worker,
// and `tally ledger check` passes.
func TestScaleOutTwoServersTwoWorkersOneKilled(t *testing.T) {
	t.Parallel()
	const wait = 2 * time.Minute // every wait on state: generous under load
	ctx := context.Background()
	bin := buildTally(t)
	begun := time.Now()

	// One database for everything: the test's pool, the four processes'
	// pools and `tally ledger check`'s (pgx's default, 4 on small machines).
	pool, dbURL := testdb.NewWithURLReserving(t, 2*scaleServePool+2*scaleWorkerPool+4)
	key := bytes.Repeat([]byte{9}, 32)
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}

	// The provider: the sandbox, counting every create call per order number.
	creates := newCreateCounter()
	sbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sbURL := "http://" + sbLn.Addr().String()
	sb, err := sandbox.New(sandbox.Config{BaseURL: sbURL, Merchants: sandbox.CommandMerchants(), Scale: 600, Seed: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sbSrv := &httptest.Server{Listener: sbLn, Config: &http.Server{Handler: creates.wrap(sb.Handler())}}
	sbSrv.Start()
	t.Cleanup(sbSrv.Close)
	t.Cleanup(sb.Close)
	engine := sb.Simulator("cxpay").Engine()

	// The merchant's webhook receiver (the workers deliver to it).
	var hooks atomic.Int64
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hooks.Add(1)
	}))
	t.Cleanup(hookSrv.Close)

	// The load balancer in front of the servers: providers reach tally here.
	lb := newBalancer(t)

	// The operator's setup, as `tally merchant create`, `tally apikey create`
	// and `tally account add` do it.
	allow := egress.MustAllowList("127.0.0.0/8")
	setup, err := app.New(ctx, app.Config{Pool: pool, Box: box, PublicURL: lb.URL, Egress: egress.New(allow),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = setup.Close(context.Background()) })
	m, _, err := setup.Merchants.CreateMerchant(ctx, "acme", "Acme", hookSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	apiKey, _, err := setup.Merchants.CreateAPIKey(ctx, "acme", "scale-out", merchants.AllScopes()...)
	if err != nil {
		t.Fatal(err)
	}
	cred := sandbox.DefaultCredentials["cxpay"]
	if _, err := setup.Merchants.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: "acme", Name: "cxpay-main",
		Provider: "cxpay", BaseURL: sbURL + "/cxpay", ProviderMerchantID: cred.ID, Secret: cred.Secret,
		Options: tallytest.AccountOptions("cxpay"), Operator: true}); err != nil {
		t.Fatal(err)
	}

	// The processes: two API nodes, two workers.
	env := []string{"DATABASE_URL=" + dbURL, "TALLY_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key)}
	common := []string{"--log-json", "--egress-allow", "127.0.0.0/8", "--admin-addr", "127.0.0.1:0"}
	var servers [2]*tallyProc
	for i := range servers {
		servers[i] = startTally(t, bin, fmt.Sprintf("serve-%d", i+1), env, append([]string{"serve", "--addr", "127.0.0.1:0",
			"--public-url", lb.URL, "--workers=false", "--schedule=false", "--pool-size", fmt.Sprint(scaleServePool)}, common...)...)
	}
	var workers [2]*tallyProc
	for i := range workers {
		workers[i] = startTally(t, bin, fmt.Sprintf("worker-%d", i+1), env, append([]string{"worker", "--public-url", lb.URL,
			"--pool-size", fmt.Sprint(scaleWorkerPool), "--callback-workers", "16", "--webhook-workers", "4",
			// A tick a second: the schedule's elector is asked every second.
			// Open orders are never old enough to be polled.
			"--sync-every", "1s", "--sync-age", "1h"}, common...)...)
	}
	for _, p := range append(servers[:], workers[:]...) {
		p.waitListening(t, wait)
	}
	lb.set(servers[0].public, servers[1].public)

	// One worker leads the schedule; the database and its metrics say which.
	leader, survivor := waitScheduleLeader(t, pool, workers[:], wait)
	t.Logf("four processes ready %s after the build; schedule leader: %s (pid %d)", time.Since(begun).Round(10*time.Millisecond),
		leader.name, leader.pid())
	waitGauge(t, leader, 1, wait)
	waitGauge(t, survivor, 0, wait)

	// The deposits, half through each server.
	started := time.Now()
	type sent struct {
		order  orders.Order
		amount decimal.Decimal
	}
	deposits := make([]sent, scaleOrders)
	if err := parallel(scaleOrders, 16, func(i int) error {
		amount := decimal.New(int64(1000+i), -2) // 10.00, 10.01, ...
		body, err := json.Marshal(map[string]any{"provider_account": "cxpay-main", "customer_id": fmt.Sprintf("so-%03d", i),
			"amount": amount.StringFixed(2), "currency": "BRL",
			"payer": providers.Party{Name: "Ana", TaxID: "12345678901", Email: "ana@example.com", Phone: "+5511999999999"}})
		if err != nil {
			return err
		}
		o, err := postDeposit(servers[i%2].public, apiKey, fmt.Sprintf("scale-%d", i), body)
		if err != nil {
			return fmt.Errorf("deposit %d through %s: %w", i, servers[i%2].name, err)
		}
		deposits[i] = sent{o, amount}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, wait, "every deposit submitted to the provider", func() (bool, string) {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE submit_state = 'submitted'`).Scan(&n)
		return err == nil && n == scaleOrders, fmt.Sprintf("%d of %d submitted (%v)", n, scaleOrders, err)
	})

	// Hold some orders' rows: the callback jobs that reach them wait inside
	// their transaction, on whichever worker took them.
	held := make([]int64, 0, scaleHeld)
	for i := 0; i < scaleOrders && len(held) < scaleHeld; i += scaleOrders / scaleHeld {
		held = append(held, deposits[i].order.ID)
	}
	lockTx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lockTx.Rollback(ctx)
	if _, err := lockTx.Exec(ctx, `SELECT id FROM orders WHERE id = ANY($1) FOR UPDATE`, held); err != nil {
		t.Fatal(err)
	}

	// The payers pay: the sandbox calls back through the balancer.
	if err := parallel(scaleOrders, 16, func(i int) error {
		return payAtSandbox(sbURL, deposits[i].order.ProviderOrderNo)
	}); err != nil {
		t.Fatal(err)
	}

	// Mid-burst: the leader is inside a callback's transaction (waiting on
	// a held row) and callbacks are still unposted. Kill it.
	waitFor(t, wait, leader.name+" inside a callback's transaction", func() (bool, string) {
		n, err := waitingOnLocks(ctx, pool, leader)
		return err == nil && n > 0, fmt.Sprintf("%d sessions waiting (%v)", n, err)
	})
	var posted int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE status = 'succeeded'`).Scan(&posted); err != nil {
		t.Fatal(err)
	}
	if posted >= scaleOrders {
		t.Fatalf("every order already succeeded before the kill: not mid-burst")
	}
	leader.kill(t)
	killed := time.Now()
	if err := lockTx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s (SIGKILL) %s into the burst, %d of %d orders posted, %d callbacks acknowledged",
		leader.name, killed.Sub(started).Round(10*time.Millisecond), posted, scaleOrders, len(acked(engine)))

	// The schedule's leadership moves to the live worker.
	waitFor(t, wait, "the schedule's leadership to move to "+survivor.name, func() (bool, string) {
		l, err := jobs.ScheduleLeaderOf(ctx, pool)
		return err == nil && survivor.owns(l.ApplicationName), fmt.Sprintf("leader %q (%v)", l.ApplicationName, err)
	})
	t.Logf("%s leads the schedule %s after the kill", survivor.name, time.Since(killed).Round(10*time.Millisecond))
	waitGauge(t, survivor, 1, wait)
	if !survivor.logged("became schedule leader") {
		t.Errorf("%s never logged that it became the schedule leader", survivor.name)
	}

	// Every order paid and posted.
	waitFor(t, wait, "every order succeeded", func() (bool, string) {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE status = 'succeeded'`).Scan(&n)
		return err == nil && n == scaleOrders, fmt.Sprintf("%d of %d succeeded (%v)", n, scaleOrders, err)
	})
	t.Logf("every order posted %s after the kill, %s after the burst began", time.Since(killed).Round(10*time.Millisecond),
		time.Since(started).Round(10*time.Millisecond))

	// Every acknowledged callback posted exactly once: each customer holds
	// exactly the amount of the deposit it paid.
	ack := acked(engine)
	for i, d := range deposits {
		no := d.order.ProviderOrderNo
		if ack[no] == 0 {
			t.Errorf("deposit %d (%s): no callback acknowledged", i, no)
			continue
		}
		b, err := setup.Ledger.Balance(ctx, m.ID, ledger.CustomerAccount(d.order.CustomerID, "BRL"))
		if err != nil {
			t.Errorf("deposit %d: balance: %v", i, err)
			continue
		}
		if !b.Posted.Equal(d.amount) {
			t.Errorf("deposit %d (%s): customer %s holds %s, want %s posted once", i, no, d.order.CustomerID, b.Posted, d.amount)
		}
	}
	// Every order created at the provider exactly once.
	book := map[string]int{}
	for _, o := range engine.Orders() {
		book[o.OrderNo]++
	}
	for i, d := range deposits {
		no := d.order.ProviderOrderNo
		if book[no] != 1 || creates.count(no) != 1 {
			t.Errorf("deposit %d (%s): %d orders at the provider from %d create calls, want 1 from 1", i, no, book[no], creates.count(no))
		}
	}
	// Both servers took callbacks (the balancer's record).
	for i, s := range servers {
		if n := lb.acks(i); n == 0 {
			t.Errorf("%s acknowledged no callback", s.name)
		}
	}
	t.Logf("callbacks acknowledged by %s: %d, by %s: %d; webhooks delivered: %d", servers[0].name, lb.acks(0), servers[1].name, lb.acks(1), hooks.Load())

	// The operator's check of the ledger.
	check := exec.Command(bin, "ledger", "check")
	check.Env = tallyEnv(env)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("tally ledger check: %v\n%s", err, out)
	}
}

// buildTally builds cmd/tally into a temporary directory, with the race
// detector when this test binary has it (sharing the build cache).
func buildTally(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the scale-out test builds the tally binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "tally")
	args := []string{"build", "-o", bin}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	start := time.Now()
	cmd := exec.Command(goBin, append(args, "github.com/tallyhq/tally/cmd/tally")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("built tally in %s", time.Since(start).Round(100*time.Millisecond))
	return bin
}

// tallyEnv is the test's environment without TALLY_ variables (they would
// set flags), with env added.
func tallyEnv(env []string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TALLY_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// tallyProc is a tally process of the test: its JSON log lines are kept (and
// printed when the test fails).
type tallyProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}

	mu            sync.Mutex
	lines         []string
	public, admin string // listener URLs
}

// startTally starts bin with args; it is killed when the test ends.
func startTally(t *testing.T, bin, name string, env []string, args ...string) *tallyProc {
	t.Helper()
	p := &tallyProc{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = tallyEnv(env)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.record(sc.Text())
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			p.mu.Lock()
			tail := p.lines[max(0, len(p.lines)-30):]
			p.mu.Unlock()
			t.Logf("%s (pid %d), last log lines:\n%s", name, p.pid(), strings.Join(tail, "\n"))
		}
	})
	return p
}

func (p *tallyProc) pid() int { return p.cmd.Process.Pid }

// record keeps a log line and the listeners' addresses it announces.
func (p *tallyProc) record(line string) {
	var l struct {
		Msg, Listener, Addr string
	}
	_ = json.Unmarshal([]byte(line), &l)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, line)
	if l.Msg == "tally listening" {
		switch l.Listener {
		case "public":
			p.public = "http://" + l.Addr
		case "admin":
			p.admin = "http://" + l.Addr
		}
	}
}

// waitListening waits until the process's listeners are up (serve: public
// and admin; worker: admin) and its admin listener says it is ready.
func (p *tallyProc) waitListening(t *testing.T, d time.Duration) {
	t.Helper()
	serve := p.cmd.Args[1] == "serve"
	waitFor(t, d, p.name+" listening and ready", func() (bool, string) {
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v", p.name, p.cmd.Wait())
		default:
		}
		p.mu.Lock()
		public, admin := p.public, p.admin
		p.mu.Unlock()
		if admin == "" || (serve && public == "") {
			return false, "not listening yet"
		}
		resp, err := http.Get(admin + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// logged reports whether the process logged a line with msg.
func (p *tallyProc) logged(msg string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if strings.Contains(l, `"msg":"`+msg+`"`) && strings.Contains(l, fmt.Sprintf(`"pid":%d`, p.pid())) {
			return true
		}
	}
	return false
}

// owns reports whether a database session's application_name is this
// process's (tally names it "tally <command> pid=<pid> host=<host>").
func (p *tallyProc) owns(applicationName string) bool {
	return strings.HasPrefix(applicationName, fmt.Sprintf("tally %s pid=%d ", p.cmd.Args[1], p.pid()))
}

// kill kills the process with SIGKILL and waits for it to be gone.
func (p *tallyProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	_ = p.cmd.Wait()
}

// waitScheduleLeader waits until one of the workers leads the schedule (the
// holder of its advisory lock, by application_name) and returns it and the
// other.
func waitScheduleLeader(t *testing.T, pool *pgxpool.Pool, ws []*tallyProc, d time.Duration) (leader, other *tallyProc) {
	t.Helper()
	waitFor(t, d, "a worker to lead the schedule", func() (bool, string) {
		l, err := jobs.ScheduleLeaderOf(context.Background(), pool)
		if err != nil {
			return false, err.Error()
		}
		for i, w := range ws {
			if w.owns(l.ApplicationName) {
				leader, other = w, ws[1-i]
				return true, ""
			}
		}
		return false, "led by " + l.ApplicationName
	})
	return leader, other
}

// waitGauge waits until the process's tally_scheduler_leader gauge reads v.
func waitGauge(t *testing.T, p *tallyProc, v int, d time.Duration) {
	t.Helper()
	want := fmt.Sprintf("\ntally_scheduler_leader %d\n", v)
	waitFor(t, d, fmt.Sprintf("%s's tally_scheduler_leader to read %d", p.name, v), func() (bool, string) {
		resp, err := http.Get(p.admin + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), want), resp.Status
	})
}

// waitingOnLocks counts the process's database sessions waiting for a lock.
func waitingOnLocks(ctx context.Context, pool *pgxpool.Pool, p *tallyProc) (int, error) {
	rows, err := pool.Query(ctx, `SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return 0, err
		}
		if p.owns(name) {
			n++
		}
	}
	return n, rows.Err()
}

// waitFor polls cond until it holds, failing the test after d with cond's
// last word.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", d, what, why)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// parallel runs f(0) ... f(n-1), limit at a time, and returns their errors.
func parallel(n, limit int, f func(i int) error) error {
	sem := make(chan struct{}, limit)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = f(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// postDeposit creates a deposit through one server's merchant API.
func postDeposit(base, apiKey, idem string, body []byte) (orders.Order, error) {
	req, err := http.NewRequest("POST", base+"/v1/deposits", bytes.NewReader(body))
	if err != nil {
		return orders.Order{}, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idem)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return orders.Order{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return orders.Order{}, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var o orders.Order
	if err := json.Unmarshal(b, &o); err != nil {
		return orders.Order{}, fmt.Errorf("decode %s: %w", b, err)
	}
	return o, nil
}

// payAtSandbox pays an order at the provider (the sandbox's control API): the
// provider then calls back.
func payAtSandbox(sbURL, orderNo string) error {
	resp, err := http.Post(sbURL+"/control/cxpay/orders/"+url.PathEscape(orderNo)+"/pay", "application/json", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("pay %s: %s %s", orderNo, resp.Status, b)
	}
	return nil
}

// acked counts the callbacks tally acknowledged per order number, from the
// provider's own delivery log.
func acked(e *sim.Engine) map[string]int {
	out := map[string]int{}
	for _, d := range e.Deliveries() {
		if d.Acked {
			out[d.OrderNo]++
		}
	}
	return out
}

// createCounter counts the create calls the sandbox's CXPay receives per
// merchant order number (orderId), whatever it answers.
type createCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func newCreateCounter() *createCounter { return &createCounter{n: map[string]int{}} }

func (c *createCounter) count(orderNo string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[orderNo]
}

func (c *createCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cxpay/collect/create" {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			var p struct {
				OrderID string `json:"orderId"`
			}
			if json.Unmarshal(b, &p) != nil || p.OrderID == "" {
				if q, err := url.ParseQuery(string(b)); err == nil {
					p.OrderID = q.Get("orderId")
				}
			}
			c.mu.Lock()
			c.n[p.OrderID]++
			c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// balancer is a round-robin reverse proxy in front of the servers, counting
// the callbacks each acknowledged (2xx).
type balancer struct {
	*httptest.Server
	mu       sync.Mutex
	backends []*url.URL
	next     atomic.Uint64
	ack      [2]atomic.Int64
}

func newBalancer(t *testing.T) *balancer {
	b := &balancer{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			b.mu.Lock()
			i := int(b.next.Add(1) % uint64(len(b.backends)))
			u := b.backends[i]
			b.mu.Unlock()
			r.SetURL(u)
			r.Out.Header.Set("X-Backend", fmt.Sprint(i))
		},
		ModifyResponse: func(resp *http.Response) error {
			if strings.HasPrefix(resp.Request.URL.Path, "/callbacks/") && resp.StatusCode/100 == 2 {
				var i int
				_, _ = fmt.Sscan(resp.Request.Header.Get("X-Backend"), &i)
				b.ack[i].Add(1)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, err.Error(), http.StatusBadGateway)
		},
	}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		ready := len(b.backends) > 0
		b.mu.Unlock()
		if !ready {
			http.Error(w, "no backend yet", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

// set names the servers behind the balancer.
func (b *balancer) set(urls ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			panic(errors.Join(errors.New("balancer backend"), err))
		}
		b.backends = append(b.backends, u)
	}
}

// acks is how many callbacks server i acknowledged.
func (b *balancer) acks(i int) int64 { return b.ack[i].Load() }
