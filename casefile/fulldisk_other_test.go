//go:build !linux

package casefile

import "errors"

// fullDisk needs Linux's mount namespaces to make a small disk of its own.
func fullDisk(string) error { return errors.New("a full disk is made with Linux mount namespaces") }
