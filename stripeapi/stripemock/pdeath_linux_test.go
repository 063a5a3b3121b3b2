package stripemock

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMockDiesWithItsParent kills, with SIGKILL, a process that started
// stripe-mock, and expects the mock to go too.
func TestMockDiesWithItsParent(t *testing.T) {
	if os.Getenv("STRIPEMOCK_PARENT") == "1" {
		return // the parent's part runs in TestHelperParent
	}
	if os.Getenv("STRIPE_MOCK_URL") != "" {
		t.Skip("STRIPE_MOCK_URL names a mock this test does not start")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperParent$", "-test.v")
	cmd.Env = append(os.Environ(), "STRIPEMOCK_PARENT=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	mockPID := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MOCK PID "); ok {
			mockPID, _ = strconv.Atoi(rest)
			break
		}
	}
	if mockPID == 0 {
		_ = cmd.Process.Kill()
		t.Fatal("the parent did not report the mock's pid")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(mockPID) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(mockPID, syscall.SIGKILL)
			t.Fatalf("stripe-mock %d outlived its killed parent", mockPID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHelperParent is the parent TestMockDiesWithItsParent kills: it starts
// a mock, says its pid and waits.
func TestHelperParent(t *testing.T) {
	if os.Getenv("STRIPEMOCK_PARENT") != "1" {
		t.Skip("runs only as TestMockDiesWithItsParent's child")
	}
	m, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("MOCK PID %d\n", m.cmd.Process.Pid)
	time.Sleep(time.Minute)
	m.Close()
}

// alive reports whether pid runs (a zombie waiting to be reaped counts as
// gone).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
