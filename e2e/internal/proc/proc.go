// Package proc starts the processes the e2e tests need (emulators, stand-ins, plugins, etcd,
// kube-apiserver) one way: a command that is not installed fails naming the set-up step that
// installs it, readiness is polled with a deadline, output is kept (in a file, or the first 64 KiB
// in memory, so a chatty server never blocks on a full pipe), and Stop is SIGTERM, then SIGKILL.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec says how to start one process and how to tell it is ready.
type Spec struct {
	Command string
	Args    []string
	// Env is added to the test's environment; DropEnv drops every variable with one of these prefixes.
	Env     []string
	DropEnv []string
	// InstalledBy names the set-up step that installs Command, for the error when it is missing.
	InstalledBy string
	// LogFile, when set, receives the output (kept whole); otherwise the first 64 KiB is kept in memory.
	LogFile string
	// Ready is polled every 50 ms until it returns nil; Timeout bounds the wait (default 30 s).
	Ready   func(p *Process) error
	Timeout time.Duration
	// Redact lists strings blanked out of the output when it is shown in an error.
	Redact []string
}

// Process is a started process.
type Process struct {
	Name   string
	cmd    *exec.Cmd
	done   chan struct{}
	out    *headBuffer
	log    string
	redact []string
}

// Start runs spec.Command and waits until spec.Ready says it is ready.
func Start(spec Spec) (*Process, error) {
	cmd := exec.Command(spec.Command, spec.Args...)
	cmd.Env = environ(spec.Env, spec.DropEnv)
	// A grandchild that keeps the output pipe open must not block Wait after the process ended.
	cmd.WaitDelay = 5 * time.Second
	p := &Process{Name: filepath.Base(spec.Command), cmd: cmd, done: make(chan struct{}), out: &headBuffer{max: 64 << 10}, redact: spec.Redact}
	var sink io.Writer = p.out
	var logFile *os.File
	if spec.LogFile != "" {
		f, err := os.Create(spec.LogFile)
		if err != nil {
			return nil, err
		}
		logFile, sink, p.log = f, f, spec.LogFile
	}
	cmd.Stdout, cmd.Stderr = sink, sink
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cannot start %s: it is not installed (run %s)", spec.Command, spec.InstalledBy)
		}
		return nil, fmt.Errorf("cannot start %s: %w", spec.Command, err)
	}
	go func() {
		_ = cmd.Wait()
		if logFile != nil {
			logFile.Close()
		}
		close(p.done)
	}()
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		err := spec.Ready(p)
		if err == nil {
			return p, nil
		}
		if p.Exited() {
			return nil, fmt.Errorf("%s exited before it was ready (%v):\n%s", p.Name, err, p.Tail())
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("%s was not ready within %s (%v):\n%s", p.Name, timeout, err, p.Tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to end and returns its exit error (nil for exit 0).
func (p *Process) Wait() error {
	<-p.done
	return exitError(p.cmd.ProcessState)
}

// Stop sends SIGTERM and waits up to 20 s, then kills; it returns the exit error, if any.
func (p *Process) Stop() error {
	if p == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return exitError(p.cmd.ProcessState)
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within 20s of SIGTERM", p.Name)
	}
}

// Output is what the process printed so far (redacted).
func (p *Process) Output() string {
	text := p.out.String()
	if p.log != "" {
		b, _ := os.ReadFile(p.log)
		text = string(b)
	}
	for _, s := range p.redact {
		if s != "" {
			text = strings.ReplaceAll(text, s, "<redacted>")
		}
	}
	return text
}

// Tail is the end of the output, for failure messages.
func (p *Process) Tail() string {
	text := p.Output()
	if len(text) > 4000 {
		text = text[len(text)-4000:]
	}
	return text
}

// HTTPReady is a readiness probe: GET url answers 200 within 2 s.
func HTTPReady(url string) func(*Process) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return func(*Process) error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
		}
		return nil
	}
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func exitError(state *os.ProcessState) error {
	if state == nil || state.Success() {
		return nil
	}
	return fmt.Errorf("exit: %s", state.String())
}

func environ(add, drop []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		keep := true
		for _, prefix := range drop {
			if strings.HasPrefix(kv, prefix) {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return append(env, add...)
}

// headBuffer keeps the first max bytes written to it: start-up errors come early, and the
// process must never block on a full pipe.
type headBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *headBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *headBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
