package secrets_test

import (
	"errors"
	"testing"

	"github.com/tallyhq/tally/secrets"
)

func TestSealOpen(t *testing.T) {
	key, err := secrets.ParseKey(secrets.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal("xxx112233", "provider_account:cpay-main")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := box.Open(sealed, "provider_account:cpay-main"); err != nil || got != "xxx112233" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := box.Open(sealed, "provider_account:other"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("open under another context: err = %v, want ErrDecrypt", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := box.Open(sealed, "provider_account:cpay-main"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("open tampered: err = %v, want ErrDecrypt", err)
	}
	other, _ := secrets.New(make([]byte, 32))
	sealed2, _ := box.Seal("s", "c")
	if _, err := other.Open(sealed2, "c"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("open under another key: err = %v", err)
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", true},
		{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", true},
		{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", true},
		{"short", false},
		{"", false},
		{"000102", false},
	}
	for _, tc := range tests {
		_, err := secrets.ParseKey(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseKey(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
	t.Setenv(secrets.EnvKey, "")
	if _, err := secrets.FromEnv(); !errors.Is(err, secrets.ErrNoKey) {
		t.Fatalf("FromEnv without key: %v", err)
	}
}
