package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// growPipe makes the pipe the output goes into hold 1 MiB instead of 64 KiB, when it is a
// pipe and the system allows it: a large output (JSON of a big log) is then written in a
// few hundred calls that the reader drains in as many, not in thousands of hand-offs
// between the two processes. Anything else is left as it is.
func growPipe(w io.Writer) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20) // refused above /proc/sys/fs/pipe-max-size: as it was
}
