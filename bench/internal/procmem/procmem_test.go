package procmem

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mib = 1 << 20

// testdata/proc holds a host (4100) with two plugin servers (4107 flux,
// 4108 github), a plugin binary run with "describe" (4109), a grandchild
// (4201, child of flux) and an unrelated process (4200).

func TestSampleSumsThePeaksOfTheHostAndItsPluginServers(t *testing.T) {
	s, err := NewSampler("testdata/proc", 4100)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sample(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range s.Processes() {
		got = append(got, p.Name)
	}
	if want := []string{"gitops-connecto", "flux", "github"}; !slices.Equal(got, want) {
		t.Errorf("processes %v, want %v (no describe run, grandchild or stranger)", got, want)
	}
	if got, want := Sum(s.Processes()).PeakBytes, uint64(18+9+11)*mib; got != want {
		t.Errorf("total peak %d, want %d", got, want)
	}
	for _, p := range s.Processes() {
		if p.Name != "flux" {
			continue
		}
		if p.CPUSeconds != 3 {
			t.Errorf("flux used %v s of processor time, want 3 (250 + 50 ticks)", p.CPUSeconds)
		}
		if p.PeakAnonBytes != 2304<<10 || p.PeakFileBytes != 6912<<10 {
			t.Errorf("flux anonymous %d, file %d; want 2304 KiB and 6912 KiB", p.PeakAnonBytes, p.PeakFileBytes)
		}
	}
}

func TestAPeakIsKeptAfterTheProcessShrinksOrExits(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, "testdata/proc", dir)
	s, err := NewSampler(dir, 4100)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sample(); err != nil {
		t.Fatal(err)
	}
	// The github plugin exits; the flux plugin's VmHWM reads lower (as
	// after an exec, which resets it).
	if err := os.RemoveAll(filepath.Join(dir, "4108")); err != nil {
		t.Fatal(err)
	}
	status := filepath.Join(dir, "4107", "status")
	b, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	shrunk := strings.NewReplacer("9216 kB", "2048 kB", "2304 kB", "512 kB").Replace(string(b))
	if err := os.WriteFile(status, []byte(shrunk), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Sample(); err != nil {
		t.Fatal(err)
	}
	if got, want := Sum(s.Processes()).PeakBytes, uint64(18+9+11)*mib; got != want {
		t.Errorf("total peak %d, want %d", got, want)
	}
	for _, p := range s.Processes() {
		if p.Name == "flux" && p.PeakAnonBytes != 2304<<10 {
			t.Errorf("flux peak anonymous %d after it shrank, want 2304 KiB", p.PeakAnonBytes)
		}
	}
}

func TestSampleFailsOnceTheHostIsGone(t *testing.T) {
	s, err := NewSampler("testdata/proc", 4999)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sample(); err == nil || !strings.Contains(err.Error(), "4999") {
		t.Errorf("Sample of a missing host: %v", err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
