//go:build unix

package triage

import (
	"io"

	"golang.org/x/sys/unix"
)

// minMapped is the size from which a log file is mapped rather than read.
const minMapped = 1 << 20

// mapLog maps a Postfix or Exim log that is a plain file, from where its reading stands,
// so that its lines are read where they lie instead of copied in: a third of the system
// time of a large log. ok is false when that cannot or need not be done: a pipe, an
// unpacked or followed input, a small file. The bytes counted so far as read are not
// counted again.
func (rd *Reader) mapLog(in *opened) (data []byte, unmap func(), ok bool) {
	if in.file == nil || rd.opts.Follow || (in.format != FormatPostfix && in.format != FormatExim) {
		return nil, nil, false
	}
	st, err := in.file.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, nil, false
	}
	pos, err := in.file.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, nil, false
	}
	off := pos - int64(in.br.Buffered()) // what was peeked is still to be read
	if off < 0 || st.Size()-off < minMapped || st.Size() != int64(int(st.Size())) {
		return nil, nil, false
	}
	m, err := unix.Mmap(int(in.file.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, false
	}
	unix.Madvise(m, unix.MADV_SEQUENTIAL)
	return m[off:], func() { unix.Munmap(m) }, true
}
