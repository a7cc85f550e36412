package sqlite

import "os"

func writeFile(path string) error               { return os.WriteFile(path, []byte("x"), 0o644) }
func statFile(path string) (os.FileInfo, error) { return os.Stat(path) }
