package librato_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// exportedSurface counts the root package's exported identifiers by kind, from its source files
// (tests excluded): types, functions, methods on exported types, constants and variables. Struct
// fields are not counted. It also returns the method count per receiver type.
func exportedSurface(t *testing.T) (map[string]int, map[string]int) {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	kinds, methods := map[string]int{}, map[string]int{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					kinds["func"]++
					continue
				}
				typ := d.Recv.List[0].Type
				if s, ok := typ.(*ast.StarExpr); ok {
					typ = s.X
				}
				if ix, ok := typ.(*ast.IndexExpr); ok {
					typ = ix.X
				}
				if id, ok := typ.(*ast.Ident); ok && id.IsExported() {
					kinds["method"]++
					methods[id.Name]++
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							kinds["type"]++
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								kinds[d.Tok.String()]++
							}
						}
					}
				}
			}
		}
	}
	return kinds, methods
}

// TestAPISurface keeps *Client small: its calls live on the services (c.Metrics, c.Alerts, ...).
// Run with -v to print the exported identifier counts.
func TestAPISurface(t *testing.T) {
	kinds, methods := exportedSurface(t)
	total := 0
	for _, n := range kinds {
		total += n
	}
	t.Logf("exported identifiers: %d (types %d, funcs %d, methods %d, consts %d, vars %d); *Client methods %d",
		total, kinds["type"], kinds["func"], kinds["method"], kinds["const"], kinds["var"], methods["Client"])
	if methods["Client"] > 12 {
		t.Errorf("*Client has %d methods; at most 12 (put calls on a service)", methods["Client"])
	}
	for _, svc := range []string{"MetricsService", "MeasurementsService", "AlertsService", "AnnotationsService",
		"SpacesService", "ServicesService", "JobsService"} {
		if methods[svc] == 0 {
			t.Errorf("%s has no methods", svc)
		}
	}
}
