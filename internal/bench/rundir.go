package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/inferbench/inferbench/internal/rundir"
)

// ErrDirInUse is returned when another run holds the run directory's lock.
var ErrDirInUse = errors.New("run directory in use")

// ErrDirHoldsRun is returned when the run directory already holds a run and
// overwriting was not asked for.
var ErrDirHoldsRun = errors.New("run directory already holds a run")

// heldRun returns the first run artifact in dir, or "".
func heldRun(dir string) string {
	for _, f := range rundir.Artifacts() {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			return f
		}
	}
	return ""
}

// DirInUse reports whether a run holds dir's lock right now: a running
// benchmark holds it from before it writes config.yaml until its results are
// written, so a directory with config.yaml and no holder is not running.
func DirInUse(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// checkDir tells, without changing anything, whether a run could claim dir:
// the usage errors of a run directory come before anything is created.
func checkDir(dir string, overwrite bool) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("report_dir %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("report_dir %s: not a directory", dir)
	}
	if DirInUse(dir) {
		return fmt.Errorf("%w; choose another --report-dir", inUse(dir))
	}
	if f := heldRun(dir); f != "" && !overwrite {
		return fmt.Errorf("%w: %s (it has %s); pass --overwrite to replace it or choose another --report-dir", ErrDirHoldsRun, dir, f)
	}
	return nil
}

// autoDir returns a fresh default run directory: reports/<date>-<time>, with
// a suffix when a run started in the same second already took it.
func autoDir(now time.Time) string {
	base := filepath.Join("reports", now.Format("20060102-150405"))
	dir := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			return dir
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// dirClaim is a run directory held for the life of a run: an exclusive flock
// on the directory itself (so nothing is left behind when the run ends or the
// process dies), and what the claim created, to undo a failed start.
type dirClaim struct {
	dir     string
	lock    *os.File
	created []string // directories created, outermost first
	files   []string // files written by the start
}

// claimDir creates dir (and its metrics/ folder) if needed and locks it.
// A directory another run holds is refused; one that holds a finished run is
// refused unless overwrite, in which case that run's files are removed first.
func claimDir(dir string, overwrite bool) (_ *dirClaim, err error) {
	c := &dirClaim{dir: dir}
	defer func() {
		if err != nil {
			c.undo()
		}
	}()
	if err := c.mkdirAll(dir); err != nil {
		return nil, fmt.Errorf("report_dir %s: %w", dir, err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("report_dir %s: %w", dir, err)
	}
	if err := lockExclusive(f); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w; choose another --report-dir", inUse(dir))
		}
		return nil, fmt.Errorf("report_dir %s: lock: %w", dir, err)
	}
	c.lock = f
	writeHolder(dir)
	// Checked again under the lock: another run may have finished here since
	// the check before the start.
	if held := heldRun(dir); held != "" {
		if !overwrite {
			return nil, fmt.Errorf("%w: %s (it has %s); pass --overwrite to replace it or choose another --report-dir", ErrDirHoldsRun, dir, held)
		}
		for _, a := range rundir.Artifacts() {
			if err := os.Remove(filepath.Join(dir, a)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("report_dir %s: --overwrite: %w", dir, err)
			}
		}
	}
	// No run holds the lock, so a socket file here is a dead run's.
	if err := os.Remove(filepath.Join(dir, rundir.SocketFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("report_dir %s: stale %s: %w", dir, rundir.SocketFile, err)
	}
	if err := c.mkdirAll(rundir.Metrics(dir)); err != nil {
		return nil, fmt.Errorf("report_dir %s: %w", dir, err)
	}
	return c, nil
}

// probeGrace is how long a claim retries a held lock: [DirInUse] (watch, or
// another run's check) holds a shared lock for a moment, a run for its life.
const probeGrace = 200 * time.Millisecond

// lockExclusive takes the exclusive flock on f, riding out a probe.
func lockExclusive(f *os.File) error {
	deadline := time.Now().Add(probeGrace)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mkdirAll is os.MkdirAll that remembers the directories it created.
func (c *dirClaim) mkdirAll(dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				continue // made by someone else meanwhile: not ours to remove
			}
			return err
		}
		c.created = append(c.created, missing[i])
	}
	return nil
}

// wrote records a file the start wrote, for undo.
func (c *dirClaim) wrote(path string) { c.files = append(c.files, path) }

// release unlocks the directory; the run's files stay.
func (c *dirClaim) release() {
	if c.lock != nil {
		removeHolder(c.dir) // while still held: the next holder's note stays
		_ = c.lock.Close()  // closing the last descriptor drops the flock
		c.lock = nil
	}
}

// undo removes what a failed start created (its files, then the directories
// it made, innermost first, only if empty) and unlocks: a failed start
// leaves nothing behind.
func (c *dirClaim) undo() {
	if c.lock != nil {
		removeHolder(c.dir) // before the directories it would keep from going
	}
	for _, f := range c.files {
		_ = os.Remove(f)
	}
	for i := len(c.created) - 1; i >= 0; i-- {
		_ = os.Remove(c.created[i])
	}
	c.files, c.created = nil, nil
	c.release()
}

// LockDir takes dir's exclusive lock, the one a running benchmark holds,
// for another writer of a run directory (inferbench aggregate --out): a
// directory held by a running benchmark or aggregator is refused with
// ErrDirInUse, naming the holder when its note says who it is. dir must
// exist. The caller adds which flag to change. The lock lasts until release is called or
// the process ends.
func LockDir(dir string) (release func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := lockExclusive(f); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, inUse(dir)
		}
		return nil, fmt.Errorf("%s: lock: %w", dir, err)
	}
	writeHolder(dir)
	return func() {
		removeHolder(dir) // while still held: the next holder's note stays
		_ = f.Close()     // closing the descriptor drops the flock
	}, nil
}
