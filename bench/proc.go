package bench

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process (a server under test, redis-server, the Express
// app) that leads its own process group and gets SIGKILL if the harness
// dies. Its output is kept as lines for error messages.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait has returned
	err  error         // Wait's result, read after done

	mu    sync.Mutex
	lines []string
	part  string
	watch func(string) // called with each complete line, under mu
	tee   io.Writer    // gets a copy of the output, under mu
}

// maxProcLines is how many output lines a Proc keeps.
const maxProcLines = 200

// StartProc starts cmd. When ready is non-nil it waits (up to timeout) for
// an output line (stdout or stderr) for which ready returns true; when the
// process exits first or the time runs out it is killed and the error
// shows its last output lines.
func StartProc(name string, cmd *exec.Cmd, ready func(line string) bool, timeout time.Duration) (*Proc, error) {
	return startProc(name, cmd, ready, timeout, nil)
}

// startProc is StartProc with a copy of the output going to tee when it is
// not nil.
func startProc(name string, cmd *exec.Cmd, ready func(line string) bool, timeout time.Duration, tee io.Writer) (*Proc, error) {
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{}), tee: tee}
	readyCh := make(chan struct{})
	if ready != nil {
		var once sync.Once
		p.watch = func(line string) {
			if ready(line) {
				once.Do(func() { close(readyCh) })
			}
		}
	}
	cmd.Stdout = p
	cmd.Stderr = p
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		if c, ok := tee.(io.Closer); ok {
			c.Close()
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		if c, ok := tee.(io.Closer); ok {
			p.mu.Lock()
			c.Close()
			p.tee = nil
			p.mu.Unlock()
		}
		close(p.done)
	}()
	if ready == nil {
		return p, nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-readyCh:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it was ready (%v)\n%s", name, p.err, p.Tail(30))
	case <-timer.C:
		p.Stop(time.Second)
		return nil, fmt.Errorf("%s was not ready within %v\n%s", name, timeout, p.Tail(30))
	}
}

// PID is the process id (the server's own: servers are exec'd directly).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, waits up to grace, then
// SIGKILLs it. It reports whether the process ended within grace.
func (p *Proc) Stop(grace time.Duration) bool {
	if p == nil {
		return true
	}
	if !p.Exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return true
	case <-timer.C:
	}
	if !p.Exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-p.done
	return false
}

// ExitErr is the process's exit error once it has ended.
func (p *Proc) ExitErr() error {
	if !p.Exited() {
		return errors.New("still running")
	}
	return p.err
}

// Write collects output lines (io.Writer for cmd.Stdout and cmd.Stderr).
func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tee != nil {
		_, _ = p.tee.Write(b)
	}
	p.part += string(b)
	for {
		i := strings.IndexByte(p.part, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSuffix(p.part[:i], "\r")
		p.part = p.part[i+1:]
		p.lines = append(p.lines, line)
		if len(p.lines) > maxProcLines {
			p.lines = p.lines[len(p.lines)-maxProcLines:]
		}
		if p.watch != nil {
			p.watch(line)
		}
	}
	return len(b), nil
}

// Tail returns the last n output lines, labelled with the process name.
func (p *Proc) Tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	lines := append([]string(nil), p.lines...)
	if p.part != "" {
		lines = append(lines, p.part)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "--- " + p.Name + " printed nothing ---"
	}
	return "--- " + p.Name + " output (last lines) ---\n" + strings.Join(lines, "\n")
}
