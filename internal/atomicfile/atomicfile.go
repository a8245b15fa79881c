// Package atomicfile writes whole files atomically: the content goes to a
// temporary file in the target's directory, which is fsynced, renamed over
// the target, and the directory fsynced. A reader (or a crash, or a full
// disk) therefore sees either the old file or the complete new one, never a
// 0-byte or half-written file; on failure the temporary file is removed and
// the target is untouched.
//
// It is a leaf package (standard library only) so that every package that
// writes a whole file — config, final snapshot, reports, exports — uses this
// one helper.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically with permissions perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write calls fill with a buffered writer to a temporary file next to path
// and, when fill and every write succeed, makes it path atomically. Errors
// name the file and the cause, e.g. "write out/report.txt: no space left on
// device".
func Write(path string, perm os.FileMode, fill func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err = fill(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, unwrapPath(err))
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, unwrapPath(err))
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, unwrapPath(err))
	}
	// The rename is durable only once the directory entry is.
	if err = SyncDir(dir); err != nil {
		// The file is in place; only its durability is in doubt.
		return fmt.Errorf("fsync directory of %s: %w", path, unwrapPath(err))
	}
	return nil
}

// SyncDir fsyncs a directory, making renames and creations in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// unwrapPath drops the *os.PathError wrapper (its path is the temporary
// file's, which would only confuse) and keeps the cause.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
