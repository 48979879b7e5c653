package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

const (
	myProbeTimeout = 2 * time.Second  // to decide whether the machine's server is there
	myStartTimeout = 60 * time.Second // mariadb-install-db, or a private server until it accepts connections
	myStopTimeout  = 20 * time.Second // until exit after SIGTERM (a clean shutdown)
	myAdminTimeout = 30 * time.Second // CREATE / DROP DATABASE
)

// MariaDBURLEnv names an admin URL, mysql://USER[:PASSWORD]@HOST:PORT/, of
// a MariaDB or MySQL account that may CREATE DATABASE, which StartMariaDB
// uses instead of looking for the machine's server at 127.0.0.1:3306.
const MariaDBURLEnv = "EXPRESSBRIDGE_TEST_MARIADB_URL"

// machineMariaDB is the machine's server as Debian's mariadb-server sets
// it up for root: TCP on 127.0.0.1:3306, root without a password.
var machineMariaDB = myAccount{user: "root", addr: "127.0.0.1:3306"}

// myAccount is where and as whom to connect.
type myAccount struct {
	user, pass, addr string
}

// dsn returns the go-sql-driver DSN of database db ("" for none).
func (a myAccount) dsn(db string) string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = a.user, a.pass, "tcp", a.addr, db
	c.Timeout = myProbeTimeout
	return c.FormatDSN()
}

// url returns the mysql:// URL of database db.
func (a myAccount) url(db string) string {
	u := url.URL{Scheme: "mysql", Host: a.addr, Path: "/" + db}
	if a.pass != "" {
		u.User = url.UserPassword(a.user, a.pass)
	} else {
		u.User = url.User(a.user)
	}
	return u.String()
}

// MariaDB is a fresh database owned by one test, on the machine's MariaDB
// (or MySQL) server or on a private server started for the test. The
// database is dropped at cleanup and a private server is killed. Its
// methods must be called from the test's goroutine; the accessors are safe
// anywhere.
type MariaDB struct {
	admin  myAccount
	db     string
	server *myServer // nil on the machine's server
}

// myServer is a private mariadbd: its own data directory, socket and port.
type myServer struct {
	dbServer
	bin string // mariadbd
	dir string // data directory
}

type mariadbConfig struct {
	private bool
}

// MariaDBOption customises StartMariaDB.
type MariaDBOption func(*mariadbConfig)

// WithPrivateMariaDB starts a server of the test's own (mariadb-install-db
// in a temp directory, a free loopback port) even when the machine runs
// one, so that the test may Stop, Kill and Start it.
func WithPrivateMariaDB() MariaDBOption {
	return func(c *mariadbConfig) { c.private = true }
}

// StartMariaDB creates a database (utf8mb4) for the test and returns once
// it accepts connections. It uses the server named by
// $EXPRESSBRIDGE_TEST_MARIADB_URL, else the machine's server at
// 127.0.0.1:3306 (root without a password), else, or with
// WithPrivateMariaDB, a private mariadbd (installed with apt-get install
// mariadb-server when missing and the test runs as root). The database is
// dropped at cleanup. It fails the test with one line saying what to do
// when no server can be had.
func StartMariaDB(t testing.TB, opts ...MariaDBOption) *MariaDB {
	t.Helper()
	var cfg mariadbConfig
	for _, o := range opts {
		o(&cfg)
	}
	m := &MariaDB{}
	found := false
	switch env := os.Getenv(MariaDBURLEnv); {
	case cfg.private:
	case env != "":
		acct, err := parseMyURL(env)
		if err != nil {
			t.Fatalf("testenv: $%s: %v", MariaDBURLEnv, err)
		}
		if err := probeMariaDB(acct); err != nil {
			t.Fatalf("testenv: $%s=%s does not answer: %v", MariaDBURLEnv, redactURL(env), err)
		}
		m.admin, found = acct, true
	default:
		if probeMariaDB(machineMariaDB) == nil {
			m.admin, found = machineMariaDB, true
		}
	}
	if !found {
		m.server = startMyServer(t)
		m.admin = m.server.account()
	}
	m.db = databaseName(t.Name())
	if err := m.adminExec("CREATE DATABASE " + quoteMySQLIdent(m.db) + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("testenv: CREATE DATABASE %s on %s: %v", m.db, m.admin.addr, err)
	}
	t.Cleanup(func() {
		if m.server != nil && !m.server.running() {
			return // the data directory goes with the server
		}
		if err := m.adminExec("DROP DATABASE IF EXISTS " + quoteMySQLIdent(m.db)); err != nil {
			t.Errorf("testenv: DROP DATABASE %s: %v", m.db, err)
		}
	})
	return m
}

// URL returns the test database's URL, "mysql://USER[:PASSWORD]@HOST:PORT/DB".
func (m *MariaDB) URL() string { return m.admin.url(m.db) }

// DSN returns the test database's DSN for github.com/go-sql-driver/mysql.
func (m *MariaDB) DSN() string { return m.admin.dsn(m.db) }

// Database returns the test database's name.
func (m *MariaDB) Database() string { return m.db }

// Host and Port say where the server listens; User and Password are the
// account's (Password is "" for none), for a Node client's options.
func (m *MariaDB) Host() string {
	h, _, _ := net.SplitHostPort(m.admin.addr)
	return h
}

// Port returns the server's TCP port.
func (m *MariaDB) Port() int {
	_, p, _ := net.SplitHostPort(m.admin.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// User returns the account's user name.
func (m *MariaDB) User() string { return m.admin.user }

// Password returns the account's password, "" for none.
func (m *MariaDB) Password() string { return m.admin.pass }

// Private reports whether the database is on a private server, which the
// test may Stop, Kill and Start.
func (m *MariaDB) Private() bool { return m.server != nil }

// DB returns a new connection pool on the test database, closed at cleanup.
func (m *MariaDB) DB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", m.DSN())
	if err != nil {
		t.Fatalf("testenv: open %s: %v", m.admin.addr, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Exec runs one statement with args on the test database in a connection
// of its own and fails the test on error.
func (m *MariaDB) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("mysql", m.DSN())
	if err != nil {
		t.Fatalf("testenv: open %s: %v", m.admin.addr, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), myAdminTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		t.Fatalf("testenv: %.80s: %v", query, err)
	}
}

// Kill sends SIGKILL to the private server, simulating a crash. It fails
// the test on the machine's server.
func (m *MariaDB) Kill(t testing.TB) {
	t.Helper()
	if s := m.privateServer(t, "Kill"); s != nil {
		s.kill()
	}
}

// Stop shuts the private server down (SIGTERM) and waits for it to exit.
// It fails the test on the machine's server, or when the server ignores
// SIGTERM for 20 s.
func (m *MariaDB) Stop(t testing.TB) {
	t.Helper()
	if s := m.privateServer(t, "Stop"); s != nil {
		s.stop(t)
	}
}

// Start restarts a stopped or killed private server on the same port and
// data directory (the database and its rows are still there) and returns
// once it accepts connections.
func (m *MariaDB) Start(t testing.TB) {
	t.Helper()
	if s := m.privateServer(t, "Start"); s != nil {
		s.restart(t)
	}
}

func (m *MariaDB) privateServer(t testing.TB, what string) *myServer {
	t.Helper()
	if m.server == nil {
		t.Fatalf("testenv: MariaDB.%s needs a private server: call StartMariaDB(t, WithPrivateMariaDB())", what)
	}
	return m.server
}

// adminExec runs one statement without a default database.
func (m *MariaDB) adminExec(query string) error {
	db, err := sql.Open("mysql", m.admin.dsn(""))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), myAdminTimeout)
	defer cancel()
	_, err = db.ExecContext(ctx, query)
	return err
}

// quoteMySQLIdent quotes a name for MariaDB and MySQL: in backquotes, each
// backquote doubled.
func quoteMySQLIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// probeMariaDB reports whether acct connects and answers a query.
func probeMariaDB(acct myAccount) error {
	db, err := sql.Open("mysql", acct.dsn(""))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), myProbeTimeout)
	defer cancel()
	var one int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// parseMyURL reads mysql://USER[:PASSWORD]@HOST[:PORT]/.
func parseMyURL(raw string) (myAccount, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "mysql" || u.Host == "" || u.User == nil {
		return myAccount{}, fmt.Errorf("%s is not mysql://USER[:PASSWORD]@HOST[:PORT]/", redactURL(raw))
	}
	a := myAccount{user: u.User.Username(), addr: u.Host}
	a.pass, _ = u.User.Password()
	if u.Port() == "" {
		a.addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	return a, nil
}

// Private server ---

// startMyServer initialises a data directory with mariadb-install-db and
// starts mariadbd on a free port (as root when the test runs as root:
// mariadbd allows it with --user=root). The server is killed and its
// directory removed at cleanup.
func startMyServer(t testing.TB) *myServer {
	t.Helper()
	s := &myServer{bin: mariadbdPath(t)}
	base, err := os.MkdirTemp("", "expressbridge-mariadb-")
	if err != nil {
		t.Fatalf("testenv: temp dir for mariadbd: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	s.dir = filepath.Join(base, "data")
	install := filepath.Join(filepath.Dir(s.bin), "mariadb-install-db")
	if !isExecutable(install) {
		if p, err := exec.LookPath("mariadb-install-db"); err == nil {
			install = p
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), myStartTimeout)
	defer cancel()
	// root@localhost without a password (auth "normal"), reached over TCP
	// as 127.0.0.1 once names are not resolved.
	cmd := exec.CommandContext(ctx, install, "--no-defaults", "--datadir="+s.dir, "--user="+myUser(),
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: mariadb-install-db failed: %v\n%s", err, tailText(string(out), 20))
	}
	s.dbServer = dbServer{
		name: "mariadbd", started: myStartTimeout, stopSig: syscall.SIGTERM, stopWait: myStopTimeout,
		command: s.command, probe: func() error { return probeMariaDB(s.account()) }, exitLog: s.errorLog,
	}
	s.startOnFreePort(t)
	return s
}

// myUser is the system user mariadbd runs as: the test's own.
func myUser() string {
	if os.Geteuid() == 0 {
		return "root"
	}
	return strconv.Itoa(os.Geteuid()) // mariadbd takes a numeric id too
}

func (s *myServer) account() myAccount {
	return myAccount{user: "root", addr: "127.0.0.1:" + strconv.Itoa(s.port)}
}

// command is mariadbd on s.port (TCP on 127.0.0.1, a socket in its data
// directory, small buffers, no binary log, no flush at each commit: a
// killed server keeps what the OS holds).
func (s *myServer) command() *exec.Cmd {
	return exec.Command(s.bin, "--no-defaults", "--datadir="+s.dir, "--user="+myUser(),
		"--port="+strconv.Itoa(s.port), "--bind-address=127.0.0.1", "--socket="+filepath.Join(s.dir, "mysqld.sock"),
		"--pid-file="+filepath.Join(s.dir, "mysqld.pid"), "--skip-name-resolve", "--skip-log-bin",
		"--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=2",
		"--skip-performance-schema", "--max-connections=100", "--log-error="+filepath.Join(s.dir, "error.log"))
}

// errorLog is what mariadbd wrote to its error log, copied to its output
// so that a failure shows it.
func (s *myServer) errorLog() string {
	log, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
	_, _ = s.output.writer(nil).Write(log)
	return string(log)
}

var mariadbInstall installOnce

// mariadbdPath returns the mariadbd binary (mysqld on older packages),
// installing mariadb-server with apt-get when neither exists and the test
// runs as root.
func mariadbdPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/mariadbd", "/usr/sbin/mysqld"} {
		if isExecutable(p) {
			return p
		}
	}
	return toolPath(t, "mariadbd", "mariadb-server", &mariadbInstall)
}
