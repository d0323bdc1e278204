// Command chatzilla serves the Chatzilla realtime chat.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "chatzilla: %s\n", err)
		os.Exit(1)
	}
}
