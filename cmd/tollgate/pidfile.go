package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// pidFile is the file (-pid-file) naming the process that serves: written
// at start, rewritten by the new process of a binary upgrade once it is
// ready (before the old one exits, so a service manager following the
// file never sees it name a dead process), rewritten by the old process
// when an upgrade fails, and removed at a clean exit by the process it
// names. Every write replaces the file by a rename, so readers never see
// it half written and each write is a new inode (what `tollgate -upgrade`
// watches for).
type pidFile string

// write makes the file name pid.
func (p pidFile) write(pid int) error {
	if p == "" {
		return nil
	}
	path := string(p)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing the PID file: %w", err)
	}
	_, err = fmt.Fprintf(tmp, "%d\n", pid)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing the PID file: %w", err)
	}
	return nil
}

// removeIfOurs removes the file when it still names pid (after a binary
// upgrade it names the new process, which keeps it).
func (p pidFile) removeIfOurs(pid int) {
	if p == "" {
		return
	}
	if got, _, err := p.read(); err == nil && got == pid {
		os.Remove(string(p))
	}
}

// read returns the PID the file names and the stamp of that version of
// the file.
func (p pidFile) read() (pid int, st stamp, err error) {
	f, err := os.Open(string(p))
	if err != nil {
		return 0, stamp{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, stamp{}, err
	}
	var b [32]byte
	n, _ := f.Read(b[:])
	pid, err = strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0, stamp{}, fmt.Errorf("%s: not a PID file (%q)", string(p), b[:n])
	}
	return pid, stampOf(info), nil
}

// stamp tells versions of the PID file apart: every write is a new file
// (a rename), so a new inode and modification time.
type stamp struct {
	inode uint64
	mtime int64
}

func stampOf(info fs.FileInfo) stamp {
	s := stamp{mtime: info.ModTime().UnixNano()}
	if sys, ok := info.Sys().(*syscall.Stat_t); ok {
		s.inode = sys.Ino
	}
	return s
}

// current returns the stamp of the file as it is now (zero when it is
// missing).
func (p pidFile) current() stamp {
	info, err := os.Stat(string(p))
	if err != nil {
		return stamp{}
	}
	return stampOf(info)
}
