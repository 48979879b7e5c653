package testenv

import (
	"context"
	"testing"
	"time"
)

func TestStartMariaDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := StartMariaDB(t)
	db := m.DB(t)
	var name string
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&name); err != nil || name != m.Database() {
		t.Fatalf("DATABASE() = %q, %v; want %q", name, err, m.Database())
	}
	m.Exec(t, "CREATE TABLE t (x int)")
	m.Exec(t, "INSERT INTO t VALUES (?)", 7)
}

func TestPrivateMariaDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := StartMariaDB(t, WithPrivateMariaDB())
	if !m.Private() || m.Port() == 3306 {
		t.Fatal("WithPrivateMariaDB gave the machine's server")
	}
	m.Exec(t, "CREATE TABLE t (x int)")
	m.Exec(t, "INSERT INTO t VALUES (7)")
	m.Kill(t)
	db := m.DB(t)
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("a killed server answers")
	}
	m.Start(t)
	var x int
	if err := db.QueryRowContext(ctx, "SELECT x FROM t").Scan(&x); err != nil || x != 7 {
		t.Fatalf("after restart: x = %d, %v; the data directory must survive", x, err)
	}
	m.Stop(t)
	m.Start(t)
}
