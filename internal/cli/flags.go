package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// tagsFlag collects repeated --tag k=v flags.
type tagsFlag map[string]string

func (t *tagsFlag) String() string {
	if t == nil || len(*t) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(*t)) {
		parts = append(parts, k+"="+(*t)[k])
	}
	return strings.Join(parts, ",")
}

func (t *tagsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("tag %q is not NAME=VALUE", s)
	}
	if *t == nil {
		*t = map[string]string{}
	}
	(*t)[k] = v
	return nil
}

// stringsFlag collects a repeated flag's values in order.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// choiceFlag is a string flag limited to a few values.
type choiceFlag struct {
	value   string
	choices []string
}

func newChoice(def string, choices ...string) *choiceFlag {
	return &choiceFlag{value: def, choices: choices}
}

func (c *choiceFlag) String() string {
	if c == nil {
		return ""
	}
	return c.value
}

func (c *choiceFlag) Set(v string) error {
	if !slices.Contains(c.choices, v) {
		return fmt.Errorf("%q is not one of %s", v, strings.Join(c.choices, ", "))
	}
	c.value = v
	return nil
}
