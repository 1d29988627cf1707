package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestProfilesAreServedOnTheirOwnAddressUntilTheHostStops(t *testing.T) {
	var logs strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := servePprof(ctx, "127.0.0.1:0", slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr.String()
	for _, path := range []string{"/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
	}
	if !strings.Contains(logs.String(), `"addr":"`+addr.String()+`"`) || !strings.Contains(logs.String(), `"level":"WARN"`) {
		t.Errorf("no warning naming the address: %s", logs.String())
	}

	cancel()
	client := &http.Client{Timeout: time.Second}
	for i := 0; ; i++ {
		resp, err := client.Get(base + "/debug/pprof/cmdline")
		if err != nil {
			break
		}
		_ = resp.Body.Close()
		if i == 1000 {
			t.Fatal("the profile server still answers after the host stopped")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAnAddressThatCannotBeListenedOnIsAnError(t *testing.T) {
	_, err := servePprof(context.Background(), "127.0.0.1:-1", slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "--pprof-address") {
		t.Fatalf("err = %v, want one naming --pprof-address", err)
	}
}
