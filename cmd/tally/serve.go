package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/server"
)

func init() {
	extraCommands = append(extraCommands, newServeCmd, newWorkerCmd)
}

// runtimeFlags are the flags of serve and worker.
type runtimeFlags struct {
	workers, schedule bool
	poolSize          int32
	callbackWorkers   int
	webhookWorkers    int
	syncEvery         time.Duration
	syncAge           time.Duration
	reconEvery        time.Duration
	reconLag          time.Duration
}

func (f *runtimeFlags) bind(cmd *cobra.Command, serve bool) {
	cmd.Flags().BoolVar(&f.schedule, "schedule", true, "run the periodic schedule (one leader across all processes)")
	if serve {
		cmd.Flags().BoolVar(&f.workers, "workers", true, "run River workers in this process (false: API only)")
	}
	cmd.Flags().Int32Var(&f.poolSize, "pool-size", 40, "database connections")
	cmd.Flags().IntVar(&f.callbackWorkers, "callback-workers", 64, "workers processing provider callbacks (their jobs share group transactions: too few make small groups)")
	cmd.Flags().IntVar(&f.webhookWorkers, "webhook-workers", 16, "merchant webhook dispatchers this process runs at once (one per merchant with webhooks due; each delivers up to 32 of its merchant's orders at once)")
	cmd.Flags().DurationVar(&f.syncEvery, "sync-every", 30*time.Second, "how often open orders are polled through providers' query APIs")
	cmd.Flags().DurationVar(&f.syncAge, "sync-age", time.Minute, "how old an open order must be before it is polled")
	cmd.Flags().DurationVar(&f.reconEvery, "recon-every", 15*time.Minute, "reconciliation window: every provider account is reconciled (orders and balances) once per window")
	cmd.Flags().DurationVar(&f.reconLag, "recon-lag", 5*time.Minute, "how long after a window ends it is reconciled (late callbacks land first)")
}

// options are the jobs options of the flags: the schedule includes
// reconciliation (jobs.ReconSchedule).
func (f *runtimeFlags) options() jobs.Options {
	return jobs.Options{Workers: f.workers, Schedule: f.schedule, CallbackWorkers: f.callbackWorkers, WebhookWorkers: f.webhookWorkers,
		SyncEvery: f.syncEvery, SyncAge: f.syncAge, Logger: slog.Default(),
		Recon: &jobs.ReconSchedule{Every: f.reconEvery, Lag: f.reconLag}}
}

// ingressFlags are serve's callback ingress limits.
type ingressFlags struct {
	limits         server.IngressOptions
	samplesPerHour int
	legacyRoutes   bool
}

func (f *ingressFlags) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Float64Var(&f.limits.Rate, "callback-rate", server.DefaultCallbackRate, "callback deliveries per second to one provider account, verified or not (a token bucket; beyond it 503 with Retry-After, nothing stored); negative: no limit")
	fl.IntVar(&f.limits.Burst, "callback-burst", server.DefaultCallbackBurst, "burst of --callback-rate")
	fl.Float64Var(&f.limits.RejectRate, "callback-reject-rate", server.DefaultCallbackRejectRate, "failed callback deliveries per second (unknown key, wrong method, too large, bad signature) per source address and per provider account; beyond it 503 with Retry-After, nothing stored or counted; negative: no limit")
	fl.IntVar(&f.limits.RejectBurst, "callback-reject-burst", server.DefaultCallbackRejectBurst, "burst of --callback-reject-rate")
	fl.IntVar(&f.samplesPerHour, "rejected-samples-per-hour", callbacks.DefaultRejectedSamplesPerHour, "rejected callback deliveries per provider account and hour kept in the inbox as samples; the rest are only counted (0: none kept)")
	fl.BoolVar(&f.legacyRoutes, "legacy-callback-routes", false, "also route /callbacks/<account name> to the accounts that existed before callback keys (migration 00025), for the orders sent before it; a migration window, off by default")
}

func (f *ingressFlags) tune(c *app.Config) {
	c.Callbacks.RejectedSamplesPerHour = f.samplesPerHour
	if f.samplesPerHour == 0 {
		c.Callbacks.RejectedSamplesPerHour = -1 // none kept (zero is the default in callbacks.Options)
	}
	c.Adapters.LegacyCallbackRoutes = f.legacyRoutes
}

func newServeCmd(g *globals) *cobra.Command {
	var addr, publicURL, adminAddr, tlsCert, tlsKey string
	var proxies []string
	var authBurst int
	var authRate float64
	f := &runtimeFlags{}
	in := &ingressFlags{}
	tf := &tracingFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP server (merchant API, callback ingress) and, unless told otherwise, the workers and the schedule",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := g.requireDatabaseURL("serve"); err != nil {
				return err
			}
			tlsCfg, err := loadTLS(tlsCert, tlsKey)
			if err != nil {
				return err
			}
			trusted, err := server.ParseTrustedProxies(proxies)
			if err != nil {
				return fmt.Errorf("--trusted-proxies: %w", err)
			}
			if publicURL == "" {
				publicURL = "http://" + addr
				if tlsCfg != nil {
					publicURL = "https://" + addr
				}
			}
			if err := checkPublicURL(publicURL, false); err != nil {
				return err
			}
			reg := server.NewRegistry()
			traceTune, stopTracing, err := tf.start(ctx, "serve")
			if err != nil {
				return err
			}
			defer stopTracing()
			a, err := g.newApp(ctx, publicURL, f.poolSize, in.tune, traceTune, func(c *app.Config) {
				c.Jobs = f.options()
				c.ApplicationName = processName("serve")
				c.Server = server.Options{Registry: reg, TrustedProxies: trusted, Ingress: in.limits,
					AuthFailureBurst: authBurst, AuthFailureRate: authRate}
			})
			if err != nil {
				return err
			}
			defer closeApp(a)
			registerLeaderGauge(reg, a.Jobs)
			ls := []listener{{name: "public", flag: "addr", addr: addr, handler: a.Server.Handler(), tls: tlsCfg}}
			if adminAddr != "" {
				ls = append(ls, listener{name: "admin", flag: "admin-addr", addr: adminAddr, handler: a.Server.Admin().Handler()})
			}
			return serveUntilDone(ctx, a, ls...)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "public listen address: the merchant API, callbacks, /healthz and /openapi.json")
	cmd.Flags().StringVar(&publicURL, "public-url", "", "URL providers reach tally at (callbacks go to <url>/callbacks/<account's callback key>); default http(s)://<addr>")
	bindAdminAddr(cmd, &adminAddr)
	cmd.Flags().StringVar(&tlsCert, "tls-cert", "", "PEM certificate (chain) file: serve the public listener over TLS (1.2 or later) with --tls-key")
	cmd.Flags().StringVar(&tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	cmd.Flags().StringSliceVar(&proxies, "trusted-proxies", nil,
		"addresses or CIDR prefixes of the TLS proxies or load balancers in front: only from them is X-Forwarded-For believed (comma-separated)")
	cmd.Flags().IntVar(&authBurst, "auth-fail-burst", server.DefaultAuthFailureBurst,
		"refused API keys allowed per client address before it is answered 429 (negative: no limit)")
	cmd.Flags().Float64Var(&authRate, "auth-fail-rate", server.DefaultAuthFailureRate,
		"refused API keys allowed per client address and second after the burst")
	f.workers = true
	f.bind(cmd, true)
	in.bind(cmd)
	tf.bind(cmd)
	return cmd
}

// bindAdminAddr adds --admin-addr, the operator's listener of serve and worker.
func bindAdminAddr(cmd *cobra.Command, addr *string) {
	cmd.Flags().StringVar(addr, "admin-addr", "127.0.0.1:9090",
		"admin listen address: /healthz, /readyz, /metrics, /debug/pprof/ (no authentication: keep it where only operators reach it); \"\" disables it")
}

// errTLSPair: --tls-cert and --tls-key go together.
var errTLSPair = errors.New("--tls-cert and --tls-key go together: give both to serve TLS, or neither to serve plain HTTP (behind a TLS proxy)")

// loadTLS is the public listener's TLS configuration from a certificate and
// key file (PEM), TLS 1.2 at least; nil when neither is given. It fails when
// only one is given or the pair does not load, before anything starts.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errTLSPair
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load --tls-cert %s and --tls-key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

func newWorkerCmd(g *globals) *cobra.Command {
	f := &runtimeFlags{workers: true}
	tf := &tracingFlags{}
	var publicURL, adminAddr string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run River workers (and the schedule) without the HTTP server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := g.requireDatabaseURL("worker"); err != nil {
				return err
			}
			if err := checkPublicURL(publicURL, true); err != nil {
				return err
			}
			f.workers = true
			reg := server.NewRegistry()
			traceTune, stopTracing, err := tf.start(ctx, "worker")
			if err != nil {
				return err
			}
			defer stopTracing()
			a, err := g.newApp(ctx, publicURL, f.poolSize, traceTune, func(c *app.Config) {
				c.Jobs = f.options()
				c.ApplicationName = processName("worker")
				// Only the admin listener: its /metrics counts what this
				// process's workers applied (the server's own series stay
				// empty without a public listener).
				c.Server = server.Options{Registry: reg}
			})
			if err != nil {
				return err
			}
			defer closeApp(a)
			registerLeaderGauge(reg, a.Jobs)
			var ls []listener
			if adminAddr != "" {
				ls = append(ls, listener{name: "admin", flag: "admin-addr", addr: adminAddr, handler: a.Server.Admin().Handler()})
			}
			return serveUntilDone(ctx, a, ls...)
		},
	}
	cmd.Flags().StringVar(&publicURL, "public-url", "", "URL providers reach the API nodes at: every order sent to a provider carries <url>/callbacks/<account's callback key> (required)")
	bindAdminAddr(cmd, &adminAddr)
	f.bind(cmd, false)
	tf.bind(cmd)
	return cmd
}

// listener is one HTTP listener of a process: the public one (tally serve) or
// the admin one (serve and worker).
type listener struct {
	name, addr string
	flag       string // the flag that set addr
	handler    http.Handler
	// tls, when set, serves HTTPS.
	tls *tls.Config
}

// serveUntilDone listens on every listener (failing before anything starts
// when an address is taken), starts the App's jobs, serves until ctx ends or
// a listener fails, then shuts everything down gracefully: the listeners,
// then the jobs (the caller's closeApp does the rest).
func serveUntilDone(ctx context.Context, a *app.App, ls ...listener) error {
	var servers []*http.Server
	var nets []net.Listener
	closeAll := func() {
		for _, ln := range nets {
			_ = ln.Close()
		}
	}
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("%s listener: listen %s (--%s): %w", l.name, l.addr, l.flag, err)
		}
		nets = append(nets, ln)
		servers = append(servers, &http.Server{Handler: l.handler, TLSConfig: l.tls, ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute})
		if l.name == "admin" && everyInterface(ln.Addr()) {
			slog.Warn("the admin listener listens on every interface: /metrics and /debug/pprof/ have no authentication; "+
				"bind --admin-addr to 127.0.0.1 or a private address only operators reach", "addr", ln.Addr().String())
		}
	}
	if err := a.Start(ctx); err != nil {
		closeAll()
		return err
	}
	errc := make(chan error, len(ls))
	for i, l := range ls {
		hs, ln := servers[i], nets[i]
		go func() {
			if l.tls != nil {
				errc <- hs.ServeTLS(ln, "", "")
				return
			}
			errc <- hs.Serve(ln)
		}()
		slog.Info("tally listening", "listener", l.name, "addr", ln.Addr().String(), "tls", l.tls != nil)
	}
	if len(ls) == 0 {
		slog.Info("worker running without listeners (--admin-addr \"\")")
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve: %w", err)
		}
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := []error{serveErr}
	for _, hs := range servers {
		errs = append(errs, hs.Shutdown(stopCtx))
	}
	errs = append(errs, a.Jobs.Stop(stopCtx))
	slog.Info("tally stopped")
	return errors.Join(errs...)
}

// everyInterface reports whether a listener's address is the unspecified one
// (0.0.0.0, ::): reachable from every network the machine is on.
func everyInterface(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsUnspecified()
}

// errNoPublicURL: a worker would send providers notify URLs that lead nowhere.
var errNoPublicURL = errors.New("tally worker needs --public-url (or TALLY_PUBLIC_URL): the URL providers reach tally's API nodes at; " +
	"every order a worker sends a provider carries <url>/callbacks/<account's callback key> as its notify URL, and a wrong one loses every callback")

// checkPublicURL refuses a public URL that is not an absolute http(s) URL; with
// required, an empty one too.
func checkPublicURL(raw string, required bool) error {
	if raw == "" {
		if required {
			return errNoPublicURL
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--public-url %q: an absolute http(s) URL such as https://tally.example.com", raw)
	}
	return nil
}
