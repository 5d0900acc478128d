package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func exampleLookup(name string) (string, bool) {
	v, ok := exampleEnv[name]
	return v, ok
}

// missingKeys parses a config and returns, as schema paths, the keys the
// decoder would accept at a mapping the file has but that the file does not
// show, plus processor types the file has no processor of. The decoder
// itself says what it knows (keyLog), so a key added to the decoder is
// missing here until the example shows it.
func missingKeys(data []byte, name string) ([]string, error) {
	log := newKeyLog()
	if _, err := parseLogged(data, name, exampleLookup, log); err != nil {
		return nil, err
	}
	var missing []string
	for path, known := range log.known {
		for key := range known {
			if !log.present[path][key] {
				missing = append(missing, join(path, key))
			}
		}
	}
	for typ := range processorTypes {
		if _, ok := log.known["processors.<"+typ+">"]; !ok {
			missing = append(missing, "processors.<"+typ+"> (a processor of type "+typ+")")
		}
	}
	slices.Sort(missing)
	return missing, nil
}

// TestExampleShowsEveryKey: config/example.yaml is the reference of every
// key. When this fails after you added a key to the decoder, add it to
// config/example.yaml with its default and a comment (and to the README's
// table if operators set it).
func TestExampleShowsEveryKey(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	missing, err := missingKeys(data, "example.yaml")
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if len(missing) > 0 {
		t.Errorf("config/example.yaml does not show %d key(s) the decoder knows; add each with its default and a comment:\n  %s",
			len(missing), strings.Join(missing, "\n  "))
	}
}

// TestMissingKeysFindsGaps: the check above can fail. A key taken out of
// the example, a key of one processor type, a nested block and a list
// item's key are each reported.
func TestMissingKeysFindsGaps(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ drop, want string }{
		{"  settle_timeout:", "server.settle_timeout"},
		{"    webhook_secret:", "processors.<stripe>.webhook_secret"},
		{"    circuit:", "processors.<stripe>.circuit"},
		{"      cascade_on:", "merchants[].routing.cascade_on"},
	} {
		cut, ok := dropKey(data, tc.drop)
		if !ok {
			t.Fatalf("example.yaml has no line starting %q", tc.drop)
		}
		missing, err := missingKeys(cut, "example.yaml without "+tc.want)
		if err != nil {
			t.Fatalf("without %s: %v", tc.want, err)
		}
		if !slices.Contains(missing, tc.want) {
			t.Errorf("without %q: missing = %v, want %s in it", tc.drop, missing, tc.want)
		}
	}
}

// dropKey removes the first line starting with prefix and, when it opens a
// block, the lines indented under it.
func dropKey(data []byte, prefix string) ([]byte, bool) {
	var out []string
	found, dropIndent := false, -1
	for _, l := range strings.Split(string(data), "\n") {
		indent := len(l) - len(strings.TrimLeft(l, " "))
		if dropIndent >= 0 {
			if strings.TrimSpace(l) == "" || indent > dropIndent {
				continue
			}
			dropIndent = -1
		}
		if !found && strings.HasPrefix(l, prefix) {
			found, dropIndent = true, indent
			continue
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n")), found
}

// yamlBlock is a ```yaml fenced block of a Markdown file.
type yamlBlock struct {
	file string
	line int // of the opening fence
	text string
}

func yamlBlocks(t *testing.T, files ...string) []yamlBlock {
	t.Helper()
	var out []yamlBlock
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cur *yamlBlock
		var indent string
		for i, line := range strings.Split(string(data), "\n") {
			trimmed := strings.TrimSpace(line)
			switch {
			case cur == nil && trimmed == "```yaml":
				indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
				cur = &yamlBlock{file: f, line: i + 1}
			case cur != nil && trimmed == "```":
				out = append(out, *cur)
				cur = nil
			case cur != nil:
				cur.text += strings.TrimPrefix(line, indent) + "\n"
			}
		}
		if cur != nil {
			t.Fatalf("%s:%d: unterminated ```yaml block", f, cur.line)
		}
	}
	return out
}

// mergeNode lays frag over base: mappings merge key by key, lists of
// mappings with an id merge item by item (others are replaced), scalars are
// replaced. A doc block shows a few keys; the rest comes from the example.
func mergeNode(base, frag *yaml.Node) *yaml.Node {
	switch {
	case base.Kind == yaml.MappingNode && frag.Kind == yaml.MappingNode:
		out := *base
		out.Content = slices.Clone(base.Content)
		for i := 0; i+1 < len(frag.Content); i += 2 {
			k, v := frag.Content[i], frag.Content[i+1]
			j := slices.IndexFunc(evenItems(out.Content), func(n *yaml.Node) bool { return n.Value == k.Value })
			if j < 0 {
				out.Content = append(out.Content, k, v)
				continue
			}
			out.Content[2*j+1] = mergeNode(out.Content[2*j+1], v)
		}
		return &out
	case base.Kind == yaml.SequenceNode && frag.Kind == yaml.SequenceNode && allHaveIDs(frag):
		out := *base
		out.Content = slices.Clone(base.Content)
		for _, item := range frag.Content {
			j := slices.IndexFunc(out.Content, func(n *yaml.Node) bool { return idOf(n) == idOf(item) })
			if j < 0 {
				out.Content = append(out.Content, item)
				continue
			}
			out.Content[j] = mergeNode(out.Content[j], item)
		}
		return &out
	}
	return frag
}

func evenItems(content []*yaml.Node) []*yaml.Node {
	var keys []*yaml.Node
	for i := 0; i < len(content); i += 2 {
		keys = append(keys, content[i])
	}
	return keys
}

func idOf(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "id" {
			return n.Content[i+1].Value
		}
	}
	return ""
}

func allHaveIDs(seq *yaml.Node) bool {
	for _, n := range seq.Content {
		if idOf(n) == "" {
			return false
		}
	}
	return len(seq.Content) > 0
}

// complete reports whether a block is a whole config: it has the sections
// every config needs.
func complete(root *yaml.Node) bool {
	keys := evenItems(root.Content)
	for _, need := range []string{"vault", "processors", "merchants"} {
		if !slices.ContainsFunc(keys, func(k *yaml.Node) bool { return k.Value == need }) {
			return false
		}
	}
	return true
}

// TestDocExamplesLoad: every YAML example of an acpgw config in the README
// and docs/ loads. A block is a fragment: it is laid over
// config/example.yaml (keys merge, merchants merge by id) and the result
// goes through the config loader, validation included; a block that is a
// whole config (vault, processors, merchants) loads on its own. Blocks that
// are not acpgw configs (Prometheus rules) are told apart by their top-level
// keys.
func TestDocExamplesLoad(t *testing.T) {
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	exampleData, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var example yaml.Node
	if err := yaml.Unmarshal(exampleData, &example); err != nil {
		t.Fatal(err)
	}
	log := newKeyLog()
	if _, err := parseLogged(exampleData, "example.yaml", exampleLookup, log); err != nil {
		t.Fatal(err)
	}
	topLevel := log.known[""]
	checked := map[string]int{}
	for _, b := range yamlBlocks(t, append([]string{"../README.md"}, docs...)...) {
		where := fmt.Sprintf("%s:%d", strings.TrimPrefix(b.file, "../"), b.line)
		var frag yaml.Node
		if err := yaml.Unmarshal([]byte(b.text), &frag); err != nil {
			t.Errorf("%s: the yaml block does not parse: %v", where, err)
			continue
		}
		root := frag.Content[0]
		if root.Kind != yaml.MappingNode || !slices.ContainsFunc(evenItems(root.Content), func(k *yaml.Node) bool { return topLevel[k.Value] }) {
			continue // not an acpgw config
		}
		checked[b.file]++
		if complete(root) {
			// A whole config: it loads as it is, line numbers and all.
			if _, err := parseLogged([]byte(b.text), where, exampleLookup, nil); err != nil {
				t.Errorf("%s: the example does not load (lines count from the block's first line):\n%v", where, err)
			}
			continue
		}
		merged, err := yaml.Marshal(mergeNode(example.Content[0], root))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseLogged(merged, where+" laid over example.yaml", exampleLookup, nil); err != nil {
			// Line numbers are of the merged document; run with -v to see it.
			t.Errorf("%s: the example does not load when laid over config/example.yaml:\n%v", where, err)
			t.Logf("%s laid over config/example.yaml:\n%s", where, merged)
		}
	}
	if checked["../README.md"] < 3 {
		t.Errorf("checked %d config blocks of README.md, want its routing, Stripe and Adyen examples at least", checked["../README.md"])
	}
}
