//go:build !linux

package delivery_test

import "syscall"

func killWithParent() *syscall.SysProcAttr { return nil }
