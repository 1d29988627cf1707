package hostproc_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
)

// The test binary doubles as a fake host: run with roleEnv set, it behaves
// as the role says instead of running the tests, so Start, Stop and Kill
// are tested against a real process without building the connector.

// roleEnv names the fake host's role: "serve" (listen and answer like the
// host), "exit" (exit with status 3 before listening), "stubborn" (serve
// but ignore SIGTERM), "group" (serve and start a child process) or
// "child" (wait to be killed).
const roleEnv = "HOSTPROC_TEST_ROLE"

// notReadyEnv is how many /readyz requests the fake answers 503 before it
// answers 200.
const notReadyEnv = "HOSTPROC_TEST_NOT_READY"

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		if err := fakeHost(role, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "fake host:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeHost logs JSON lines to stderr as the host does: "fake host started"
// with its arguments and environment, then the listening line; it answers
// /readyz and events (logging "event delivered" for each) until SIGTERM.
func fakeHost(role string, args []string) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	log.Info("fake host started", "args", args, "env", os.Environ())
	switch role {
	case "exit":
		os.Exit(3)
	case "child":
		select {}
	}
	if len(args) == 0 || args[0] != "serve" {
		return fmt.Errorf("want the serve command, got %q", args)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "", "")
	fs.String("plugin-dir", "", "")
	fs.String("subscribers-dir", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if role == "group" {
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), roleEnv+"=child")
		if err := child.Start(); err != nil {
			return err
		}
		log.Info("child started", "pid", child.Process.Pid)
	}
	terms := make(chan os.Signal, 1)
	if role == "stubborn" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(terms, syscall.SIGTERM)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	notReady, _ := strconv.Atoi(os.Getenv(notReadyEnv))
	var readyz atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if n := readyz.Add(1); n <= int64(notReady) {
			log.Info("not ready", "request", n)
			http.Error(w, "loading plugins", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) == "refuse" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "rejected", "reason": "refused"})
			return
		}
		log.Info("event delivered", "path", r.URL.Path, "signature", r.Header.Get("X-Signature"))
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "accepted", "commit": string(body), "statuses": 2, "finished": true})
	})
	go func() { _ = http.Serve(ln, mux) }()
	log.Info("gitops-connector listening", "addr", ln.Addr().String())
	<-terms
	log.Info("stopping on SIGTERM")
	return nil
}
