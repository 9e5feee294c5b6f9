package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal: the terminal end a Bar writes to, and the
// other end the test reads what a user would see from.
func openPTY(t *testing.T) (terminal, screen *os.File) {
	t.Helper()
	screen, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var unlock, n int32
	if err := ioctl(screen, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	if err := ioctl(screen, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("pty number: %v", err)
	}
	terminal, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	return terminal, screen
}

func ioctl(f *os.File, req uint, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(req), uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// TestTerminal draws a live bar on a pseudo-terminal, through a change from
// an unknown to a known total, and checks that New saw the terminal, that the
// bar was drawn in place (carriage returns, no stream of lines) and that the
// final line ends the output.
func TestTerminal(t *testing.T) {
	t.Setenv("TERM", "xterm")
	terminal, screen := openPTY(t)
	shown := make(chan []byte)
	go func() {
		data, _ := io.ReadAll(screen) // EIO once the terminal end is closed
		shown <- data
	}()

	b := New(terminal, 0, "statement import")
	if !b.isLive {
		t.Fatal("New on a terminal drew no live bar")
	}
	for range 50 {
		b.Add(1)
	}
	b.SetTotal(200)
	for range 100 {
		b.Add(1)
	}
	b.SetTotal(300)
	b.Finish()
	b.Finish()
	_ = terminal.Close()
	out := <-shown
	_ = screen.Close()

	// The terminal turns "\n" into "\r\n".
	text := string(bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n")))
	if !strings.Contains(text, "\r") {
		t.Errorf("no bar drawn in place:\n%q", text)
	}
	if n := strings.Count(text, "\n"); n != 1 {
		t.Errorf("%d lines, want the final one only:\n%q", n, text)
	}
	last := text[strings.LastIndex(text, "\r")+1:]
	if !strings.HasPrefix(last, "statement import: 150/300 (50%) in ") {
		t.Errorf("output ends with %q, want the final line", last)
	}
}

func TestDumbTerminalIsPlain(t *testing.T) {
	t.Setenv("TERM", "dumb")
	terminal, screen := openPTY(t)
	defer func() { _ = screen.Close(); _ = terminal.Close() }()
	if New(terminal, 10, "x").isLive {
		t.Error("live bar on TERM=dumb")
	}
}
