package manifest

import (
	"encoding/json"
	"testing"
)

// mustJSON marshals without validation, to build bad manifests.
func mustJSON(t *testing.T, m *Manifest) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
