package librato_test

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
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
