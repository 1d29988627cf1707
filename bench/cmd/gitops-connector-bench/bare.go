package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// bareCommand runs the baseline server: `gitops-connector-bench
// bare-handler -listen ADDR`. It is a process of its own, as the host is,
// so both are measured through the same loopback with their own scheduler.
const bareCommand = "bare-handler"

// bareAnswer is what the bare handler answers, about the size of the
// host's 202 answer.
const bareAnswer = `{"status":"accepted","event":"0123456789abcdef","config":"default","commit":"0000000000000000000000000000000000000000","statuses":1,"finished":true}` + "\n"

// bareHandler reads the whole body and answers 202: the least any intake
// must do.
func bareHandler(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, bareAnswer)
}

func serveBare(args []string) error {
	fs := flag.NewFlagSet(bareCommand, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The parent reads the address from the first line.
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: http.HandlerFunc(bareHandler), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// bareServer is the running baseline process.
type bareServer struct {
	*child
	URL string
}

// startBare runs this binary's bare-handler mode on a free loopback port
// and returns once it listens.
func startBare(ctx context.Context) (*bareServer, error) {
	c, addr, err := startChild(ctx, "the bare handler", bareCommand, "-listen", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &bareServer{child: c, URL: "http://" + addr}, nil
}

// child is a process of this binary in another mode (the bare handler, the
// NATS cluster), measured apart from the benchmark's own process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startChild runs this binary with args and returns once the process
// printed its first line (the address it serves), with that line.
func startChild(ctx context.Context, what string, args ...string) (*child, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("find this binary: %w", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", fmt.Errorf("start %s: %w", what, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", what, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	first := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		first <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(c.done)
	}()
	select {
	case line := <-first:
		if line == "" {
			c.stop()
			return nil, "", fmt.Errorf("%s exited at start", what)
		}
		return c, line, nil
	case <-ctx.Done():
		c.stop()
		return nil, "", fmt.Errorf("%s did not start: %w", what, ctx.Err())
	}
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop ends the child with SIGTERM, then SIGKILL after 5 s.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
