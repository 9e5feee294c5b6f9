// Package localpg finds a PostgreSQL server for development, tests and the demo:
// DATABASE_URL when it is set, else the server on 127.0.0.1:5432 when one answers,
// else a throwaway cluster of its own in a git-ignored folder (installing Debian's
// postgresql package first when its binaries are missing), so that a fresh machine
// needs nothing done by hand.
package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDatabase is the database tally uses on a server it finds or starts.
const DefaultDatabase = "tally"

// ThrowawayPort is the port of the cluster localpg starts itself; it differs from
// 5432 so that it never shadows a system server that comes up later.
const ThrowawayPort = 55432

// Options tune where the throwaway cluster lives.
type Options struct {
	// Dir is the cluster's data folder; default "<module root>/.pgdata".
	Dir string
	// Logger receives progress messages; default slog.Default().
	Logger *slog.Logger
	// NoStart finds a server ($DATABASE_URL, 127.0.0.1:5432, a throwaway
	// cluster already running) but never starts or installs one: for the
	// operator's commands, which must not bring up an empty database.
	NoStart bool
}

// ErrNoServer: no server answers and Options.NoStart forbade starting one.
var ErrNoServer = errors.New("no PostgreSQL server: set DATABASE_URL")

// URL returns a connection URL for tally's database, starting a server when needed.
// The database named in the URL exists when URL returns.
func URL(ctx context.Context, opts Options) (string, error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u, nil
	}
	opts = opts.withDefaults()
	system := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	if answers(ctx, system) {
		return ensureDatabase(ctx, system, DefaultDatabase)
	}
	if opts.NoStart {
		if !ThrowawayRunning(ctx, opts) {
			return "", fmt.Errorf("nothing answers on 127.0.0.1:5432 and no development cluster runs: %w", ErrNoServer)
		}
	}
	admin, err := startThrowaway(ctx, opts)
	if err != nil {
		return "", err
	}
	return ensureDatabase(ctx, admin, DefaultDatabase)
}

// Stop stops the throwaway cluster in opts.Dir if it is running. It is a no-op
// when localpg never started one.
func Stop(ctx context.Context, opts Options) error {
	opts = opts.withDefaults()
	if _, err := os.Stat(filepath.Join(opts.Dir, "postmaster.pid")); err != nil {
		return nil
	}
	bin, err := binDir()
	if err != nil {
		return err
	}
	return runAsOwner(ctx, opts.Dir, filepath.Join(bin, "pg_ctl"), "-D", opts.Dir, "-m", "fast", "-w", "stop")
}

// ThrowawayRunning reports whether the throwaway cluster in opts.Dir is up.
func ThrowawayRunning(ctx context.Context, opts Options) bool {
	opts = opts.withDefaults()
	return answers(ctx, throwawayURL(opts.Dir, "postgres"))
}

func (o Options) withDefaults() Options {
	if o.Dir == "" {
		o.Dir = filepath.Join(moduleRoot(), ".pgdata")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// throwawayURL is the TCP URL of the throwaway cluster (its socket lives in dir, so
// that it needs no system folder).
func throwawayURL(_ string, database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", ThrowawayPort, database)
}

// answers reports whether a PostgreSQL server accepts a connection at url.
func answers(ctx context.Context, url string) bool {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return false
	}
	// A closed TCP port fails fast; only then try a full connection.
	if cfg.Host != "" && cfg.Host[0] != '/' {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
		if err != nil {
			return false
		}
		_ = c.Close()
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return false
	}
	_ = conn.Close(ctx)
	return true
}

// ensureDatabase creates database name on the server of adminURL when missing and
// returns the URL of that database.
func ensureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redact(adminURL), err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up database %s: %w", name, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			var again bool
			if qerr := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&again); qerr != nil || !again {
				return "", fmt.Errorf("create database %s: %w", name, err)
			}
		}
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", redact(adminURL), err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// startThrowaway initialises (once) and starts the cluster in opts.Dir and returns
// the URL of its postgres database.
func startThrowaway(ctx context.Context, opts Options) (string, error) {
	admin := throwawayURL(opts.Dir, "postgres")
	if answers(ctx, admin) {
		return admin, nil
	}
	bin, err := binDir()
	if errors.Is(err, errNoBinaries) {
		opts.Logger.Info("installing the postgresql package: its binaries are missing")
		if err := installPostgres(ctx); err != nil {
			return "", err
		}
		bin, err = binDir()
	}
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", opts.Dir, err)
	}
	if err := chownToPostgres(opts.Dir); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "PG_VERSION")); err != nil {
		opts.Logger.Info("initialising a throwaway PostgreSQL cluster", "dir", opts.Dir)
		if err := runAsOwner(ctx, opts.Dir, filepath.Join(bin, "initdb"), "-D", opts.Dir, "-U", "postgres",
			"--auth=trust", "--encoding=UTF8", "--no-sync"); err != nil {
			return "", err
		}
	}
	opts.Logger.Info("starting the throwaway PostgreSQL cluster", "dir", opts.Dir, "port", ThrowawayPort)
	serverOpts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on", ThrowawayPort, opts.Dir)
	if err := runAsOwner(ctx, opts.Dir, filepath.Join(bin, "pg_ctl"), "-D", opts.Dir, "-o", serverOpts,
		"-l", filepath.Join(opts.Dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		return "", err
	}
	if !answers(ctx, admin) {
		return "", fmt.Errorf("throwaway cluster in %s started but does not answer", opts.Dir)
	}
	return admin, nil
}

var errNoBinaries = errors.New("postgresql server binaries not found")

// binDir returns the newest /usr/lib/postgresql/<version>/bin holding initdb.
func binDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", errNoBinaries
	}
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func versionOf(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

func installPostgres(ctx context.Context) error {
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if os.Geteuid() != 0 {
			cmd = exec.CommandContext(ctx, "sudo", append([]string{"-E", "apt-get"}, args...)...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w: %s", args[0], err, tail(out))
		}
	}
	return nil
}

// runAsOwner runs a PostgreSQL tool; as root it runs it as the postgres user,
// because initdb and postgres refuse to run as root.
func runAsOwner(ctx context.Context, dir, tool string, args ...string) error {
	cmd := exec.CommandContext(ctx, tool, args...)
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", tool}, args...)...)
	}
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(tool), err, tail(out))
	}
	return nil
}

// chownToPostgres hands dir (and the folders above it that postgres must traverse)
// to the postgres user when running as root.
func chownToPostgres(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("look up the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			break
		}
		if st.Mode().Perm()&0o001 == 0 {
			_ = os.Chmod(p, st.Mode().Perm()|0o001)
		}
	}
	return nil
}

// moduleRoot is the nearest folder above the working directory holding go.mod,
// or the working directory itself.
func moduleRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if filepath.Base(d) == "tools" {
				continue
			}
			return d
		}
		if filepath.Dir(d) == d {
			return wd
		}
	}
}

func tail(out []byte) string {
	out = bytes.TrimSpace(out)
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	return string(out)
}

// redact drops the password of a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// RecreateDatabase drops database name on the server of databaseURL (closing
// its connections) and creates it empty, returning its URL. The demo uses it so
// that every run starts from nothing.
func RecreateDatabase(ctx context.Context, databaseURL, name string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", redact(databaseURL), err)
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redact(admin.String()), err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}
