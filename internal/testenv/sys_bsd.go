//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package testenv

import "syscall"

// sysProcAttr puts a child in its own process group. These systems have no
// parent-death signal, so a test binary killed with SIGKILL can leak children.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
