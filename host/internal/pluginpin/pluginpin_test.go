package pluginpin

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChecksumListsAreReadAsSha256sumPrintsThem(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "webhook")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum, _ := Sum(bin)
	good := hex.EncodeToString(sum)
	list := "# pinned\n\n" + good + "  " + bin + "\n" + strings.Repeat("0", 64) + " *" + filepath.Join(dir, "other") + "\n"
	p, err := Parse(strings.NewReader(list), "pins")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Check(bin); err != nil || hex.EncodeToString(got) != good {
		t.Errorf("Check(listed) = %x, %v", got, err)
	}
	if got, err := p.Check(filepath.Join(t.TempDir(), "anything")); err != nil || got != nil {
		t.Errorf("Check(unpinned directory) = %x, %v; want nothing to verify", got, err)
	}
	other := filepath.Join(dir, "other")
	_ = os.WriteFile(other, []byte("changed"), 0o755)
	if _, err := p.Check(other); err == nil || !strings.Contains(err.Error(), "was replaced or the list is out of date") {
		t.Errorf("Check(changed) = %v", err)
	}
	stranger := filepath.Join(dir, "stranger")
	_ = os.WriteFile(stranger, []byte("x"), 0o755)
	if _, err := p.Check(stranger); err == nil || !strings.Contains(err.Error(), "not listed in pins") {
		t.Errorf("Check(unlisted in a pinned directory) = %v", err)
	}

	for _, bad := range []string{"abc  x", good, good + "  ", "zz" + good[2:] + "  x", good + "  a\n" + good + "  a"} {
		if _, err := Parse(strings.NewReader(bad), "pins"); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if p, err := Load(""); err != nil || p.sums != nil {
		t.Errorf("Load(\"\") = %+v, %v", p, err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing list is accepted")
	}
}
