package testenv

import "syscall"

// sysProcAttr puts a child in its own process group and has the kernel
// SIGKILL it when the thread that started it (the test binary) dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
