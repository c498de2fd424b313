//go:build !unix

package triage

// A mappedLog is never made where there is no mmap: logs are read.
type mappedLog struct{}

func (rd *Reader) mapLog(*opened) *mappedLog { return nil }
func (ml *mappedLog) data() []byte           { return nil }
func (ml *mappedLog) read(int64)             {}
func (ml *mappedLog) close(int64)            {}
