// Package pgcluster runs a private PostgreSQL cluster from the local
// PostgreSQL binaries (initdb, pg_ctl). Tests start a throwaway one; the demo
// keeps one under a data folder and reuses it on the next run.
//
// PostgreSQL refuses to run as root, so when the current user is root the
// binaries run as the "postgres" system user and the folders are handed to
// it.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is a PostgreSQL server started by Start.
type Cluster struct {
	// Dir is the cluster's data folder.
	Dir string
	// Port is the TCP port it listens on, on 127.0.0.1 only.
	Port int

	bin  string
	cred *syscall.Credential
	opts []string // server options, kept for Restart
	log  string
}

// Options tune Start.
type Options struct {
	// Dir is the data folder. It is created and initialised if it holds no
	// cluster yet, and reused if it does.
	Dir string
	// Port to listen on; 0 picks a free one.
	Port int
	// Durable keeps fsync on. Throwaway test clusters turn it off: it makes
	// them several times faster and a crash loses nothing they need.
	Durable bool
	// Log is the server log file; empty means Dir/../postgres.log.
	Log string
	// Settings are extra server settings, each "name=value" (passed as
	// -c name=value), e.g. "shared_buffers=1GB" for benchmarks.
	Settings []string
	// TakeOver first stops a server already running on Dir: one left
	// behind by a process killed before it could stop it (the demo, whose
	// caller holds a lock on the folder, knows no live process owns it).
	// Without it, Start fails when Dir's server is running.
	TakeOver bool
}

// URL returns a connection URL for database name as the superuser
// "postgres" (local trust authentication; the server only listens on
// loopback).
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, database)
}

// Start initialises Dir when needed and starts the server, waiting until it
// accepts connections.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: o.Dir, Port: o.Port, bin: bin}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	if c.Port == 0 {
		if c.Port, err = freePort(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := c.chown(c.Dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.run(ctx, "initdb", "-D", c.Dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
			return nil, err
		}
	}
	if o.TakeOver && c.Running(ctx) {
		if err := c.Stop(); err != nil {
			return nil, fmt.Errorf("pgcluster: stop the server left running on %s: %w", c.Dir, err)
		}
	}
	logFile := o.Log
	if logFile == "" {
		logFile = filepath.Join(filepath.Dir(c.Dir), filepath.Base(c.Dir)+".log")
	}
	if f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640); err == nil {
		f.Close()
		_ = c.chown(logFile)
	}
	// The socket goes into the data folder: /var/run/postgresql may not
	// exist or be writable, and a private folder keeps clusters apart.
	opts := []string{
		"-c listen_addresses=127.0.0.1",
		"-p " + strconv.Itoa(c.Port),
		"-c unix_socket_directories=" + c.Dir,
		"-c max_connections=200",
	}
	for _, setting := range o.Settings {
		opts = append(opts, "-c "+setting)
	}
	if !o.Durable {
		opts = append(opts, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
	}
	c.opts, c.log = opts, logFile
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.Dir, "-l", c.log, "-o", strings.Join(c.opts, " "))
}

// Restart starts a stopped cluster again on the same port, as it was.
// Fault tests stop the database under a running paydesk and bring it back.
func (c *Cluster) Restart(ctx context.Context) error { return c.start(ctx) }

// Stop shuts the server down (fast mode: open sessions are ended).
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return c.run(ctx, "pg_ctl", "stop", "-w", "-m", "fast", "-D", c.Dir)
}

// Running reports whether the cluster's server is up.
func (c *Cluster) Running(ctx context.Context) bool {
	return c.run(ctx, "pg_ctl", "status", "-D", c.Dir) == nil
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = os.TempDir()
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		cmd.Dir = "/"
	}
	// pg_ctl start leaves the server running in the background with our
	// stdout inherited unless it is a file; CombinedOutput's pipe would keep
	// the call waiting for the server to exit.
	out, err := os.CreateTemp("", "pgcluster-*.out")
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(out.Name())
		return fmt.Errorf("pgcluster: %s %s: %w: %s", name, args[0], err, strings.TrimSpace(string(msg)))
	}
	return nil
}

func (c *Cluster) chown(path string) error {
	if c.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
		return fmt.Errorf("pgcluster: hand %s to postgres: %w", path, err)
	}
	return nil
}

// binDir finds initdb: on PATH, else the newest /usr/lib/postgresql/N/bin.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	best, bestVersion := "", -1
	for _, m := range matches {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && v > bestVersion {
			best, bestVersion = filepath.Dir(m), v
		}
	}
	if best == "" {
		return "", errors.New("pgcluster: PostgreSQL's initdb was not found on PATH or under /usr/lib/postgresql")
	}
	return best, nil
}

func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs the postgres system user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
