package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// underscoresAsDashes reads a flag spelled with underscores as the one
// spelled with dashes: model_signing's README writes --public_key and
// --certificate_chain where its CLI takes --public-key and
// --certificate-chain, and both should run.
func underscoresAsDashes(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	return pflag.NormalizedName(strings.ReplaceAll(name, "_", "-"))
}

// listFlag is a comma-separated, repeatable list that several flag names
// (a flag and its aliases) fill together: every value given is kept,
// whichever name gave it.
type listFlag struct{ list *[]string }

func (l listFlag) String() string { return strings.Join(*l.list, ",") }
func (l listFlag) Type() string   { return "strings" }
func (l listFlag) Set(v string) error {
	*l.list = append(*l.list, strings.Split(v, ",")...)
	return nil
}

// listVar registers a listFlag under each of names; the first is the
// flag, the rest its aliases.
func listVar(fl *pflag.FlagSet, list *[]string, usage string, names ...string) {
	for i, n := range names {
		u := usage
		if i > 0 {
			u = "the same as --" + names[0]
		}
		fl.Var(listFlag{list}, n, u)
	}
}

// modelSigningMethods are the method words model_signing's CLI takes
// before the model path ("model_signing verify key MODEL ..."), which
// modelgate infers from the flags given.
var modelSigningMethods = []string{"key", "certificate", "sigstore"}

// modelArg accepts PATH, or a model_signing method word then PATH, so that
// a command copied from model_signing's README runs; it drops the word.
func modelArg(methods ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 2 && slices.Contains(methods, args[0]) {
			return nil
		}
		return exactArgs(1)(cmd, args)
	}
}

// modelPath is the path modelArg accepted.
func modelPath(args []string) string { return args[len(args)-1] }
