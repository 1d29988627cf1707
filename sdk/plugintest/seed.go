package plugintest

import (
	"os"
	"path/filepath"
	"testing"
)

// Seed adds to a fuzz target's corpus the files that pattern matches (an
// operator's event fixtures, "testdata/*.json"), the Garbage bodies and
// extra. A pattern that matches no file fails f: the target would fuzz
// without the real events.
func Seed(f *testing.F, pattern string, extra ...string) {
	f.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("plugintest: no fixtures match %s: %v", pattern, err)
	}
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	for _, body := range Garbage {
		f.Add(body)
	}
	for _, body := range extra {
		f.Add([]byte(body))
	}
}
