package static

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"strings"
	"testing"
)

func TestEmbedded(t *testing.T) {
	for _, name := range []string{"paydesk.css", "htmx.min.js"} {
		b, err := fs.ReadFile(FS, name)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %d bytes, %v", name, len(b), err)
		}
	}
}

// The vendored htmx is the file README.md names, unmodified.
func TestHTMXMatchesREADME(t *testing.T) {
	b, err := fs.ReadFile(FS, "htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `version:"2.0.11"`) {
		t.Error("htmx.min.js is not htmx 2.0.11")
	}
	sum := sha256.Sum256(b)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), hex.EncodeToString(sum[:])) {
		t.Errorf("README.md does not name htmx.min.js's sha256 %x", sum)
	}
}

// The stylesheet loads nothing from elsewhere: no web fonts, no CDN.
func TestCSSIsSelfContained(t *testing.T) {
	b, err := fs.ReadFile(FS, "paydesk.css")
	if err != nil {
		t.Fatal(err)
	}
	css := strings.ToLower(string(b))
	for _, bad := range []string{"@import", "url(", "@font-face", "http:", "https:"} {
		if strings.Contains(css, bad) {
			t.Errorf("paydesk.css contains %q", bad)
		}
	}
}
