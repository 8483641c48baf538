package main

// The tests' window into a running pod: what a deploy mounted and set, read back through the app.
//
//	GET /files/{path...}  the content of a file, or a directory's entry names as a JSON list, under
//	                      one of the directories STANDIN_FILES lists (absolute, ':'-separated);
//	                      404 for anything else, a symlink that leads out of them included
//	GET /env/{name}       the value of an environment variable whose name starts with ECHO_ (so
//	                      never SERVER_ADDR, DATABASE_URL or REDIS_URL); 404 for any other

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// echoPrefix is the only kind of environment variable GET /env/{name} shows.
const echoPrefix = "ECHO_"

// fileRoots are the directories of STANDIN_FILES, each as given and with its symlinks resolved.
func fileRoots() []string {
	var roots []string
	for _, root := range strings.Split(os.Getenv("STANDIN_FILES"), ":") {
		if !filepath.IsAbs(root) {
			continue
		}
		roots = append(roots, filepath.Clean(root))
		if real, err := filepath.EvalSymlinks(root); err == nil {
			roots = append(roots, real)
		}
	}
	return roots
}

func under(path string, roots []string) bool {
	for _, root := range roots {
		if path == root || strings.HasPrefix(path, strings.TrimSuffix(root, "/")+"/") {
			return true
		}
	}
	return false
}

func files(w http.ResponseWriter, r *http.Request) {
	roots := fileRoots()
	path := filepath.Clean("/" + r.PathValue("path"))
	real, err := filepath.EvalSymlinks(path)
	if !under(path, roots) || err != nil || !under(real, roots) {
		http.NotFound(w, r)
		return
	}
	info, err := os.Stat(real)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if info.IsDir() {
		entries, err := os.ReadDir(real)
		if err != nil {
			http.Error(w, "cannot list the directory", http.StatusInternalServerError)
			return
		}
		names := []string{}
		for _, entry := range entries {
			names = append(names, entry.Name())
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(names)
		return
	}
	content, err := os.ReadFile(real)
	if err != nil {
		http.Error(w, "cannot read the file", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(content)
}

func echoEnv(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	value, ok := os.LookupEnv(name)
	if !strings.HasPrefix(name, echoPrefix) || !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(value))
}
