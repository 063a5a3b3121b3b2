package static

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// The vendored SSE extension and paydesk's live script are embedded, and
// the extension is the file README.md names, unmodified.
func TestLiveScriptsEmbedded(t *testing.T) {
	for _, name := range []string{"htmx-ext-sse.js", "paydesk-live.js"} {
		b, err := fs.ReadFile(FS, name)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %d bytes, %v", name, len(b), err)
		}
	}
	b, err := fs.ReadFile(FS, "htmx-ext-sse.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "htmx.defineExtension('sse'") {
		t.Error("htmx-ext-sse.js does not define the sse extension")
	}
	sum := sha256.Sum256(b)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), hex.EncodeToString(sum[:])) {
		t.Errorf("README.md does not name htmx-ext-sse.js's sha256 %x", sum)
	}
	if _, err := os.Stat("HTMX_EXT_SSE_LICENSE"); err != nil {
		t.Error("the extension's license is missing:", err)
	}
}
