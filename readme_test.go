package librato_test

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// readmePreamble declares what the README's Go blocks take as given: the packages they use and a
// deploy function.
const readmePreamble = `package readme

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/composite"
	"github.com/go-librato/librato/libratotest"
	"github.com/go-librato/librato/percentiles"
)

var (
	_ = errors.Is
	_ = fmt.Sprint
	_ = log.Print
	_ = os.Exit
	_ = time.Second
	_ = percentiles.NewDDSketch
	_ composite.Expr
	_ = libratotest.NewServer
)

func deploy(context.Context) error { return nil }
`

// TestReadmeGoBlocksCompile type-checks every Go block of README.md, each as the body of a
// function that has ctx, c, t and token in scope. A block that starts with "package" is
// checked as a file of its own. Unused variables and imports are not errors here: a block shows
// one call, not a whole program.
func TestReadmeGoBlocksCompile(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?ms)^```go\n(.*?)^```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("no Go blocks in README.md")
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "source", nil)
	for i, b := range blocks {
		src := b[1]
		if !strings.HasPrefix(src, "package ") {
			src = fmt.Sprintf("%s\nfunc block%d(ctx context.Context, c *librato.Client, t time.Time, token string) {%s}\n",
				readmePreamble, i, src)
		}
		f, err := parser.ParseFile(fset, fmt.Sprintf("README.md block %d", i+1), src, 0)
		if err != nil {
			t.Errorf("README.md Go block %d does not parse: %v\n%s", i+1, err, b[1])
			continue
		}
		var errs []string
		conf := types.Config{Importer: imp, Error: func(err error) {
			msg := err.(types.Error).Msg
			if strings.Contains(msg, "declared and not used") || strings.Contains(msg, "imported and not used") {
				return
			}
			errs = append(errs, err.Error())
		}}
		_, _ = conf.Check("readme", fset, []*ast.File{f}, nil)
		if len(errs) > 0 {
			t.Errorf("README.md Go block %d does not compile:\n  %s\n%s", i+1, strings.Join(errs, "\n  "), b[1])
		}
	}
}

// TestReadmeGoBlocksRun runs every Go block of README.md (but whole files), each as a function
// with ctx, a client c of an in-process libratotest server, t (an hour ago) and a token in scope:
// no block may panic or hang, and a line `fmt.Println(x) // text` must print text. Blocks that
// connect to the real API get an error back (there is no network), which they ignore as shown.
func TestReadmeGoBlocksRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program; skipped with -short")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?ms)^```go\n(.*?)^```").FindAllStringSubmatch(string(readme), -1)
	var prog strings.Builder
	prog.WriteString(strings.Replace(readmePreamble, "package readme", "package main", 1))
	prog.WriteString(`
func runBlock(i int, f func(ctx context.Context, c *librato.Client, t time.Time, token string)) {
	srv := libratotest.NewUnstartedServer()
	c, err := srv.Client(librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fmt.Printf("=== block %d\n", i)
	defer func() {
		if v := recover(); v != nil {
			fmt.Printf("PANIC %v\n", v)
		}
	}()
	f(ctx, c, time.Now().Add(-time.Hour), "a-token")
	fmt.Printf("--- ok %d\n", i)
}
`)
	var calls strings.Builder
	wants := map[int][]string{}
	wantRe := regexp.MustCompile(`fmt\.Println\([^)]*\)\s*//\s*(.+)$`)
	for i, b := range blocks {
		if strings.HasPrefix(b[1], "package ") {
			continue
		}
		fmt.Fprintf(&prog, "\nfunc block%d(ctx context.Context, c *librato.Client, t time.Time, token string) {\n%s\n}\n", i+1, b[1])
		fmt.Fprintf(&calls, "\trunBlock(%d, block%d)\n", i+1, i+1)
		for _, line := range strings.Split(b[1], "\n") {
			if m := wantRe.FindStringSubmatch(line); m != nil {
				wants[i+1] = append(wants[i+1], strings.TrimSpace(m[1]))
			}
		}
	}
	fmt.Fprintf(&prog, "\nfunc main() {\n%s}\n", calls.String())
	src, err := useUnused(prog.String())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(".", ".readme-run-") // inside the module, ignored by ./...
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(dir+"/main.go", []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./"+dir)
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running the README blocks: %v\n%s", err, got)
	}
	outs := map[int]string{}
	for _, part := range strings.Split(string(got), "=== block ")[1:] {
		var n int
		fmt.Sscanf(part, "%d", &n)
		outs[n] = part
		if strings.Contains(part, "PANIC") || !strings.Contains(part, fmt.Sprintf("--- ok %d", n)) {
			t.Errorf("README.md Go block %d did not run to its end:\n%s", n, part)
		}
	}
	for n, ws := range wants {
		for _, w := range ws {
			if !strings.Contains(outs[n], w) {
				t.Errorf("README.md Go block %d: the output does not show %q:\n%s", n, w, outs[n])
			}
		}
	}
	if len(outs) == 0 {
		t.Fatalf("no block ran:\n%s", got)
	}
}

// useUnused adds "_ = x" after the statement that declares each variable x the program never
// uses: a README block shows a call and its result, not what is done with the result.
func useUnused(src string) (string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "main.go", src, 0)
	if err != nil {
		return "", err
	}
	unused := map[int][]string{} // line of the declaring statement's end -> names
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil), Error: func(err error) {
		te := err.(types.Error)
		name, ok := strings.CutPrefix(te.Msg, "declared and not used: ")
		if !ok {
			return
		}
		line := fset.Position(te.Pos).Line
		ast.Inspect(f, func(n ast.Node) bool {
			if st, ok := n.(*ast.AssignStmt); ok && fset.Position(st.Pos()).Line == line {
				end := fset.Position(st.End()).Line
				unused[end] = append(unused[end], name)
				return false
			}
			return true
		})
	}}
	_, _ = conf.Check("main", fset, []*ast.File{f}, nil)
	lines := strings.Split(src, "\n")
	var out strings.Builder
	for i, l := range lines {
		out.WriteString(l + "\n")
		for _, name := range unused[i+1] {
			out.WriteString("_ = " + name + "\n")
		}
	}
	return out.String(), nil
}
