package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix starts the environment variable of every flag: --public-url is
// TALLY_PUBLIC_URL.
const envPrefix = "TALLY_"

// envAliases are the older variables a flag also reads, after its TALLY_
// one: DATABASE_URL is what PostgreSQL tooling and deploys already set.
var envAliases = map[string][]string{
	"database-url": {"DATABASE_URL"},
}

// envName is the environment variable of a flag: TALLY_ and the flag's name
// in upper case, dashes turned to underscores.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envNames are the variables a flag reads, first the one that wins.
func envNames(flag string) []string {
	return append([]string{envName(flag)}, envAliases[flag]...)
}

// applyEnv sets every flag of cmd (its own and those it inherits) that the
// command line did not give from its environment variable, so that every
// setting of a deploy can come from the environment and the command line
// still wins. A flag set from the environment counts as given (Changed), so
// required flags and `account update`'s "only what is given" see it. A
// malformed value fails, naming the variable.
func applyEnv(cmd *cobra.Command) error {
	fs := cmd.Flags()
	var errs []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" {
			return
		}
		for _, k := range envNames(f.Name) {
			v, ok := os.LookupEnv(k)
			if !ok || v == "" {
				continue
			}
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q (--%s): %v", k, v, f.Name, err))
			}
			return
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

// envRow is one line of the README's table of settings: a flag, its
// variables, the commands that take it, its default and meaning.
type envRow struct {
	flag, vars, commands, def, usage string
}

// envTable is the README's table of settings, from the command tree: one row
// per flag name and meaning (a flag that means one thing everywhere is one
// row listing its commands; a global flag lists "every command").
func envTable(root *cobra.Command) string {
	type key struct{ name, def, usage string }
	cmds := map[key][]string{}
	var keys []key
	add := func(k key, path string) {
		if _, ok := cmds[k]; !ok {
			keys = append(keys, k)
		}
		cmds[k] = append(cmds[k], path)
	}
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		add(key{f.Name, f.DefValue, f.Usage}, "every command")
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c != root {
			path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
			c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
				add(key{f.Name, f.DefValue, f.Usage}, path)
			})
			c.PersistentFlags().VisitAll(func(f *pflag.Flag) {
				add(key{f.Name, f.DefValue, f.Usage}, path+" …")
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].name < keys[j].name })
	var b strings.Builder
	b.WriteString("| Flag | Variable | Commands | Default | Meaning |\n|---|---|---|---|---|\n")
	for _, k := range keys {
		vars := envNames(k.name)
		for i, v := range vars {
			vars[i] = "`" + v + "`"
		}
		def := ""
		if k.def != "" && k.def != "[]" {
			def = "`" + k.def + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | %s | %s | %s | %s |\n", k.name, strings.Join(vars, ", "),
			strings.Join(cmds[k], ", "), def, cell(k.usage))
	}
	return b.String()
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
