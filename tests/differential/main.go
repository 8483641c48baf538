// Command quantity answers, for each input, what k8s.io/apimachinery's resource
// package makes of it: the tests compare exchange.platform's quantity filters with it.
//
// Input: one JSON array per line, ["parse", text] for resource.ParseQuantity(text)
// or ["json", raw] for Quantity.UnmarshalJSON([]byte(raw)). Output: one JSON object
// per line, {"ok": false, "error": err.Error()} or {"ok": true, "string": q.String(),
// "canonical": the CanonicalizeBytes form, "format": q.Format, "faithful": whether
// String() parses back to the same value}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/api/resource"
)

type answer struct {
	OK        bool   `json:"ok"`
	String    string `json:"string,omitempty"`
	Canonical string `json:"canonical,omitempty"`
	Format    string `json:"format,omitempty"`
	Faithful  bool   `json:"faithful"`
	Error     string `json:"error,omitempty"`
}

func ask(kind, input string) (answer, error) {
	var q resource.Quantity
	var err error
	switch kind {
	case "parse":
		q, err = resource.ParseQuantity(input)
	case "json":
		err = q.UnmarshalJSON([]byte(input))
	default:
		return answer{}, fmt.Errorf("unknown kind %q", kind)
	}
	if err != nil {
		return answer{Error: err.Error()}, nil
	}
	number, suffix := q.CanonicalizeBytes(nil)
	stored := q.String()
	again, err := resource.ParseQuantity(stored)
	return answer{
		OK:        true,
		String:    stored,
		Canonical: string(number) + string(suffix),
		Format:    string(q.Format),
		Faithful:  err == nil && again.Cmp(q) == 0,
	}, nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false)
	for in.Scan() {
		var request [2]string
		if err := json.Unmarshal(in.Bytes(), &request); err != nil {
			fmt.Fprintf(os.Stderr, "bad request %q: %v\n", in.Text(), err)
			os.Exit(2)
		}
		reply, err := ask(request[0], request[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := encoder.Encode(reply); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
