package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/monban-dev/monban/internal/node"
)

// loadConfig reads the file (if any) and the environment over the defaults.
func loadConfig(path string, getenv func(string) string) (node.Config, error) {
	cfg := node.DefaultConfig()
	if path == "" {
		path = getenv("MONBAN_CONFIG")
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// applyEnv sets every field whose env tag names a set variable.
func applyEnv(cfg *node.Config, getenv func(string) string) error {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("env")
		raw := getenv(name)
		if name == "" || raw == "" {
			continue
		}
		f := v.Field(i)
		var err error
		switch f.Interface().(type) {
		case string:
			f.SetString(raw)
		case bool:
			var b bool
			b, err = strconv.ParseBool(raw)
			f.SetBool(b)
		case time.Duration:
			var d time.Duration
			d, err = time.ParseDuration(raw)
			f.SetInt(int64(d))
		case int:
			var n int64
			n, err = strconv.ParseInt(raw, 10, 64)
			f.SetInt(n)
		case []string:
			var xs []string
			for _, x := range strings.Split(raw, ",") {
				if x = strings.TrimSpace(x); x != "" {
					xs = append(xs, x)
				}
			}
			f.Set(reflect.ValueOf(xs))
		case uint32, uint8:
			var n uint64
			n, err = strconv.ParseUint(raw, 10, f.Type().Bits())
			f.SetUint(n)
		}
		if err != nil {
			return fmt.Errorf("config: %s=%q: %w", name, raw, err)
		}
	}
	return nil
}
