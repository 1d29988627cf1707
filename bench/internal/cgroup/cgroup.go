// Package cgroup gives the processes the benchmark measures a memory cgroup
// of their own and reads its working set the way the kubelet does: the
// cgroup's memory usage minus its inactive file pages (what
// container_memory_working_set_bytes and `kubectl top` show, and what
// evictions go by).
//
// Version 1 (a "memory" hierarchy) and version 2 (the unified hierarchy) are
// both handled. The group is created inside the benchmark's own cgroup, so
// whatever accounts for the benchmark still accounts for it. Creating it
// needs write access to that cgroup (root, or a delegated subtree);
// without it New fails and the caller falls back to /proc figures.
package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Mount is where Linux mounts the cgroup file systems.
const Mount = "/sys/fs/cgroup"

// Group is a memory cgroup made for the processes measured.
type Group struct {
	// Dir is the cgroup's directory.
	Dir string
	// Version is 1 or 2.
	Version int
}

// New creates a memory cgroup named name inside the caller's own, under
// the cgroup file systems mounted at mount.
func New(mount, name string) (*Group, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	v1, v2 := ownPaths(self)
	var tried []string
	if v1 != "" {
		if _, err := os.Stat(filepath.Join(mount, "memory", v1, "memory.usage_in_bytes")); err == nil {
			g := &Group{Dir: filepath.Join(mount, "memory", v1, name), Version: 1}
			if err := os.Mkdir(g.Dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("create the memory cgroup: %w", err)
			}
			return g, nil
		}
		tried = append(tried, "no v1 memory controller at "+filepath.Join(mount, "memory", v1))
	}
	if v2 != "" {
		parent := filepath.Join(mount, v2)
		if _, err := os.Stat(filepath.Join(parent, "cgroup.controllers")); err == nil {
			// Processes may sit only in leaves of a v2 tree whose memory
			// controller is enabled below: that holds for the root (in a
			// container with its own cgroup namespace) and for delegated
			// subtrees set up for it.
			if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
				return nil, fmt.Errorf("enable the memory controller below %s: %w", parent, err)
			}
			g := &Group{Dir: filepath.Join(parent, name), Version: 2}
			if err := os.Mkdir(g.Dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("create the memory cgroup: %w", err)
			}
			return g, nil
		}
		tried = append(tried, "no v2 hierarchy at "+parent)
	}
	return nil, fmt.Errorf("no memory cgroup to create: %s", strings.Join(tried, "; "))
}

// ownPaths returns the caller's cgroup in the v1 memory hierarchy and in the
// v2 hierarchy, from the content of /proc/self/cgroup
// ("hierarchy-ID:controllers:path" lines).
func ownPaths(procSelfCgroup []byte) (v1Memory, v2 string) {
	sc := bufio.NewScanner(bytes.NewReader(procSelfCgroup))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case containsWord(parts[1], "memory"):
			v1Memory = parts[2]
		}
	}
	return v1Memory, v2
}

func containsWord(list, word string) bool {
	for _, w := range strings.Split(list, ",") {
		if w == word {
			return true
		}
	}
	return false
}

// Enter moves the calling process into the cgroup at dir and replaces it
// with argv[0] (a path) run with argv: the process keeps its pid, and
// everything it starts is in the cgroup from its first page. It returns
// only on failure.
func Enter(dir string, argv []string) error {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte("0"), 0); err != nil {
		return fmt.Errorf("enter the cgroup %s: %w", dir, err)
	}
	return fmt.Errorf("exec %s: %w", argv[0], syscall.Exec(argv[0], argv, os.Environ()))
}

// WorkingSet is the kubelet's working set of the group: usage minus the
// inactive file pages (v1: memory.usage_in_bytes − total_inactive_file;
// v2: memory.current − inactive_file), never below zero.
func (g *Group) WorkingSet() (uint64, error) {
	usageFile, inactiveKey := "memory.usage_in_bytes", "total_inactive_file"
	if g.Version == 2 {
		usageFile, inactiveKey = "memory.current", "inactive_file"
	}
	raw, err := os.ReadFile(filepath.Join(g.Dir, usageFile))
	if err != nil {
		return 0, fmt.Errorf("read the cgroup's usage: %w", err)
	}
	usage, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", usageFile, err)
	}
	stat, err := os.ReadFile(filepath.Join(g.Dir, "memory.stat"))
	if err != nil {
		return 0, fmt.Errorf("read the cgroup's memory.stat: %w", err)
	}
	inactive, err := statValue(stat, inactiveKey)
	if err != nil {
		return 0, err
	}
	return WorkingSetOf(usage, inactive), nil
}

// WorkingSetOf is usage minus inactive file pages, 0 when they exceed it.
func WorkingSetOf(usage, inactiveFile uint64) uint64 {
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}

// statValue finds key in the content of a memory.stat file.
func statValue(stat []byte, key string) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(stat))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("memory.stat %s: %w", key, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("memory.stat has no %s", key)
}

// Remove deletes the cgroup once its processes have exited.
func (g *Group) Remove() error {
	if err := os.Remove(g.Dir); err != nil {
		return fmt.Errorf("remove the cgroup: %w", err)
	}
	return nil
}
