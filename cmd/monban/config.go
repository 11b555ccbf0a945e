package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is monban's whole configuration. It is read from a YAML file
// (--config or MONBAN_CONFIG), then MONBAN_* environment variables, then
// flags, each overriding the one before. The README lists every key.
type Config struct {
	Addr     string `yaml:"addr" env:"MONBAN_ADDR"`
	Data     string `yaml:"data" env:"MONBAN_DATA"`
	Database string `yaml:"database" env:"MONBAN_DATABASE"` // PostgreSQL DSN; empty: SQLite in Data
	Dev      bool   `yaml:"dev" env:"MONBAN_DEV"`
	Secret   string `yaml:"secret" env:"MONBAN_SECRET"` // hex, ≥32 bytes; empty: Data/secret.key
	LogLevel string `yaml:"log_level" env:"MONBAN_LOG_LEVEL"`
	TLSCert  string `yaml:"tls_cert" env:"MONBAN_TLS_CERT"`
	TLSKey   string `yaml:"tls_key" env:"MONBAN_TLS_KEY"`

	SessionIdle     time.Duration `yaml:"session_idle_timeout" env:"MONBAN_SESSION_IDLE_TIMEOUT"`
	SessionAbsolute time.Duration `yaml:"session_absolute_timeout" env:"MONBAN_SESSION_ABSOLUTE_TIMEOUT"`

	HashMemoryKiB     uint32 `yaml:"password_hash_memory_kib" env:"MONBAN_PASSWORD_HASH_MEMORY_KIB"`
	HashTime          uint32 `yaml:"password_hash_time" env:"MONBAN_PASSWORD_HASH_TIME"`
	HashThreads       uint8  `yaml:"password_hash_threads" env:"MONBAN_PASSWORD_HASH_THREADS"`
	HashMaxConcurrent int    `yaml:"password_hash_max_concurrent" env:"MONBAN_PASSWORD_HASH_MAX_CONCURRENT"`
}

func defaultConfig() Config {
	return Config{
		Addr: "127.0.0.1:8080", Data: "./monban-data", LogLevel: "info",
		SessionIdle: 7 * 24 * time.Hour, SessionAbsolute: 30 * 24 * time.Hour,
		HashMemoryKiB: 19456, HashTime: 2, HashThreads: 1,
	}
}

// loadConfig reads the file (if any) and the environment over the defaults.
func loadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := defaultConfig()
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
func applyEnv(cfg *Config, getenv func(string) string) error {
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

// dsn is the database to open: the configured PostgreSQL DSN or the SQLite
// file in the data directory.
func (c Config) dsn() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.Data, "monban.db")
}

// secret returns the server secret: configured, or kept in the data
// directory (created on first start). Nodes that share a PostgreSQL
// database must share MONBAN_SECRET.
func (c Config) secret() ([]byte, error) {
	if c.Secret != "" {
		b, err := hex.DecodeString(c.Secret)
		if err != nil || len(b) < 32 {
			return nil, errors.New("config: secret must be at least 32 bytes, hex-encoded (e.g. `openssl rand -hex 32`)")
		}
		return b, nil
	}
	p := filepath.Join(c.Data, "secret.key")
	if b, err := os.ReadFile(p); err == nil {
		return hex.DecodeString(strings.TrimSpace(string(b)))
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.WriteFile(p, []byte(hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return b[:], nil
}
