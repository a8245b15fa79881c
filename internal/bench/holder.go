package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"unicode"

	"github.com/inferbench/inferbench/internal/rundir"
)

// The lock of a run directory is a flock on the directory: it cannot say
// who holds it. So the holder writes a note, rundir.HolderFile, right after
// taking the lock and removes it before dropping it, and a refused writer
// reads the note to name the holder ("in use by a running `inferbench
// aggregate` (pid 1234)"). The note is a hint only: the flock decides. A
// note that is missing, stale (its pid is gone), cut short, garbage or huge
// gives the generic message.

// maxHolderNote bounds the read of a holder note: a real one is tens of
// bytes; anything beyond is not one.
const maxHolderNote = 1024

// maxHolderCommand bounds the command a note may name in a message.
const maxHolderCommand = 200

var (
	holderMu  sync.Mutex
	holderCmd string
)

// SetHolder names the command this process runs (e.g. "inferbench sweep"),
// for the note it leaves in the run directories it locks; by default it is
// the program's name.
func SetHolder(command string) {
	holderMu.Lock()
	holderCmd = command
	holderMu.Unlock()
}

// holderNote is the content of rundir.HolderFile.
type holderNote struct {
	Command string `json:"command"`
	PID     int    `json:"pid"`
}

// writeHolder leaves this process's note in dir, which it has just locked.
// A failure to write it is ignored: it only makes a refusal less precise.
func writeHolder(dir string) {
	holderMu.Lock()
	cmd := holderCmd
	holderMu.Unlock()
	if cmd == "" {
		cmd = filepath.Base(os.Args[0])
	}
	b, err := json.Marshal(holderNote{Command: cmd, PID: os.Getpid()})
	if err != nil {
		return
	}
	_ = os.WriteFile(rundir.Holder(dir), append(b, '\n'), 0o644)
}

// removeHolder removes this process's note from dir, which it still holds.
func removeHolder(dir string) { _ = os.Remove(rundir.Holder(dir)) }

// readHolder returns the note of dir's holder, if a valid one of a live
// process is there.
func readHolder(dir string) (holderNote, bool) {
	// O_NONBLOCK: opening a FIFO would wait for a writer.
	f, err := os.OpenFile(rundir.Holder(dir), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return holderNote{}, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return holderNote{}, false // a FIFO or a device is no note
	}
	b, err := io.ReadAll(io.LimitReader(f, maxHolderNote+1))
	if err != nil || len(b) > maxHolderNote {
		return holderNote{}, false
	}
	var n holderNote
	if json.Unmarshal(b, &n) != nil || n.PID <= 0 || n.Command == "" || len(n.Command) > maxHolderCommand ||
		strings.IndexFunc(n.Command, func(r rune) bool { return !unicode.IsPrint(r) || r == '`' }) >= 0 {
		return holderNote{}, false
	}
	// A note whose process is gone is a dead holder's (the live one has not
	// written its own yet): it names nobody.
	if err := syscall.Kill(n.PID, 0); errors.Is(err, syscall.ESRCH) {
		return holderNote{}, false
	}
	return n, true
}

// inUse returns the ErrDirInUse error refusing dir, naming its holder when
// its note says who that is.
func inUse(dir string) error {
	if n, ok := readHolder(dir); ok {
		return fmt.Errorf("%w: %s is in use by a running `%s` (pid %d)", ErrDirInUse, dir, n.Command, n.PID)
	}
	return fmt.Errorf("%w: %s is locked by another running process", ErrDirInUse, dir)
}
