package cgroup

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOwnPathsReadsBothHierarchies(t *testing.T) {
	hybrid := "9:name=systemd:/\n4:memory:/process_api/11ce\n2:cpu,cpuacct:/x\n0::/\n"
	if v1, v2 := ownPaths([]byte(hybrid)); v1 != "/process_api/11ce" || v2 != "/" {
		t.Errorf("hybrid: v1 %q, v2 %q", v1, v2)
	}
	if v1, v2 := ownPaths([]byte("0::/user.slice/session-3.scope\n")); v1 != "" || v2 != "/user.slice/session-3.scope" {
		t.Errorf("unified: v1 %q, v2 %q", v1, v2)
	}
	// "memory" must be a controller of its own, not a part of a name.
	if v1, _ := ownPaths([]byte("5:name=memoryish:/a\n")); v1 != "" {
		t.Errorf("name=memoryish taken for the memory controller: %q", v1)
	}
}

func TestWorkingSetIsUsageMinusInactiveFilePages(t *testing.T) {
	write := func(dir, name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v1 := t.TempDir()
	write(v1, "memory.usage_in_bytes", "104857600\n")
	// inactive_file is the group's own; the kubelet takes total_ (with
	// its descendants).
	write(v1, "memory.stat", "cache 1\ninactive_file 999\ntotal_inactive_file 20971520\ntotal_active_file 5\n")
	if ws, err := (&Group{Dir: v1, Version: 1}).WorkingSet(); err != nil || ws != 83886080 {
		t.Errorf("v1 working set %d, %v; want 80 MiB", ws, err)
	}

	v2 := t.TempDir()
	write(v2, "memory.current", "50000\n")
	write(v2, "memory.stat", "anon 30000\nfile 20000\nactive_file 5000\ninactive_file 15000\n")
	if ws, err := (&Group{Dir: v2, Version: 2}).WorkingSet(); err != nil || ws != 35000 {
		t.Errorf("v2 working set %d, %v; want 35000", ws, err)
	}

	write(v2, "memory.stat", "anon 30000\n")
	if _, err := (&Group{Dir: v2, Version: 2}).WorkingSet(); err == nil {
		t.Error("a memory.stat without inactive_file gave a working set")
	}
	if ws := WorkingSetOf(10, 20); ws != 0 {
		t.Errorf("inactive above usage (read at different instants): %d, want 0", ws)
	}
}
