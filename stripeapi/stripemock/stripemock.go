// Package stripemock starts Stripe's official API mock, stripe-mock, for
// tests and the demo. The version is pinned by the tool directive in go.mod
// (v0.183.0, whose OpenAPI spec is exactly API version 2023-10-16), and the
// mock runs with -strict-version-check so a request at any other API version
// fails.
//
// STRIPE_MOCK_URL, when set, names a stripe-mock that is already running and
// nothing is started.
package stripemock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Version is the stripe-mock release paydesk is tested against.
const Version = "v0.183.0"

const modulePath = "github.com/stripe/stripe-mock"

// Mock is a running stripe-mock.
type Mock struct {
	// URL is the base URL of the API, e.g. http://127.0.0.1:41234.
	URL string

	cmd  *exec.Cmd
	done chan struct{}
}

var buildMu sync.Mutex

// Binary builds stripe-mock once per machine into the user cache folder and
// returns its path. The build uses the module's own go.mod, so the version is
// the one the tool directive pins.
func Binary(ctx context.Context) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "paydesk")
	bin := filepath.Join(dir, "stripe-mock-"+Version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("stripemock: %w", err)
	}
	// Build to a private name, then rename: parallel test binaries may race
	// to build, and a rename is atomic.
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, modulePath)
	cmd.Dir = moduleRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("stripemock: go build %s: %w\n%s", modulePath, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("stripemock: %w", err)
	}
	return bin, nil
}

// moduleRoot finds the folder holding paydesk's go.mod, so the build resolves
// the pinned version whichever package's tests call it.
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

var listenRE = regexp.MustCompile(`Listening for HTTP at address: (\S+)`)

// Start runs stripe-mock on a free loopback port, or returns the one named by
// STRIPE_MOCK_URL. Stop it with Close.
func Start(ctx context.Context) (*Mock, error) {
	if u := os.Getenv("STRIPE_MOCK_URL"); u != "" {
		return &Mock{URL: strings.TrimRight(u, "/")}, nil
	}
	bin, err := Binary(ctx)
	if err != nil {
		return nil, err
	}
	// Both listeners get a free loopback port: the HTTPS default (12112)
	// would collide between parallel test binaries.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0", "-strict-version-check")
	dieWithParent(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("stripemock: %w", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("stripemock: start: %w", err)
	}
	m := &Mock{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if g := listenRE.FindStringSubmatch(sc.Text()); g != nil {
				select {
				case found <- g[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
	}()
	select {
	case addr := <-found:
		m.URL = "http://" + addr
		return m, nil
	case <-m.done:
		return nil, errors.New("stripemock: stripe-mock exited before listening")
	case <-time.After(60 * time.Second):
		m.Close()
		return nil, errors.New("stripemock: stripe-mock did not start within 60s")
	case <-ctx.Done():
		m.Close()
		return nil, ctx.Err()
	}
}

// Close stops a stripe-mock that Start started.
func (m *Mock) Close() {
	if m == nil || m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
}
