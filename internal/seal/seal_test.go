package seal

import (
	"bytes"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	b, err := New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(`{"code":"123456"}`)
	s := b.Seal(msg)
	if bytes.Contains(s, []byte("123456")) {
		t.Fatal("sealed text contains the plaintext")
	}
	got, err := b.Open(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	s[len(s)-1] ^= 1
	if _, err := b.Open(s); err != ErrOpen {
		t.Fatalf("tampered: err = %v, want ErrOpen", err)
	}
	other, _ := New([]byte("another secret of enough length!!"))
	if _, err := other.Open(b.Seal(msg)); err != ErrOpen {
		t.Fatalf("other key: err = %v, want ErrOpen", err)
	}
	if _, err := b.Open([]byte("short")); err != ErrOpen {
		t.Fatalf("short: err = %v", err)
	}
}
