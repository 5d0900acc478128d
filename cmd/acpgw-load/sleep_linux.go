//go:build linux

package main

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// fineTimer is a timerfd(2) read through the runtime's network poller: the
// poller's epoll wait returns the moment the timer fires, with nanosecond
// resolution, and no thread or P is blocked meanwhile.
type fineTimer struct {
	fd int
	f  *os.File // never call f.Fd: it would switch the fd to blocking mode
}

const (
	clockMonotonic = 1
	tfdNonblock    = syscall.O_NONBLOCK
	tfdCloexec     = syscall.O_CLOEXEC
)

func newFineTimer() (*fineTimer, error) {
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, tfdNonblock|tfdCloexec, 0)
	if errno != 0 {
		return nil, errno
	}
	return &fineTimer{fd: int(fd), f: os.NewFile(fd, "timerfd")}, nil
}

// sleep waits d (which must be positive).
func (t *fineTimer) sleep(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	spec := [2]syscall.Timespec{{}, syscall.NsecToTimespec(int64(d))} // it_interval, it_value
	if _, _, errno := syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, uintptr(t.fd), 0,
		uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		return errno
	}
	var expirations [8]byte
	_, err := t.f.Read(expirations[:])
	return err
}

func (t *fineTimer) close() { t.f.Close() }
