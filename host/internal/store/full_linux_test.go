package store

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fullDisk swaps the store's file descriptor for one of /dev/full, where
// every write fails with ENOSPC, and back: a full disk, injected below
// bbolt, that can be lifted again.
type fullDisk struct {
	t     *testing.T
	file  *os.File
	saved int
}

// openOnDisk opens a store whose disk can be filled.
func openOnDisk(t *testing.T, dir string) (*Bolt, *fullDisk) {
	t.Helper()
	d := &fullDisk{t: t, saved: -1}
	s, err := Open(dir, Options{openFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		d.file = f
		return f, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.free()
		_ = s.Close()
	})
	return s, d
}

func (d *fullDisk) fill() {
	d.t.Helper()
	full, err := os.OpenFile("/dev/full", os.O_RDWR, 0)
	if err != nil {
		d.t.Fatalf("this test needs /dev/full: %v", err)
	}
	defer full.Close()
	fd := int(d.file.Fd())
	if d.saved, err = syscall.Dup(fd); err != nil {
		d.t.Fatal(err)
	}
	if err := syscall.Dup3(int(full.Fd()), fd, syscall.O_CLOEXEC); err != nil {
		d.t.Fatal(err)
	}
}

func (d *fullDisk) free() {
	if d.saved < 0 {
		return
	}
	if err := syscall.Dup3(d.saved, int(d.file.Fd()), syscall.O_CLOEXEC); err != nil {
		d.t.Fatal(err)
	}
	_ = syscall.Close(d.saved)
	d.saved = -1
}

func TestAFullDiskFailsWritesAndCheckReportsItUntilSpaceIsFreed(t *testing.T) {
	dir := t.TempDir()
	s, disk := openOnDisk(t, dir)
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }
	before, err := s.Add(record("before", commitA, "Status"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("Check = %v on a healthy store", err)
	}

	disk.fill()
	_, err = s.Add(record("lost", commitA, "Status"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Add on a full disk = %v, want the write error", err)
	}
	if !strings.Contains(err.Error(), s.Path()) {
		t.Errorf("error %q does not name the store", err)
	}
	if err := s.Check(); err == nil {
		t.Fatal("Check = nil after a failed write")
	}
	if err := s.Done(record("before", commitA), nil); err == nil {
		t.Fatal("Done succeeded on a full disk")
	}

	disk.free()
	after, err := s.Add(record("after", commitA, "Status"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err == nil {
		t.Fatal("Check = nil right after writes failed: one write that fits proves little")
	}
	now = now.Add(unhealthyFor)
	if err := s.Check(); err != nil {
		t.Fatalf("Check = %v 15s after the last failure", err)
	}

	// Nothing was half-written: the file opens, verified, with exactly the
	// records whose Add succeeded.
	s = reopen(t, s, dir)
	got := pending(t, s)
	if len(got) != 2 || got[0].Seq != before || got[0].ID != "before" || got[1].Seq != after || got[1].ID != "after" {
		t.Fatalf("records after the full disk: %+v", got)
	}
}
