package stage

import (
	"errors"
	"os"
	"syscall"
)

// lseek's whence values for sparse files (Linux ≥ 3.1).
const (
	seekData = 3
	seekHole = 4
)

// dataRegion returns the next region of f at or after off that holds data,
// clipped to size: [start, end). start == size means only a hole is left.
// Where the file system cannot tell, everything from off is data.
func dataRegion(f *os.File, off, size int64) (start, end int64) {
	start, err := f.Seek(off, seekData)
	if errors.Is(err, syscall.ENXIO) {
		return size, size // no data after off
	}
	if err != nil {
		return off, size
	}
	end, err = f.Seek(start, seekHole)
	if err != nil {
		end = size
	}
	return min(start, size), min(end, size)
}
