package harness

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// SyncProbe measures what the disk under dir charges for a durable write:
// it overwrites one 4 KiB page of a 1 MiB file and fdatasyncs it, n times,
// as bbolt does for every commit (twice: data pages, then the meta page).
func SyncProbe(dir string, n int) ([]time.Duration, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return nil, fmt.Errorf("fsync probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		return nil, fmt.Errorf("fsync probe: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("fsync probe: %w", err)
	}
	page := make([]byte, 4096)
	out := make([]time.Duration, 0, n)
	for i := range n {
		page[0] = byte(i)
		if _, err := f.WriteAt(page, int64(i%256)*4096); err != nil {
			return nil, fmt.Errorf("fsync probe: %w", err)
		}
		start := time.Now()
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return nil, fmt.Errorf("fsync probe: %w", err)
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

// FilesystemType names the filesystem dir is on ("ext4", "tmpfs", ...,
// or its magic number in hex).
func FilesystemType(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return fmt.Sprintf("0x%x", st.Type)
}
