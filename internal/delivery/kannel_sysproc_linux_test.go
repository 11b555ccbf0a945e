package delivery_test

import "syscall"

// killWithParent makes the kernel kill a Kannel process if the test binary
// dies before its cleanup runs, so no gateway outlives a crashed test.
func killWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
