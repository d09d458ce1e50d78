package executor_test

import (
	"context"
	"testing"
	"time"

	"github.com/owui/owui/internal/faultfs"
	"github.com/owui/owui/manifest"
)

// TestApplyReadsThePreviousManifestOnce: an incremental apply reads the
// manifest of the snapshot it builds on once per target, not once to plan
// the capture and again to send (a 20,000-file manifest is 5.8 MB, on a
// remote target a download each time). The target is wrapped only to
// count the opens of manifest objects.
func TestApplyReadsThePreviousManifestOnce(t *testing.T) {
	for _, kind := range []string{"local", "s3"} {
		t.Run(kind, func(t *testing.T) {
			w := newFaultWorld(t, 5)
			base, _ := bases(t, kind)
			remote, c := faultfs.Remote(t, base, "match="+manifest.FileName)
			e := w.env(t, 10, nil, tgt{"t", remote})
			ctx := context.Background()
			for i := range 3 {
				before := c.Stats().Opens
				addChat(t, w.data)
				res, _ := e.applyAt(t, ctx, t0.Add(time.Duration(i)*25*time.Hour))
				if err := res.Err(); err != nil {
					t.Fatal(err)
				}
				want := int64(1)
				if i == 0 {
					want = 0 // nothing to build on
				}
				if got := c.Stats().Opens - before; got != want {
					t.Errorf("apply %d opened %d manifests, want %d", i+1, got, want)
				}
			}
		})
	}
}
