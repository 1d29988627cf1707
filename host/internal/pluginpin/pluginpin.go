// Package pluginpin pins plugin binaries to SHA-256 checksums, as Terraform
// pinned its provider binaries in a lock file: an operator lists the
// binaries a plugin directory may hold, and the host runs no other binary
// from that directory and no binary whose content changed.
//
// The list is a file in the format sha256sum prints:
//
//	9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  /app/plugins-extra/webhook
//
// A directory is pinned when the list names a binary in it. In a pinned
// directory an unlisted binary is refused; anywhere, a listed binary whose
// checksum differs is refused, before it is run even to describe itself,
// and again (through go-plugin's SecureConfig) each time its process
// starts, so a binary swapped after start-up is not run either.
package pluginpin

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Pins are the checksums of pinned binaries by cleaned absolute path. The
// zero value pins nothing.
type Pins struct {
	source string
	sums   map[string][]byte
	dirs   map[string]bool
}

// Load reads a checksum list; "" pins nothing. A line that is not
// "<64 hex digits> <path>" is an error that names the line.
func Load(path string) (Pins, error) {
	if path == "" {
		return Pins{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Pins{}, fmt.Errorf("plugin checksums: %w", err)
	}
	defer f.Close()
	p, err := Parse(f, path)
	if err != nil {
		return Pins{}, fmt.Errorf("plugin checksums %s: %w", path, err)
	}
	return p, nil
}

// Parse reads a checksum list from r; source names it in messages.
// Relative paths are taken relative to the working directory.
func Parse(r io.Reader, source string) (Pins, error) {
	p := Pins{source: source, sums: map[string][]byte{}, dirs: map[string]bool{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, name, ok := strings.Cut(line, " ")
		name = strings.TrimPrefix(strings.TrimSpace(name), "*") // sha256sum's binary-mode mark
		b, err := hex.DecodeString(sum)
		if !ok || err != nil || len(b) != sha256.Size || name == "" {
			return Pins{}, fmt.Errorf("line %d: want \"<sha256 in hex>  <path of the binary>\", as sha256sum prints it", n)
		}
		abs, err := filepath.Abs(name)
		if err != nil {
			return Pins{}, fmt.Errorf("line %d: %w", n, err)
		}
		if _, dup := p.sums[abs]; dup {
			return Pins{}, fmt.Errorf("line %d: %s is listed twice", n, name)
		}
		p.sums[abs] = b
		p.dirs[filepath.Dir(abs)] = true
	}
	if err := sc.Err(); err != nil {
		return Pins{}, err
	}
	return p, nil
}

// Check verifies the binary at path before it is run. It returns the
// checksum go-plugin must verify at every start (nil when the binary's
// directory is not pinned), or why the binary must not run.
func (p Pins) Check(path string) ([]byte, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	want, listed := p.sums[abs]
	if !listed {
		if p.dirs[filepath.Dir(abs)] {
			return nil, fmt.Errorf("refused: %s is in a pinned plugin directory but not listed in %s; if it is yours, add the line %q", path, p.source, sumLine(abs))
		}
		return nil, nil
	}
	got, err := Sum(abs)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(got, want) {
		return nil, fmt.Errorf("refused: the SHA-256 of %s is %x, but %s pins %x: the binary was replaced or the list is out of date", path, got, p.source, want)
	}
	return want, nil
}

// Sum returns the SHA-256 of a file.
func Sum(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return h.Sum(nil), nil
}

// sumLine is the list line that would pin the binary at path as it is now.
func sumLine(path string) string {
	sum, err := Sum(path)
	if err != nil {
		return "<sha256>  " + path
	}
	return hex.EncodeToString(sum) + "  " + path
}
