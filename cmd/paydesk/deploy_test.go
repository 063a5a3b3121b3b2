package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"paydesk/stripeapi/stripemock"
)

// The container files at the repository root (Dockerfile, .dockerignore,
// docker-compose.yml) are checked here against the code they package: no
// Docker is needed. `docker compose config` and a build are the real
// checks where Docker exists; these catch the drift a reviewer misses (a Go
// upgrade, a renamed variable, a root user).

const repoRoot = "../../"

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(repoRoot + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goModVersion is go.mod's go directive.
func goModVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\S+)\s*$`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return m[1]
}

// dockerInstr is one Dockerfile instruction: its keyword (upper case) and
// the rest of its (joined) lines.
type dockerInstr struct{ op, args string }

// dockerStages splits a Dockerfile into its instructions: the ones before
// the first FROM (global ARGs), then one slice per stage, FROM first.
func dockerStages(src string) (global []dockerInstr, stages [][]dockerInstr) {
	var joined []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(trimmed)
		joined = append(joined, cur.String())
		cur.Reset()
	}
	for _, l := range joined {
		op, args, _ := strings.Cut(l, " ")
		in := dockerInstr{strings.ToUpper(op), strings.Join(strings.Fields(args), " ")}
		switch {
		case in.op == "FROM":
			stages = append(stages, []dockerInstr{in})
		case len(stages) == 0:
			global = append(global, in)
		default:
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	return global, stages
}

func instrs(stage []dockerInstr, op string) []string {
	var out []string
	for _, in := range stage {
		if in.op == op {
			out = append(out, in.args)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	global, stages := dockerStages(readRepoFile(t, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage Dockerfile, got %d stages", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	// The build stage's Go is go.mod's.
	goVersion := goModVersion(t)
	if !slices.Contains(instrs(global, "ARG"), "GO_VERSION="+goVersion) {
		t.Errorf("want ARG GO_VERSION=%s (go.mod's go directive) before the first FROM; global instructions %v", goVersion, global)
	}
	if from := build[0].args; !strings.HasPrefix(from, "golang:${GO_VERSION}") {
		t.Errorf("build stage FROM %q, want the official golang image at ${GO_VERSION}", from)
	}

	// A static, path-free binary with the Makefile's ldflags.
	runs := strings.Join(instrs(build, "RUN"), "\n")
	m := regexp.MustCompile(`(?m)^LDFLAGS\s*:=\s*(.+)$`).FindStringSubmatch(readRepoFile(t, "Makefile"))
	if m == nil {
		t.Fatal("the Makefile has no LDFLAGS")
	}
	ldflags := strings.ReplaceAll(strings.TrimSpace(m[1]), "$(VERSION)", "${VERSION}")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", ldflags, "./cmd/paydesk"} {
		if !strings.Contains(runs, want) {
			t.Errorf("the build stage's RUN does not contain %q:\n%s", want, runs)
		}
	}
	if !slices.ContainsFunc(instrs(build, "ARG"), func(a string) bool { return strings.HasPrefix(a, "VERSION") }) {
		t.Error("the build stage has no ARG VERSION for the version stamp")
	}

	// A small final image running as someone other than root.
	if from := final[0].args; strings.HasPrefix(from, "golang") {
		t.Errorf("the final stage is FROM %q: want a small base, not the Go toolchain", from)
	}
	users := instrs(final, "USER")
	if len(users) == 0 {
		t.Fatal("the final stage has no USER: it would run as root")
	}
	if u, _, _ := strings.Cut(users[len(users)-1], ":"); u == "root" || u == "0" {
		t.Errorf("the final stage runs as USER %q", users[len(users)-1])
	}
	if hc := instrs(final, "HEALTHCHECK"); len(hc) != 1 || !strings.Contains(hc[0], "127.0.0.1:8080/healthz") {
		t.Errorf("want one HEALTHCHECK on http://127.0.0.1:8080/healthz in the final stage, got %q", hc)
	}
	if !slices.Contains(instrs(final, "EXPOSE"), "8080") {
		t.Error("the final stage does not EXPOSE 8080")
	}
	if got := instrs(final, "ENTRYPOINT"); !slices.Equal(got, []string{`["paydesk"]`}) {
		t.Errorf("ENTRYPOINT %q, want [\"paydesk\"]", got)
	}
	if got := instrs(final, "CMD"); !slices.Equal(got, []string{`["serve"]`}) {
		t.Errorf("CMD %q, want [\"serve\"]", got)
	}
	if !slices.ContainsFunc(instrs(final, "COPY"), func(a string) bool {
		return strings.HasPrefix(a, "--from=") && strings.HasSuffix(a, " /usr/local/bin/paydesk")
	}) {
		t.Error("the final stage does not copy the built binary to /usr/local/bin/paydesk (the ENTRYPOINT)")
	}

	ignore := strings.Fields(readRepoFile(t, ".dockerignore"))
	for _, want := range []string{".git", ".paydesk-demo/", "testoutput/", "bin/"} {
		if !slices.Contains(ignore, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

// yamlNode is a node of the YAML subset docker-compose.yml is written in:
// block maps and lists, flow lists of scalars, plain and quoted scalars,
// and anchors with aliases. readYAML refuses anything else, naming the
// line, rather than misread it.
type yamlNode struct {
	m    map[string]*yamlNode
	keys []string // m's keys in order
	list []*yamlNode
	s    string
	line int
}

func (n *yamlNode) get(path ...string) *yamlNode {
	for _, k := range path {
		if n == nil || n.m == nil {
			return nil
		}
		n = n.m[k]
	}
	return n
}

func (n *yamlNode) strings() []string {
	if n == nil {
		return nil
	}
	var out []string
	for _, e := range n.list {
		out = append(out, e.s)
	}
	return out
}

type yamlLine struct {
	no     int
	indent int
	text   string
}

type yamlReader struct {
	lines   []yamlLine
	i       int
	anchors map[string]*yamlNode
}

func readYAML(src string) (*yamlNode, error) {
	r := &yamlReader{anchors: map[string]*yamlNode{}}
	for i, raw := range strings.Split(src, "\n") {
		text := raw
		if strings.HasPrefix(strings.TrimSpace(text), "#") {
			continue
		}
		if j := strings.Index(text, " #"); j >= 0 {
			text = text[:j]
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		if strings.Contains(text, "\t") {
			return nil, fmt.Errorf("line %d: a tab", i+1)
		}
		trimmed := strings.TrimLeft(text, " ")
		r.lines = append(r.lines, yamlLine{i + 1, len(text) - len(trimmed), strings.TrimRight(trimmed, " ")})
	}
	if len(r.lines) == 0 {
		return nil, fmt.Errorf("empty")
	}
	n, err := r.block(r.lines[0].indent)
	if err == nil && r.i < len(r.lines) {
		err = fmt.Errorf("line %d: unexpected indentation", r.lines[r.i].no)
	}
	return n, err
}

// block reads the map or list whose lines start at indent.
func (r *yamlReader) block(indent int) (*yamlNode, error) {
	first := r.lines[r.i]
	if strings.HasPrefix(first.text, "- ") || first.text == "-" {
		n := &yamlNode{line: first.no}
		for r.i < len(r.lines) && r.lines[r.i].indent == indent && strings.HasPrefix(r.lines[r.i].text, "- ") {
			l := r.lines[r.i]
			item := strings.TrimSpace(l.text[2:])
			if k, _, isMap := cutKey(item); isMap && k != "" {
				return nil, fmt.Errorf("line %d: maps inside lists are not read here", l.no)
			}
			r.i++
			v, err := r.value(item, l, indent)
			if err != nil {
				return nil, err
			}
			n.list = append(n.list, v)
		}
		return n, nil
	}
	n := &yamlNode{m: map[string]*yamlNode{}, line: first.no}
	for r.i < len(r.lines) && r.lines[r.i].indent == indent {
		l := r.lines[r.i]
		key, rest, ok := cutKey(l.text)
		if !ok {
			return nil, fmt.Errorf("line %d: want key: value, got %q", l.no, l.text)
		}
		if _, dup := n.m[key]; dup {
			return nil, fmt.Errorf("line %d: %q twice", l.no, key)
		}
		r.i++
		v, err := r.value(rest, l, indent)
		if err != nil {
			return nil, err
		}
		n.m[key] = v
		n.keys = append(n.keys, key)
	}
	return n, nil
}

// value reads what follows "key:" or "- " on line l: a nested block on the
// next lines, an alias, a flow list or a scalar.
func (r *yamlReader) value(rest string, l yamlLine, indent int) (*yamlNode, error) {
	anchor := ""
	if a, ok := strings.CutPrefix(rest, "&"); ok {
		anchor, rest, _ = strings.Cut(a, " ")
		rest = strings.TrimSpace(rest)
	}
	var n *yamlNode
	switch {
	case rest == "":
		if r.i >= len(r.lines) || r.lines[r.i].indent <= indent {
			n = &yamlNode{line: l.no} // null
			break
		}
		var err error
		if n, err = r.block(r.lines[r.i].indent); err != nil {
			return nil, err
		}
	case strings.HasPrefix(rest, "*"):
		n = r.anchors[rest[1:]]
		if n == nil {
			return nil, fmt.Errorf("line %d: unknown alias %s", l.no, rest)
		}
	case strings.HasPrefix(rest, "["):
		inner, ok := strings.CutSuffix(strings.TrimPrefix(rest, "["), "]")
		if !ok {
			return nil, fmt.Errorf("line %d: a flow list must end on its line", l.no)
		}
		n = &yamlNode{line: l.no, list: []*yamlNode{}}
		for _, part := range strings.Split(inner, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			s, err := yamlScalar(part, l.no)
			if err != nil {
				return nil, err
			}
			n.list = append(n.list, &yamlNode{s: s, line: l.no})
		}
	case strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, "|") || strings.HasPrefix(rest, ">"):
		return nil, fmt.Errorf("line %d: flow maps and block scalars are not read here", l.no)
	default:
		s, err := yamlScalar(rest, l.no)
		if err != nil {
			return nil, err
		}
		n = &yamlNode{s: s, line: l.no}
	}
	if anchor != "" {
		r.anchors[anchor] = n
	}
	return n, nil
}

// cutKey splits "key: value" or "key:"; a colon inside a plain scalar
// (host:port, a URL) is not a key's.
func cutKey(s string) (key, rest string, ok bool) {
	if strings.HasPrefix(s, `"`) || strings.HasPrefix(s, `'`) || strings.HasPrefix(s, "[") {
		return "", "", false
	}
	if k, ok := strings.CutSuffix(s, ":"); ok && !strings.Contains(k, ": ") {
		return k, "", true
	}
	k, rest, ok := strings.Cut(s, ": ")
	return k, strings.TrimSpace(rest), ok && !strings.ContainsAny(k, " ")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func yamlScalar(s string, line int) (string, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		u, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("line %d: %v", line, err)
		}
		return u, nil
	case strings.HasPrefix(s, `'`):
		if len(s) < 2 || !strings.HasSuffix(s, `'`) {
			return "", fmt.Errorf("line %d: unterminated quote", line)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	}
	return s, nil
}

// composeDefaults interpolates as compose does with nothing set in the
// environment: ${VAR:-default} and ${VAR-default} give the default, ${VAR}
// and $VAR nothing; $$ is a dollar.
func composeDefaults(s string) string {
	re := regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		return re.FindStringSubmatch(m)[2]
	})
}

// configVariables returns the variables paydesk reads: the names its
// non-test files in cmd/paydesk (config.go, and logging.go, ops.go ...)
// pass to getenv, to read and readSecret (which also take NAME_FILE) and to
// duration. GOGC is the Go runtime's own, left out.
func configVariables(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var fn string
			switch f := call.Fun.(type) {
			case *ast.Ident:
				fn = f.Name
			case *ast.SelectorExpr:
				fn = f.Sel.Name
			}
			arg := 0
			if fn == "readSecret" {
				arg = 1
			}
			if len(call.Args) <= arg {
				return true
			}
			lit, ok := call.Args[arg].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			switch fn {
			case "getenv", "duration":
				vars[name] = true
			case "read", "readSecret":
				vars[name] = true
				vars[name+"_FILE"] = true
			}
			return true
		})
	}
	delete(vars, "GOGC")
	if len(vars) < 10 || !vars["DATABASE_URL"] || !vars["SESSION_SECRET"] || !vars["PAYDESK_ADDR"] {
		t.Fatalf("found only %v in cmd/paydesk: has the way it reads variables changed?", vars)
	}
	return vars
}

func TestDockerCompose(t *testing.T) {
	doc, err := readYAML(readRepoFile(t, "docker-compose.yml"))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v (this reader takes plain block YAML; keep the file to that)", err)
	}
	services := doc.get("services")
	if services == nil || services.m == nil {
		t.Fatal("no services")
	}
	for _, name := range []string{"postgres", "stripe-mock", "migrate", "paydesk"} {
		if services.get(name) == nil {
			t.Errorf("no %s service", name)
		}
	}
	if t.Failed() {
		return
	}

	pg := services.get("postgres")
	if img := pg.get("image").s; !strings.HasPrefix(img, "postgres:") {
		t.Errorf("postgres image %q, want the official postgres image", img)
	} else if m := regexp.MustCompile(`^postgres:(\d+)`).FindStringSubmatch(img); m == nil || atoi(m[1]) < 14 {
		t.Errorf("postgres image %q: paydesk needs PostgreSQL 14 or newer", img)
	}
	if pg.get("healthcheck", "test") == nil {
		t.Error("postgres has no healthcheck: paydesk would start before it accepts connections")
	}
	vols := pg.get("volumes").strings()
	if len(vols) == 0 || !strings.HasSuffix(vols[0], ":/var/lib/postgresql/data") || doc.get("volumes", strings.SplitN(vols[0], ":", 2)[0]) == nil {
		t.Errorf("postgres volumes %q: want a named volume on /var/lib/postgresql/data", vols)
	}

	// stripe-mock at the version the tests use, refusing other API versions.
	mock := services.get("stripe-mock")
	if img, want := mock.get("image").s, "stripe/stripe-mock:"+stripemock.Version; img != want {
		t.Errorf("stripe-mock image %q, want %q (stripemock.Version)", img, want)
	}
	if !slices.Contains(mock.get("command").strings(), "-strict-version-check") {
		t.Errorf("stripe-mock command %q lacks -strict-version-check", mock.get("command").strings())
	}
	if !strings.Contains(readRepoFile(t, "go.mod"), "github.com/stripe/stripe-mock "+stripemock.Version) {
		t.Errorf("go.mod's stripe-mock is not %s", stripemock.Version)
	}

	// migrate runs once, and paydesk waits for it.
	migrate, app := services.get("migrate"), services.get("paydesk")
	if got := migrate.get("command").strings(); !slices.Equal(got, []string{"migrate"}) {
		t.Errorf("migrate command %q, want [migrate]", got)
	}
	if got := app.get("command").strings(); !slices.Equal(got, []string{"serve"}) {
		t.Errorf("paydesk command %q, want [serve]", got)
	}
	for svc, deps := range map[string]map[string]string{
		"migrate": {"postgres": "service_healthy"},
		"paydesk": {"postgres": "service_healthy", "migrate": "service_completed_successfully"},
	} {
		for dep, cond := range deps {
			if got := services.get(svc, "depends_on", dep, "condition"); got == nil || got.s != cond {
				t.Errorf("%s depends_on %s: want condition %s", svc, dep, cond)
			}
		}
	}
	if migrate.get("image").s != app.get("image").s || migrate.get("build") == nil {
		t.Errorf("migrate and paydesk should run the image built here: images %q and %q", migrate.get("image").s, app.get("image").s)
	}
	if ports := app.get("ports").strings(); !slices.ContainsFunc(ports, func(p string) bool { return strings.HasSuffix(p, ":8080") }) {
		t.Errorf("paydesk ports %q: want the container's 8080 published", ports)
	}

	// Every variable set is one paydesk reads, and the values, with
	// compose's defaults, are a configuration paydesk accepts: test mode,
	// Stripe at the stripe-mock service, a shared session secret.
	known := configVariables(t)
	for _, svc := range []string{"migrate", "paydesk"} {
		envNode := services.get(svc, "environment")
		if envNode == nil || envNode.m == nil {
			t.Errorf("%s has no environment map", svc)
			continue
		}
		env := map[string]string{}
		for _, k := range envNode.keys {
			if !known[k] {
				t.Errorf("%s sets %s, which cmd/paydesk does not read", svc, k)
			}
			env[k] = composeDefaults(envNode.m[k].s)
		}
		cfg, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Errorf("%s: paydesk refuses the compose configuration: %v", svc, err)
			continue
		}
		if cfg.DatabaseURL == "" || !strings.Contains(string(cfg.DatabaseURL), "@postgres:5432/") {
			t.Errorf("%s: DATABASE_URL does not name the postgres service", svc)
		}
		if cfg.LiveMode || cfg.TestKey == "" {
			t.Errorf("%s: want test mode with a test key", svc)
		}
		if cfg.APIBase != "http://stripe-mock:12111" {
			t.Errorf("%s: STRIPE_API_BASE %q, want the stripe-mock service", svc, cfg.APIBase)
		}
		if cfg.SessionSecret == "" || len(cfg.WebhookSecrets) == 0 {
			t.Errorf("%s: want SESSION_SECRET and STRIPE_WEBHOOK_SECRET set", svc)
		}
	}
}

// TestYAMLReader keeps the little reader above honest on what it accepts
// and refuses.
func TestYAMLReader(t *testing.T) {
	doc, err := readYAML(`
x-env: &env
  A: "1"   # a comment
  B: ${B:-two}
s:
  one:
    command: ["serve", '--x']
    environment: *env
    ports:
      - "8080:8080"
      - 9090:9090
    empty:
`)
	if err != nil {
		t.Fatal(err)
	}
	one := doc.get("s", "one")
	if got := one.get("command").strings(); !slices.Equal(got, []string{"serve", "--x"}) {
		t.Errorf("command %q", got)
	}
	if got := one.get("environment", "A").s; got != "1" {
		t.Errorf("alias A = %q", got)
	}
	if got := composeDefaults(one.get("environment", "B").s); got != "two" {
		t.Errorf("B = %q", got)
	}
	if got := one.get("ports").strings(); !slices.Equal(got, []string{"8080:8080", "9090:9090"}) {
		t.Errorf("ports %q", got)
	}
	if e := one.get("empty"); e == nil || e.m != nil || e.list != nil || e.s != "" {
		t.Errorf("empty = %+v", e)
	}
	for _, bad := range []string{"a:\n  - b: c\n", "a: {b: c}\n", "a: |\n  x\n", "a: *nope\n", "a: 1\na: 2\n", "a:\n    b: 1\n  c: 2\n"} {
		if _, err := readYAML(bad); err == nil {
			t.Errorf("readYAML(%q) accepted it", bad)
		}
	}
}

// TestReadmeConfigTable checks README.md's configuration table names every
// variable paydesk reads (the NAME_FILE forms are described once, beside
// the table), and nothing config.go does not read.
func TestReadmeConfigTable(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	_, section, ok := strings.Cut(readme, "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]*)`").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
	for name := range configVariables(t) {
		if !documented[name] && !(strings.HasSuffix(name, "_FILE") && documented[strings.TrimSuffix(name, "_FILE")]) {
			t.Errorf("cmd/paydesk reads %s, which README.md's configuration table does not list", name)
		}
	}
	known := configVariables(t)
	for name := range documented {
		if !known[name] {
			t.Errorf("README.md's configuration table lists %s, which cmd/paydesk does not read", name)
		}
	}
	if !strings.Contains(section, "`_FILE`") {
		t.Error("README.md's Configuration section does not say secrets can come from NAME_FILE")
	}
}
