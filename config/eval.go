package config

import (
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// sensitiveMark marks cty values that came from env(). The mark survives
// string templates and stdlib calls, so a diagnostic can tell that a value
// must not be quoted back to the user.
type sensitiveMark struct{}

// unsetEnvError is env()'s error for a variable that is not set. It carries
// the variable's name only: there is no value to leak.
type unsetEnvError struct{ name string }

func (e unsetEnvError) Error() string {
	return fmt.Sprintf("environment variable %q is not set", e.name)
}

// evalContext returns the functions a policy may call. There are no
// variables: references such as instance.main are read as traversals, not
// evaluated.
func evalContext(lookup func(string) (string, bool)) *hcl.EvalContext {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":       envFunc(lookup),
			"upper":     stdlib.UpperFunc,
			"lower":     stdlib.LowerFunc,
			"trimspace": stdlib.TrimSpaceFunc,
			"join":      stdlib.JoinFunc,
			"format":    stdlib.FormatFunc,
			"concat":    stdlib.ConcatFunc,
		},
	}
}

func envFunc(lookup func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable; fails if it is not set.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			v, ok := lookup(name)
			if !ok {
				return cty.UnknownVal(cty.String), unsetEnvError{name: name}
			}
			return cty.StringVal(v).Mark(sensitiveMark{}), nil
		},
	})
}

// rewriteEnvDiags replaces HCL's generic "Error in function call" for an
// unset variable with a diagnostic of its own, naming the variable.
func rewriteEnvDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		extra, ok := d.Extra.(hclsyntax.FunctionCallDiagExtra)
		if !ok {
			continue
		}
		var unset unsetEnvError
		if errors.As(extra.FunctionCallError(), &unset) {
			d.Summary = "Unset environment variable"
			d.Detail = fmt.Sprintf("The environment variable %q is not set; env(%q) needs it. Set it in the environment owui runs in (for a systemd timer, the service's Environment= or EnvironmentFile=).", unset.name, unset.name)
		}
	}
	return diags
}

// str is an evaluated string attribute.
type str struct {
	Value string
	// Sensitive is true when env() contributed to the value; it must then
	// never be quoted in a diagnostic.
	Sensitive bool
	// Range is the range of the expression that produced the value.
	Range hcl.Range
}

// quoted returns the value quoted for a diagnostic, or a placeholder when
// the value came from the environment.
func (s str) quoted() string {
	if s.Sensitive {
		return "the value from env() (not shown)"
	}
	return fmt.Sprintf("%q", s.Value)
}

// eval evaluates expr and converts it to want. Null results come back as
// cty.NilVal so callers treat them as absent. Marks are removed; sensitive
// reports whether there were any.
func (d *decoder) eval(expr hcl.Expression, name string, want cty.Type) (val cty.Value, sensitive bool, diags hcl.Diagnostics) {
	v, diags := expr.Value(d.ctx)
	diags = rewriteEnvDiags(diags)
	if diags.HasErrors() {
		return cty.NilVal, false, diags
	}
	v, marks := v.UnmarkDeep()
	if v.IsNull() {
		return cty.NilVal, false, nil
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, false, hcl.Diagnostics{errorf(expr.Range(), "Invalid attribute value",
			"The value of %q must be known when the policy is read.", name)}
	}
	v, err := convert.Convert(v, want)
	if err != nil {
		return cty.NilVal, false, hcl.Diagnostics{errorf(expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s.", name, err)}
	}
	return v, len(marks) > 0, nil
}

// string evaluates an optional string attribute; ok is false when it is
// absent or null.
func (d *decoder) string(attrs hcl.Attributes, name string) (s str, ok bool, diags hcl.Diagnostics) {
	attr, present := attrs[name]
	if !present {
		return str{}, false, nil
	}
	v, sensitive, diags := d.eval(attr.Expr, name, cty.String)
	if v == cty.NilVal {
		return str{}, false, diags
	}
	return str{Value: v.AsString(), Sensitive: sensitive, Range: attr.Expr.Range()}, true, diags
}

// strings evaluates an optional list-of-strings attribute. Each element keeps
// its own range when the list is written as a literal, so a diagnostic can
// point at the offending element; otherwise every element gets the range of
// the whole expression.
func (d *decoder) strings(attrs hcl.Attributes, name string) (list []str, ok bool, diags hcl.Diagnostics) {
	attr, present := attrs[name]
	if !present {
		return nil, false, nil
	}
	if exprs, listDiags := hcl.ExprList(attr.Expr); !listDiags.HasErrors() {
		list = []str{}
		for _, e := range exprs {
			v, sensitive, elemDiags := d.eval(e, name, cty.String)
			diags = append(diags, elemDiags...)
			if elemDiags.HasErrors() {
				continue
			}
			if v == cty.NilVal {
				diags = append(diags, errorf(e.Range(), "Invalid attribute value",
					"The elements of %q must not be null.", name))
				continue
			}
			list = append(list, str{Value: v.AsString(), Sensitive: sensitive, Range: e.Range()})
		}
		return list, true, diags
	}
	v, sensitive, diags := d.eval(attr.Expr, name, cty.List(cty.String))
	if v == cty.NilVal {
		return nil, false, diags
	}
	list = []str{}
	for _, elem := range v.AsValueSlice() {
		if elem.IsNull() {
			diags = append(diags, errorf(attr.Expr.Range(), "Invalid attribute value",
				"The elements of %q must not be null.", name))
			continue
		}
		list = append(list, str{Value: elem.AsString(), Sensitive: sensitive, Range: attr.Expr.Range()})
	}
	return list, true, diags
}

// number evaluates an optional whole-number attribute.
func (d *decoder) number(attrs hcl.Attributes, name string) (n int, rng hcl.Range, ok bool, diags hcl.Diagnostics) {
	attr, present := attrs[name]
	if !present {
		return 0, hcl.Range{}, false, nil
	}
	v, _, diags := d.eval(attr.Expr, name, cty.Number)
	if v == cty.NilVal {
		return 0, hcl.Range{}, false, diags
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || i != int64(int(i)) {
		return 0, hcl.Range{}, false, hcl.Diagnostics{errorf(attr.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: a whole number is required.", name)}
	}
	return int(i), attr.Expr.Range(), true, nil
}

// errorf builds an error diagnostic; detail is a full sentence.
func errorf(subject hcl.Range, summary, detail string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  subject.Ptr(),
	}
}
