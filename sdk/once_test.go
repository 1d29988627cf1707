package sdk

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestOnceLoggerLogsEachKeyOnceAndRemembersABoundedNumber(t *testing.T) {
	var buf bytes.Buffer
	o := &OnceLogger{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Max: 3}
	for range 5 {
		o.Warn("reason=Foo", "unknown reason", "reason", "Foo")
	}
	if n := strings.Count(buf.String(), "unknown reason"); n != 1 {
		t.Fatalf("logged %d times, want 1", n)
	}
	for i := range 10 {
		o.Warn(fmt.Sprint(i), "odd value")
	}
	if o.Len() != 3 {
		t.Fatalf("remembers %d keys, want the maximum 3", o.Len())
	}
}

func TestCheckType(t *testing.T) {
	cfg := func(v string) Config { return Config{Settings: map[string]string{"gitOpsOperatorType": v}} }
	if errs := CheckType(cfg(""), "gitOpsOperatorType", "FLUX"); errs != nil {
		t.Errorf("empty: %v", errs)
	}
	if errs := CheckType(cfg("flux"), "gitOpsOperatorType", "FLUX"); errs != nil {
		t.Errorf("case-insensitive: %v", errs)
	}
	errs := CheckType(cfg("ARGOCD"), "gitOpsOperatorType", "FLUX")
	if len(errs) != 1 || errs[0].Error() != `gitOpsOperatorType: is "ARGOCD", but this plugin serves FLUX` {
		t.Errorf("mismatch: %v", errs)
	}
}
