package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	pgProbeTimeout = 2 * time.Second  // to decide whether the machine's server is there
	pgStartTimeout = 30 * time.Second // initdb, or a private server until it accepts connections
	pgStopTimeout  = 10 * time.Second // until exit after SIGINT (fast shutdown)
	pgAdminTimeout = 30 * time.Second // CREATE / DROP DATABASE
)

// PostgresURLEnv names an admin URL (a role that may CREATE DATABASE, on a
// maintenance database) that StartPostgres uses instead of looking for the
// machine's server at 127.0.0.1:5432.
const PostgresURLEnv = "EXPRESSBRIDGE_TEST_POSTGRES_URL"

// machineAdminURLs are tried in order when PostgresURLEnv is unset: the
// machine's PostgreSQL on its default port with trust authentication.
var machineAdminURLs = []string{
	"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
	"postgres://root@127.0.0.1:5432/postgres?sslmode=disable",
}

// Postgres is a fresh database owned by one test, on the machine's
// PostgreSQL server or on a private server started for the test. The
// database is dropped at cleanup and a private server is killed. Its
// methods must be called from the test's goroutine; URL and Database are
// safe anywhere.
type Postgres struct {
	adminURL string // maintenance database of the server, for CREATE/DROP
	url      string // the test's database
	db       string
	server   *pgServer // nil on the machine's server
}

// pgServer is a private postgres process: its own data directory, port and,
// when the test runs as root, the unprivileged user postgres requires.
type pgServer struct {
	dbServer
	bin  string              // directory holding initdb and postgres
	dir  string              // data directory
	cred *syscall.Credential // nil unless running as root
}

type postgresConfig struct {
	private bool
}

// PostgresOption customises StartPostgres.
type PostgresOption func(*postgresConfig)

// WithPrivatePostgres starts a server of the test's own (initdb in a temp
// directory, a free loopback port) even when the machine runs one, so that
// the test may Stop, Kill and Start it.
func WithPrivatePostgres() PostgresOption {
	return func(c *postgresConfig) { c.private = true }
}

// StartPostgres creates a database for the test and returns once it accepts
// connections. It uses the server named by $EXPRESSBRIDGE_TEST_POSTGRES_URL,
// else the machine's server at 127.0.0.1:5432 (users postgres, then root,
// trust authentication), else, or with WithPrivatePostgres, a private
// server started from /usr/lib/postgresql/*/bin (installed with apt-get
// when missing and the test runs as root). The database is dropped at
// cleanup. It fails the test with one line saying what to do when no
// server can be had.
func StartPostgres(t testing.TB, opts ...PostgresOption) *Postgres {
	t.Helper()
	var cfg postgresConfig
	for _, o := range opts {
		o(&cfg)
	}
	p := &Postgres{}
	switch env := os.Getenv(PostgresURLEnv); {
	case cfg.private:
	case env != "":
		if err := probePostgres(env); err != nil {
			t.Fatalf("testenv: $%s=%s does not answer: %v", PostgresURLEnv, redactURL(env), err)
		}
		p.adminURL = env
	default:
		for _, u := range machineAdminURLs {
			if probePostgres(u) == nil {
				p.adminURL = u
				break
			}
		}
	}
	if p.adminURL == "" {
		p.server = startPGServer(t)
		p.adminURL = p.server.url("postgres")
	}
	p.db = databaseName(t.Name())
	if err := p.admin(fmt.Sprintf(`CREATE DATABASE %s`, pgx.Identifier{p.db}.Sanitize())); err != nil {
		t.Fatalf("testenv: CREATE DATABASE %s on %s: %v", p.db, redactURL(p.adminURL), err)
	}
	p.url = withDatabase(p.adminURL, p.db)
	t.Cleanup(func() {
		if p.server != nil && !p.server.running() {
			return // the data directory goes with the server
		}
		if err := p.dropDatabase(); err != nil {
			t.Errorf("testenv: DROP DATABASE %s: %v", p.db, err)
		}
	})
	return p
}

// URL returns the test database's URL, "postgres://USER@127.0.0.1:PORT/DB?sslmode=disable".
func (p *Postgres) URL() string { return p.url }

// Database returns the test database's name.
func (p *Postgres) Database() string { return p.db }

// Private reports whether the database is on a private server, which the
// test may Stop, Kill and Start.
func (p *Postgres) Private() bool { return p.server != nil }

// Pool returns a new connection pool on the test database, closed at cleanup.
func (p *Postgres) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), p.url)
	if err != nil {
		t.Fatalf("testenv: pool on %s: %v", redactURL(p.url), err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Exec runs sql with args on the test database in a connection of its own
// and fails the test on error.
func (p *Postgres) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pgAdminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		t.Fatalf("testenv: connect %s: %v", redactURL(p.url), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("testenv: %.80s: %v", sql, err)
	}
}

// TerminateBackends ends every other connection to the test database with
// pg_terminate_backend, as an administrator or a failover would, and
// returns how many there were.
func (p *Postgres) TerminateBackends(t testing.TB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pgAdminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.adminURL)
	if err != nil {
		t.Fatalf("testenv: connect %s: %v", redactURL(p.adminURL), err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, p.db).Scan(&n)
	if err != nil {
		t.Fatalf("testenv: pg_terminate_backend: %v", err)
	}
	return n
}

// Kill sends SIGKILL to the private server and its backends, simulating a
// crash. It fails the test on the machine's server.
func (p *Postgres) Kill(t testing.TB) {
	t.Helper()
	if s := p.privateServer(t, "Kill"); s != nil {
		s.kill()
	}
}

// Stop shuts the private server down (SIGINT, PostgreSQL's fast shutdown)
// and waits for it to exit. It fails the test on the machine's server, or
// when the server ignores SIGINT for 10 s.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if s := p.privateServer(t, "Stop"); s != nil {
		s.stop(t)
	}
}

// Start restarts a stopped or killed private server on the same port and
// data directory (the database and its rows are still there) and returns
// once it accepts connections.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if s := p.privateServer(t, "Start"); s != nil {
		s.restart(t)
	}
}

func (p *Postgres) privateServer(t testing.TB, what string) *pgServer {
	t.Helper()
	if p.server == nil {
		t.Fatalf("testenv: Postgres.%s needs a private server: call StartPostgres(t, WithPrivatePostgres())", what)
	}
	return p.server
}

// admin runs one statement on the server's maintenance database.
func (p *Postgres) admin(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgAdminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// dropDatabase drops the test database, ending its connections first
// (WITH (FORCE) needs PostgreSQL 13; older servers get the two steps).
func (p *Postgres) dropDatabase() error {
	name := pgx.Identifier{p.db}.Sanitize()
	err := p.admin(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	if err == nil {
		return nil
	}
	_ = p.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + p.db + `'`)
	return p.admin(`DROP DATABASE IF EXISTS ` + name)
}

// probePostgres reports whether adminURL accepts a connection and a query.
func probePostgres(adminURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgProbeTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return errors.New("the role may not CREATE DATABASE")
	}
	return nil
}

// databaseName returns a new database name for a test: "eb_", the test's
// name in lower-case letters, digits and "_", and random hex, under
// PostgreSQL's 63-byte limit.
func databaseName(test string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(test) {
		if b.Len() >= 40 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	return "eb_" + b.String() + "_" + hex.EncodeToString(r[:])
}

// withDatabase returns rawURL with its path replaced by db.
func withDatabase(rawURL, db string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Path = "/" + db
	return u.String()
}

// redactURL hides a URL's password.
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Private server ---

// startPGServer initialises a data directory and starts postgres on a free
// port, as the postgres user when the test runs as root (postgres refuses
// to run as root). The server is killed and its directory removed at
// cleanup.
func startPGServer(t testing.TB) *pgServer {
	t.Helper()
	s := &pgServer{bin: postgresBinDir(t)}
	base, err := os.MkdirTemp("", "expressbridge-pg-")
	if err != nil {
		t.Fatalf("testenv: temp dir for postgres: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	s.dir = filepath.Join(base, "data")
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal("testenv: postgres refuses to run as root and there is no user postgres to run it as: create one (useradd -r postgres) and run again")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatalf("testenv: chown %s to postgres: %v", base, err)
		}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			t.Fatalf("testenv: chown %s to postgres: %v", s.dir, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgStartTimeout)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(s.bin, "initdb"), "-D", s.dir, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Env = pgEnv()
	if s.cred != nil {
		initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("testenv: initdb failed: %v\n%s", err, tailText(string(out), 20))
	}
	s.dbServer = dbServer{
		name: "postgres", started: pgStartTimeout, stopSig: syscall.SIGINT, stopWait: pgStopTimeout,
		command: s.command, probe: func() error { return probePostgres(s.url("postgres")) },
		exitLog: func() string { return s.output.tail(maxLogLines) },
	}
	s.startOnFreePort(t)
	return s
}

// url returns a URL of database db on the private server.
func (s *pgServer) url(db string) string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(s.port) + "/" + db + "?sslmode=disable"
}

// command is postgres on s.port (TCP on 127.0.0.1 only, no Unix socket,
// no fsync: a killed server keeps what it committed, the OS holds it).
func (s *pgServer) command() *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dir, "-p", strconv.Itoa(s.port),
		"-h", "127.0.0.1", "-k", "", "-c", "fsync=off",
		"-c", "full_page_writes=off", "-c", "max_connections=50")
	cmd.Env = pgEnv()
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// pgEnv is the environment without the PG* variables libpq tools read.
func pgEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=")
	})
}

// postgresInstall makes the apt-get install of postgresql happen at most
// once per test process; the file lock in withFileLock serialises processes.
var postgresInstall struct {
	once sync.Once
	err  error
}

// postgresBinDir returns the directory holding initdb and postgres: the
// newest /usr/lib/postgresql/*/bin, else the PATH's, installing the
// postgresql package with apt-get when neither exists and the test runs as
// root.
func postgresBinDir(t testing.TB) string {
	t.Helper()
	if dir := findPostgresBin(); dir != "" {
		return dir
	}
	if os.Geteuid() != 0 {
		t.Fatal("no PostgreSQL server reachable at 127.0.0.1:5432 and initdb/postgres not found: install postgresql (apt-get install postgresql) or set " + PostgresURLEnv + ", and run again")
	}
	postgresInstall.once.Do(func() {
		postgresInstall.err = withFileLock(filepath.Join(os.TempDir(), "expressbridge-testenv-apt.lock"), func() error {
			if findPostgresBin() != "" {
				return nil
			}
			return aptInstall(t, "postgresql")
		})
	})
	if postgresInstall.err != nil {
		t.Fatalf("postgres not found and installing it failed: %v", postgresInstall.err)
	}
	dir := findPostgresBin()
	if dir == "" {
		t.Fatal("initdb/postgres not found even after apt-get install postgresql: add /usr/lib/postgresql/VERSION/bin to PATH and run again")
	}
	return dir
}

// findPostgresBin returns the newest /usr/lib/postgresql/*/bin holding
// initdb and postgres, else the directory of the PATH's initdb when postgres
// is beside it, else "".
func findPostgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d
		}
	}
	return ""
}
