package testenv

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// dbServer is the process half of a test's private database server
// (PostgreSQL's, MariaDB's): its port, its output, its one running process,
// and how it is started on a free port, stopped, killed and started again.
// What differs between databases is in its func fields.
type dbServer struct {
	name     string         // the server's binary, for messages
	started  time.Duration  // bound on accepting connections after exec
	stopSig  syscall.Signal // a clean shutdown
	stopWait time.Duration  // for stopSig before SIGKILL
	command  func() *exec.Cmd
	probe    func() error  // nil once it accepts connections
	exitLog  func() string // what it said when it exited during start-up

	port   int
	output lineLog

	mu sync.Mutex
	p  *proc // nil while stopped
}

func (s *dbServer) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p != nil
}

func (s *dbServer) take() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.p
	s.p = nil
	return p
}

// startOnFreePort launches the server on a free port, again on another
// when a process took the one found, and kills it at the test's cleanup.
func (s *dbServer) startOnFreePort(t testing.TB) {
	t.Helper()
	t.Cleanup(s.kill)
	for range portAttempts {
		s.port = FreePort(t)
		portTaken, err := s.launch()
		if err == nil {
			return
		}
		if !portTaken {
			t.Fatalf("testenv: %s did not start: %v\n%s", s.name, err, s.output.tail(30))
		}
		t.Logf("testenv: %s port %d was taken by another process, retrying on a new port", s.name, s.port)
	}
	t.Fatalf("testenv: %s did not start: every port tried was taken\n%s", s.name, s.output.tail(30))
}

// launch starts the server on s.port and waits until it accepts
// connections. It reports portTaken when another process has the port.
func (s *dbServer) launch() (portTaken bool, err error) {
	cmd := s.command()
	cmd.Stdout = s.output.writer(nil)
	cmd.Stderr = s.output.writer(nil)
	p, err := startProc(cmd)
	if err != nil {
		return false, fmt.Errorf("exec %s: %v", cmd.Path, err)
	}
	deadline := time.Now().Add(s.started)
	for {
		probeErr := s.probe()
		switch {
		case p.exited():
			return strings.Contains(s.exitLog(), "Address already in use"),
				fmt.Errorf("%s exited during startup (%v)", s.name, p.err)
		case probeErr == nil:
			s.mu.Lock()
			s.p = p
			s.mu.Unlock()
			return false, nil
		case time.Now().After(deadline):
			p.stop(syscall.SIGKILL, 0)
			return false, fmt.Errorf("no connection on port %d within %v (last error: %v)", s.port, s.started, probeErr)
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL, simulating a crash.
func (s *dbServer) kill() {
	if p := s.take(); p != nil {
		p.stop(syscall.SIGKILL, 0)
	}
}

// stop shuts the server down cleanly and waits for it to exit.
func (s *dbServer) stop(t testing.TB) {
	t.Helper()
	if p := s.take(); p != nil && !p.stop(s.stopSig, s.stopWait) {
		t.Fatalf("testenv: %s on port %d ignored %v for %v and was killed\n%s", s.name, s.port, s.stopSig, s.stopWait, s.output.tail(30))
	}
}

// restart starts a stopped or killed server on the same port and data
// directory and returns once it accepts connections.
func (s *dbServer) restart(t testing.TB) {
	t.Helper()
	if s.running() {
		t.Fatalf("testenv: %s on port %d is already running: call Stop or Kill before Start", s.name, s.port)
	}
	if _, err := s.launch(); err != nil {
		t.Fatalf("testenv: %s restart on port %d failed: %v\n%s", s.name, s.port, err, s.output.tail(30))
	}
}
