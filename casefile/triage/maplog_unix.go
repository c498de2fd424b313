//go:build unix

package triage

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// minMapped is the size from which a log file is mapped rather than read.
const minMapped = 1 << 20

// releaseStep is how much of a mapped log is read before its pages are let go.
const releaseStep = 8 << 20

// A mappedLog is a log file mapped into memory, read where it lies.
type mappedLog struct {
	f        *os.File
	m        []byte // the whole file
	off      int    // where the reading stands in it
	released int    // the pages of m before this are let go
}

// mapLog maps a Postfix or Exim log that is a plain file, from where its reading stands,
// so that its lines are read where they lie instead of copied in: a third of the system
// time of a large log. It returns nil when that cannot or need not be done: a pipe, an
// unpacked or followed input, a small file.
func (rd *Reader) mapLog(in *opened) *mappedLog {
	if in.file == nil || rd.opts.Follow || (in.format != FormatPostfix && in.format != FormatExim) {
		return nil
	}
	st, err := in.file.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	pos, err := in.file.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil
	}
	off := pos - int64(in.br.Buffered()) // what was peeked is still to be read
	if off < 0 || st.Size()-off < minMapped || st.Size() != int64(int(st.Size())) {
		return nil
	}
	m, err := unix.Mmap(int(in.file.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	unix.Madvise(m, unix.MADV_SEQUENTIAL)
	return &mappedLog{f: in.file, m: m, off: int(off)}
}

// data is what is left to read.
func (ml *mappedLog) data() []byte { return ml.m[ml.off:] }

// read says that the first n bytes of data are read and will not be looked at again:
// their pages leave the process (they stay in the system's cache), so that its memory
// does not grow with the log.
func (ml *mappedLog) read(n int64) {
	end := (ml.off + int(n)) &^ (unix.Getpagesize() - 1)
	if end-ml.released < releaseStep {
		return
	}
	unix.Madvise(ml.m[ml.released:end], unix.MADV_DONTNEED)
	ml.released = end
}

// close unmaps the file and leaves its offset after the n bytes of data read, as reading
// them would have: a standard input shared with what runs next is left as read.
func (ml *mappedLog) close(n int64) {
	unix.Munmap(ml.m)
	ml.f.Seek(int64(ml.off)+n, io.SeekStart)
}
