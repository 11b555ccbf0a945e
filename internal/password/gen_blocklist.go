//go:build ignore

// gen_blocklist turns the frequency-ordered common-password list shipped in
// the npm package @zxcvbn-ts/language-common (MIT) into blocklist.txt.gz:
// NFKC, lower-cased, de-duplicated, most common first, one per line.
//
// Reproduce (see BLOCKLIST.md):
//
//	d=$(mktemp -d) && (cd "$d" && npm pack @zxcvbn-ts/language-common@4.1.3 && tar xzf zxcvbn-ts-language-common-4.1.3.tgz)
//	go run gen_blocklist.go -in "$d/package/src/passwords.json" -out blocklist.txt.gz
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"flag"
	"log"
	"os"
	"strings"

	"golang.org/x/text/unicode/norm"
)

func main() {
	in := flag.String("in", "passwords.json", "passwords.json from @zxcvbn-ts/language-common")
	out := flag.String("out", "blocklist.txt.gz", "output file")
	limit := flag.Int("n", 100000, "keep at most this many entries")
	flag.Parse()

	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var words []string
	if err := json.Unmarshal(raw, &words); err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(zw)
	seen := make(map[string]bool, len(words))
	n := 0
	for _, pw := range words {
		pw = strings.ToLower(norm.NFKC.String(strings.TrimSpace(pw)))
		if pw == "" || strings.ContainsAny(pw, "\n\r") || seen[pw] {
			continue
		}
		seen[pw] = true
		w.WriteString(pw + "\n")
		if n++; n == *limit {
			break
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d entries written to %s", n, *out)
}
