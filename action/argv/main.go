// Command argv splits the GitHub Action's args input into words as a shell
// would, without running one: `args: --exclude 'docs/*' .` reaches
// modelgate as the words --exclude, docs/* and ., and what a shell would
// expand ($, `, unquoted *) is refused instead (see Split). action/run.sh
// runs it on $MODELGATE_ARGS and reads the words it prints, each ended by
// a NUL byte. Exit status 2, with a message on stderr, means the
// arguments cannot be split safely.
package main

import (
	"bufio"
	"fmt"
	"os"
)

func main() {
	words, err := Split(os.Getenv("MODELGATE_ARGS"))
	if err == nil {
		w := bufio.NewWriter(os.Stdout)
		for _, word := range words {
			fmt.Fprintf(w, "%s\x00", word)
		}
		if err = w.Flush(); err == nil {
			return
		}
	}
	fmt.Fprintf(os.Stderr, "modelgate action: args: %v\n", err)
	os.Exit(2)
}
