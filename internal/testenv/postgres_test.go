package testenv

import (
	"context"
	"testing"
	"time"
)

func TestStartPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := StartPostgres(t)
	pool := p.Pool(t)
	var db string
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != p.Database() {
		t.Fatalf("current_database() = %q, %v; want %q", db, err, p.Database())
	}
	p.Exec(t, "CREATE TABLE t (x int)")
	if n := p.TerminateBackends(t); n < 1 {
		t.Errorf("TerminateBackends ended %d connections; the pool held one", n)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM t").Scan(new(int)); err != nil {
		// The pool's connection was terminated; the next acquire replaces it.
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM t").Scan(new(int)); err != nil {
			t.Fatalf("after TerminateBackends: %v", err)
		}
	}
}

func TestPrivatePostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := StartPostgres(t, WithPrivatePostgres())
	if !p.Private() {
		t.Fatal("WithPrivatePostgres gave the machine's server")
	}
	p.Exec(t, "CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
	p.Kill(t)
	pool := p.Pool(t)
	if err := pool.Ping(ctx); err == nil {
		t.Fatal("a killed server answers")
	}
	p.Start(t)
	var x int
	if err := pool.QueryRow(ctx, "SELECT x FROM t").Scan(&x); err != nil || x != 7 {
		t.Fatalf("after restart: x = %d, %v; the data directory must survive", x, err)
	}
	p.Stop(t)
	p.Start(t)
}
