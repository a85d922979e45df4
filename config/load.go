package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// Loader owns a Config whose fields the settings' typed values write
// into: flags as the command line is parsed, then the file and the
// environment in Load, each only for settings no flag set.
type Loader struct {
	cfg    *Config
	values map[string]pflag.Value // every setting, with a flag or not
	flags  map[string]*pflag.Flag // those registered as flags
	file   *string
}

// Register adds --config and a typed flag per setting to fs; with names,
// only those settings get a flag (the others still come from file and
// env). Defaults are in place when it returns.
func Register(fs *pflag.FlagSet, names ...string) *Loader {
	l := &Loader{cfg: &Config{}, values: map[string]pflag.Value{}, flags: map[string]*pflag.Flag{}}
	l.file = fs.String("config", "", "TOML config `file` (keys are the flag names)")
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, o := range options {
		v := o.set(l.cfg)
		if err := setValues(v, o.def, false); err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", o.name, err)) // a bug in the table; TestDefaults sees it
		}
		l.values[o.name] = v
		if len(names) > 0 && !want[o.name] {
			continue
		}
		f := fs.VarPF(v, o.name, "", o.help)
		if o.isBool {
			f.NoOptDefVal = "true"
		}
		l.flags[o.name] = f
	}
	return l
}

// setValues gives v the values of one layer: a list replaces a list
// setting's whole value; a single-value setting takes exactly one.
func setValues(v pflag.Value, vals []string, isList bool) error {
	if sv, ok := v.(pflag.SliceValue); ok {
		return sv.Replace(vals)
	}
	switch {
	case isList:
		return fmt.Errorf("takes one value, not a list")
	case len(vals) == 0:
		return nil
	case len(vals) > 1:
		return fmt.Errorf("takes one value, got %d", len(vals))
	}
	return v.Set(vals[0])
}

// fromFlag reports whether the command line set name (so it wins).
func (l *Loader) fromFlag(name string) bool {
	f := l.flags[name]
	return f != nil && f.Changed
}

// Load completes the Config: the file over the defaults, then the
// environment (environ as os.Environ gives it); the flags were applied as
// they were parsed and win over both. Then the combinations are checked.
func (l *Loader) Load(environ []string) (*Config, error) {
	c := l.cfg
	c.sources = map[string]string{}
	if *l.file != "" {
		vals, err := readFile(*l.file)
		if err != nil {
			return nil, err
		}
		if _, ok := vals["fetch"]; ok && vals["fetch"].tables {
			if c.fetchTables, err = readFetchTables(*l.file); err != nil {
				return nil, err
			}
			delete(vals, "fetch")
		}
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, ok := l.values[k]
			if !ok {
				return nil, fmt.Errorf("config file %s: unknown key %q", *l.file, k)
			}
			if l.fromFlag(k) {
				continue
			}
			where := fmt.Sprintf("config file %s: key %q", *l.file, k)
			if err := setValues(v, vals[k].vals, vals[k].isList); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			c.sources[k] = where
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for _, o := range options {
		s, ok := env[EnvName(o.name)]
		if !ok || l.fromFlag(o.name) {
			continue
		}
		vals, where := []string{s}, "environment variable "+EnvName(o.name)
		if _, isList := l.values[o.name].(pflag.SliceValue); isList {
			vals = splitList(s)
		}
		if err := setValues(l.values[o.name], vals, false); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		c.sources[o.name] = where
	}
	for name := range l.flags {
		if l.fromFlag(name) {
			c.sources[name] = "flag --" + name
		}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// fileValue is one key of the config file, as text.
type fileValue struct {
	vals   []string
	isList bool
	tables bool // an array of tables ([[fetch]]), read on its own
}

func readFile(path string) (map[string]fileValue, error) {
	raw := map[string]any{}
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	out := map[string]fileValue{}
	for k, v := range raw {
		switch v := v.(type) {
		case []any:
			fv := fileValue{vals: []string{}, isList: true}
			for _, e := range v {
				fv.vals = append(fv.vals, fmt.Sprint(e))
			}
			out[k] = fv
		case []map[string]any:
			out[k] = fileValue{tables: true}
		case map[string]any:
			return nil, fmt.Errorf("config file %s: key %q: takes a value, not a table", path, k)
		default:
			// TOML integers, booleans and strings all become the text a
			// flag would take: max-recipients = 50, tls-self-signed = true.
			out[k] = fileValue{vals: []string{fmt.Sprint(v)}}
		}
	}
	return out, nil
}
