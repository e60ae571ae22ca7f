// Package testproc runs the real tender binary as child processes, for
// tests that must kill a server with SIGKILL or run several instances:
// what an operator's supervisor does, not an in-process shortcut.
package testproc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var build struct {
	sync.Once
	path string
	err  error
	out  []byte
}

// Binary builds ./cmd/tender once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	build.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "tender-bin")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "tender")
		cmd := exec.Command("go", "build", "-o", build.path, "./cmd/tender")
		cmd.Dir = root
		build.out, build.err = cmd.CombinedOutput()
	})
	if build.err != nil {
		t.Fatalf("build tender: %v\n%s", build.err, build.out)
	}
	return build.path
}

// Environ is a child's environment: PATH and HOME plus env.
func Environ(env map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// Run runs a tender command to completion and returns its stdout.
func Run(t testing.TB, env map[string]string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = Environ(env)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		return out, &runError{err: err, stderr: errOut.String()}
	}
	return out, nil
}

type runError struct {
	err    error
	stderr string
}

func (e *runError) Error() string { return e.err.Error() + ": " + e.stderr }

// Proc is a running `tender serve`.
type Proc struct {
	URL  string
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) write(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start runs `tender serve` on 127.0.0.1:0 and waits until it listens.
func Start(t testing.TB, env map[string]string) *Proc {
	t.Helper()
	cmd := exec.Command(Binary(t), "serve", "--addr", "127.0.0.1:0")
	cmd.Env = Environ(env)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{cmd: cmd, logs: &lockedBuffer{}, done: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.logs.write(append(append([]byte{}, line...), '\n'))
			var rec struct{ Msg, URL string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				select {
				case urls <- rec.URL:
				default:
				}
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.Kill() })
	select {
	case p.URL = <-urls:
	case <-p.done:
		t.Fatalf("tender exited before listening:\n%s", p.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("tender did not start:\n%s", p.logs)
	}
	return p
}

// Logs is everything the process logged.
func (p *Proc) Logs() string { return p.logs.String() }

// Kill sends SIGKILL and waits for the process to die.
func (p *Proc) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM (a graceful shutdown) and waits.
func (p *Proc) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(45 * time.Second):
		p.Kill()
	}
}

// WaitLog waits until the process logged substr.
func (p *Proc) WaitLog(t testing.TB, substr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.logs.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the logs:\n%s", substr, p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Cmd is a tender command running in the background.
type Cmd struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Command starts a tender command without waiting for it.
func Command(t testing.TB, env map[string]string, args ...string) *Cmd {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = Environ(env)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Cmd{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { c.Kill() })
	return c
}

// Kill sends SIGKILL; it reports whether the command was still running.
func (c *Cmd) Kill() bool {
	select {
	case <-c.done:
		return false
	default:
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	return true
}
