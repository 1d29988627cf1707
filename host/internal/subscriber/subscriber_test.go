package subscriber

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadReadsTheChartsConfigMapLayout(t *testing.T) {
	dir := t.TempDir()
	// A ConfigMap mount: ..data holds the files, the names are symlinks.
	data := filepath.Join(dir, "..2026_11_24")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(data, "spektate"), []byte("http://spektate.default:8080/api/status\nignored second line\n"), 0o644)
	_ = os.WriteFile(filepath.Join(data, "audit"), []byte("  https://audit.example/hook  "), 0o644)
	_ = os.Symlink(data, filepath.Join(dir, "..data"))
	_ = os.Symlink(filepath.Join("..data", "spektate"), filepath.Join(dir, "spektate"))
	_ = os.Symlink(filepath.Join("..data", "audit"), filepath.Join(dir, "audit"))
	subs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Subscriber{{"audit", "https://audit.example/hook"}, {"spektate", "http://spektate.default:8080/api/status"}}
	if len(subs) != 2 || subs[0] != want[0] || subs[1] != want[1] {
		t.Fatalf("subscribers %+v, want %+v", subs, want)
	}
}

func TestLoadRejectsAFileThatIsNotAURL(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "bad"), []byte("not a url"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "subscriber bad") {
		t.Fatalf("err = %v", err)
	}
	if subs, err := Load(filepath.Join(dir, "missing")); err != nil || subs != nil {
		t.Fatalf("missing dir: %v %v", subs, err)
	}
}

func TestSendPostsTheOldPayload(t *testing.T) {
	var got map[string]string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got)
		if r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(415)
		}
	}))
	defer s.Close()
	c := NewClient(5 * time.Second)
	err := c.Send(context.Background(), Subscriber{Name: "s", URL: s.URL}, Payload{
		CommitID: "abc1234", StatusName: "Health", State: "Healthy", Message: "3/3 Healthy",
		CallbackURL: "https://app", GitOpsOperator: "ArgoCD", Genre: "ArgoCD",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"commit_id": "abc1234", "status_name": "Health", "state": "Healthy", "message": "3/3 Healthy",
		"callback_url": "https://app", "gitops_operator": "ArgoCD", "genre": "ArgoCD"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("payload %v has other keys", got)
	}
}

func TestSendReportsANon2xxAnswer(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer s.Close()
	err := NewClient(time.Second).Send(context.Background(), Subscriber{Name: "s", URL: s.URL}, Payload{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 500 {
		t.Fatalf("err = %v", err)
	}
}
