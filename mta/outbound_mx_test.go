package mta

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/deskmail/deskmail/queue"
)

type fakeResolver map[string][]*net.MX

func (f fakeResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	mxs, ok := f[name]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return mxs, nil
}

// LookupIPAddr answers names that are addresses ("127.0.0.2").
func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IPAddr{{IP: ip}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestMXTriesHostsInOrderWithSTARTTLS(t *testing.T) {
	s := newSink(t, true)
	_, port, _ := net.SplitHostPort(s.addr)
	dead, err := net.Listen("tcp", "127.0.0.2:"+port)
	if err == nil {
		dead.Close() // a host that refuses connections on the port
	}
	m := &MX{Hostname: "deskmail.test", Port: port, AllowPrivate: true, Resolver: fakeResolver{
		"client.test": {{Host: "127.0.0.2.", Pref: 10}, {Host: "127.0.0.1.", Pref: 20}},
		"null.test":   {{Host: ".", Pref: 0}},
	}}
	res, err := m.Deliver(context.Background(), "bounce+1@example.test", "b@client.test", []byte(testMsg))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.got(); len(got) != 1 || !got[0].tls || !strings.HasPrefix(res.Reply, "127.0.0.1: 250") {
		t.Errorf("reply %q, emails %+v; want one over TLS from the second MX", res.Reply, got)
	}
	if _, err := m.Deliver(context.Background(), "bounce+1@example.test", "b@null.test", []byte(testMsg)); !queue.IsPermanent(err) {
		t.Errorf("null MX: %v, want a permanent failure", err)
	}
	// No MX record: the domain itself (RFC 5321 §5.1).
	if _, err := m.Deliver(context.Background(), "bounce+1@example.test", "b@127.0.0.1", []byte(testMsg)); err != nil {
		t.Errorf("implicit MX: %v", err)
	}
}

func TestDKIMSignatureVerifies(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]any{"ed25519": edKey, "rsa": rsaKey} {
		t.Run(name, func(t *testing.T) {
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "dkim.pem")
			os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
			signer, err := LoadDKIMKey(path)
			if err != nil {
				t.Fatal(err)
			}
			record, err := DKIMRecord(signer)
			if err != nil {
				t.Fatal(err)
			}
			var signed []byte
			next := transportFunc(func(msg []byte) { signed = msg })
			d := &DKIM{Next: next, Domain: "example.test", Keys: []DKIMKey{{Selector: "s1", Signer: signer}}}
			if _, err := d.Deliver(context.Background(), "bounce+1@example.test", "b@client.test", []byte(testMsg)); err != nil {
				t.Fatal(err)
			}
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
				if domain != "s1._domainkey.example.test" {
					t.Errorf("looked up %s", domain)
				}
				return []string{record}, nil
			}})
			if err != nil || len(vs) != 1 || vs[0].Err != nil {
				t.Fatalf("verify: %v %+v", err, vs)
			}
		})
	}
}

type transportFunc func(msg []byte)

func (f transportFunc) Deliver(_ context.Context, _, _ string, msg []byte) (queue.Result, error) {
	f(msg)
	return queue.Result{}, nil
}

// With an RSA and an Ed25519 key, every email carries both signatures and
// each verifies against its own selector's record (RFC 8463 dual signing).
func TestDKIMDualSigning(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := []DKIMKey{{Selector: "rsa1", Signer: rsaKey}, {Selector: "ed1", Signer: edKey}}
	records := map[string]string{}
	for _, k := range keys {
		r, err := DKIMRecord(k.Signer)
		if err != nil {
			t.Fatal(err)
		}
		records[k.Selector+"._domainkey.example.test"] = r
	}
	var signed []byte
	d := &DKIM{Next: transportFunc(func(msg []byte) { signed = msg }), Domain: "example.test", Keys: keys}
	if _, err := d.Deliver(context.Background(), "bounce+1@example.test", "b@client.test", []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
		return []string{records[domain]}, nil
	}})
	if err != nil || len(vs) != 2 {
		t.Fatalf("verify: %v, %d signatures", err, len(vs))
	}
	for _, v := range vs {
		if v.Err != nil {
			t.Errorf("signature %+v: %v", v, v.Err)
		}
	}
	if keys[0].Algorithm() != "rsa" || keys[1].Algorithm() != "ed25519" || !strings.Contains(string(signed), "s=rsa1") || !strings.Contains(string(signed), "s=ed1") {
		t.Errorf("algorithms %s %s; signed:\n%s", keys[0].Algorithm(), keys[1].Algorithm(), signed)
	}
}
