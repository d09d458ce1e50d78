package faultfs

import (
	"context"
	"io"
	"time"

	"github.com/rclone/rclone/fs"
)

// Object is an object of the wrapped remote, seen through the wrapper.
type Object struct {
	fs.Object
	f *Fs
}

var (
	_ fs.Object          = (*Object)(nil)
	_ fs.ObjectUnWrapper = (*Object)(nil)
)

// Fs returns the wrapper, not the base.
func (o *Object) Fs() fs.Info { return o.f }

// UnWrap returns the base's object.
func (o *Object) UnWrap() fs.Object { return o.Object }

// Update rewrites the object through the base unless a fault is injected.
func (o *Object) Update(ctx context.Context, in io.Reader, src fs.ObjectInfo, options ...fs.OpenOption) error {
	if err := o.f.beforeWrite(ctx, o.Remote()); err != nil {
		return err
	}
	err := o.Object.Update(ctx, in, src, options...)
	o.f.afterWrite(o.Remote(), err)
	return err
}

// Remove is refused by a read-only wrapper.
func (o *Object) Remove(ctx context.Context) error {
	if err := o.f.refuse("remove", o.Remote()); err != nil {
		return err
	}
	return o.Object.Remove(ctx)
}

// SetModTime is refused by a full or read-only wrapper.
func (o *Object) SetModTime(ctx context.Context, t time.Time) error {
	if err := o.f.refuse("chtimes", o.Remote()); err != nil {
		return err
	}
	return o.Object.SetModTime(ctx, t)
}

// Open opens the object in the base, counted in Opens when it matches;
// with short_reads the reader ends early.
func (o *Object) Open(ctx context.Context, options ...fs.OpenOption) (io.ReadCloser, error) {
	rc, err := o.Object.Open(ctx, options...)
	if err != nil || !o.f.matches(o.Remote()) {
		return rc, err
	}
	o.f.c.opens.Add(1)
	if o.f.opt.ShortReads == shortOff {
		return rc, nil
	}
	o.f.c.reads.Add(1)
	start := openOffset(options)
	remaining := o.Size() - start
	if remaining <= 0 {
		return rc, nil
	}
	s := &shortReader{rc: rc, c: o.f.c, limit: remaining / 2, end: io.EOF}
	if o.f.opt.ShortReads == shortError {
		s.end = io.ErrUnexpectedEOF
		if start > 0 {
			s.limit = 0 // a resumed read fails at once: the connection keeps dropping
		}
	}
	return s, nil
}

// openOffset is where a read with options starts in the object.
func openOffset(options []fs.OpenOption) int64 {
	var start int64
	for _, opt := range options {
		switch x := opt.(type) {
		case *fs.SeekOption:
			start = x.Offset
		case *fs.RangeOption:
			if x.Start >= 0 {
				start = x.Start
			}
		}
	}
	return start
}

// shortReader delivers limit bytes of rc, then end.
type shortReader struct {
	rc    io.ReadCloser
	c     *Counters
	limit int64
	end   error
	cut   bool
}

func (s *shortReader) Read(p []byte) (int, error) {
	if s.limit <= 0 {
		if !s.cut {
			s.cut = true
			s.c.shortReads.Add(1)
		}
		return 0, s.end
	}
	if int64(len(p)) > s.limit {
		p = p[:s.limit]
	}
	n, err := s.rc.Read(p)
	s.limit -= int64(n)
	return n, err
}

func (s *shortReader) Close() error { return s.rc.Close() }
