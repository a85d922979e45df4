package mta

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/deskmail/deskmail/queue"
)

// DKIM signs every email (RFC 6376) before handing it to Next, so
// receivers can tie it to Domain and DMARC passes for the From domain.
// With several keys it signs with each (RFC 8463 section 3: an Ed25519
// signature beside an RSA one, for receivers that know only RSA).
type DKIM struct {
	Next   queue.Transport
	Domain string
	Keys   []DKIMKey
}

// DKIMKey is one signing key and the selector its public half is
// published under (SELECTOR._domainkey.DOMAIN).
type DKIMKey struct {
	Selector string
	Signer   crypto.Signer
}

// Algorithm names the key's kind as the DNS record does: rsa or ed25519.
func (k DKIMKey) Algorithm() string {
	if _, ok := k.Signer.Public().(ed25519.PublicKey); ok {
		return "ed25519"
	}
	return "rsa"
}

// dkimHeaders are the signed fields: those a forger would change, and
// the threading ones a reply depends on.
var dkimHeaders = []string{"From", "To", "Subject", "Date", "Message-ID", "Reply-To",
	"In-Reply-To", "References", "MIME-Version", "Content-Type", "Auto-Submitted", "X-Deskmail-Loop"}

// Deliver implements queue.Transport.
func (d *DKIM) Deliver(ctx context.Context, from, to string, msg []byte) (queue.Result, error) {
	// Each signature covers the message and the fields of dkimHeaders,
	// never another DKIM-Signature, so the order does not matter.
	for _, k := range d.Keys {
		var b bytes.Buffer
		b.Grow(len(msg) + 1024)
		err := dkim.Sign(&b, bytes.NewReader(msg), &dkim.SignOptions{Domain: d.Domain, Selector: k.Selector,
			Signer: k.Signer, HeaderKeys: dkimHeaders,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed})
		if err != nil {
			// Our own configuration: the email waits for it to be fixed.
			return queue.Result{}, fmt.Errorf("DKIM sign (selector %s): %w", k.Selector, err)
		}
		msg = b.Bytes()
	}
	return d.Next.Deliver(ctx, from, to, msg)
}

// LoadDKIMKey reads a PEM private key: PKCS#8 (RSA or Ed25519) or PKCS#1 RSA.
func LoadDKIMKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dkim-key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("dkim-key %s: no PEM block", path)
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim-key %s: %w", path, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("dkim-key %s: %T is neither RSA nor Ed25519", path, key)
}

// DKIMRecord is the TXT record to publish at SELECTOR._domainkey.DOMAIN
// for key's public half (RFC 6376 §3.6.1; RFC 8463 for Ed25519, whose
// p= is the bare 32-byte key).
func DKIMRecord(key crypto.Signer) (string, error) {
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", errors.New("dkim: unsupported key type")
}
