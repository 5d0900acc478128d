package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdLink is a Markdown link's target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsReferToRepositoryFiles: the README and docs/ link only to files
// the repository has, and do not send readers to design notes or folders
// outside it (a fresh clone has neither).
func TestDocsReferToRepositoryFiles(t *testing.T) {
	root := repoRoot(t)
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := append([]string{filepath.Join(root, "README.md")}, docs...)
	links := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for i, line := range strings.Split(string(data), "\n") {
			for _, bad := range []string{"DESIGN.md", "../shared"} {
				if strings.Contains(line, bad) {
					t.Errorf("%s:%d mentions %s, which is not in the repository", rel, i+1, bad)
				}
			}
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				target, _, _ = strings.Cut(target, "#")
				links++
				if _, err := os.Stat(filepath.Join(filepath.Dir(f), target)); err != nil {
					t.Errorf("%s:%d links to %s, which does not exist", rel, i+1, m[1])
				}
			}
		}
	}
	if links == 0 {
		t.Error("found no relative links at all: the link pattern is broken")
	}
}
