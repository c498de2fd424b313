//go:build darwin || freebsd || netbsd || dragonfly

package casefile

import "syscall"

// ctime is the time a file's inode last changed.
func ctime(s *syscall.Stat_t) int64 { return s.Ctimespec.Nano() }
