// Package imaptest runs a real Dovecot IMAP server for tests: its own
// config in a temporary folder (a passwd-file user, Maildir, a listener on
// 127.0.0.1 at a free port, its log in a file), started in the foreground
// by the test and stopped with it. Debian's dovecot-imapd must be
// installed; without it the tests skip on a developer's machine and fail
// under CI=true.
package imaptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is Debian's dovecot master.
const Binary = "/usr/sbin/dovecot"

// Options choose what the server offers.
type Options struct {
	// TLS adds an imaps listener and STARTTLS on the plain one, with a
	// self-signed certificate made for the test.
	TLS bool
	// OAuth2URL, if set, makes the user sign in with XOAUTH2 and
	// OAUTHBEARER tokens that Dovecot checks at this introspection URL
	// (GET, the token as a Bearer header); passwords still work.
	OAuth2URL string
	// NoIdle turns IMAP IDLE off (the client must poll).
	NoIdle bool
}

// Server is one running Dovecot.
type Server struct {
	t        testing.TB
	dir      string
	User     string
	Password string
	Addr     string // 127.0.0.1:port of the plain (STARTTLS) listener
	TLSAddr  string // 127.0.0.1:port of imaps (Options.TLS)
	CertPEM  []byte // the self-signed certificate (Options.TLS)

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Available tells whether Dovecot is installed.
func Available() bool {
	_, err := os.Stat(Binary)
	return err == nil
}

// Require skips (or, under CI=true, fails) a test without Dovecot.
func Require(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing: .ci/run must install dovecot-imapd", Binary)
	}
	t.Skipf("%s is missing (apt-get install dovecot-imapd)", Binary)
}

// Start writes the config and starts Dovecot; it is stopped when the test
// ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	// Unix sockets live in the base folder: keep its path short.
	dir, err := os.MkdirTemp("", "dc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Dovecot's login and auth processes run as its own users.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, dir: dir, User: "desk@example.test", Password: "s3cret-pass"}
	s.Addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	if opts.TLS {
		s.TLSAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	}
	if err := s.writeConfig(opts); err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Dir is the server's folder (config, mail, log).
func (s *Server) Dir() string { return s.dir }

// Log returns Dovecot's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "dovecot.log"))
	return string(b)
}

// Start (re)starts a stopped server and waits until it accepts
// connections.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(Binary, "-F", "-c", filepath.Join(s.dir, "dovecot.conf"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A test binary that dies takes its Dovecot with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start dovecot: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			s.t.Fatalf("dovecot exited: %s\n%s", out.String(), s.Log())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			s.t.Fatalf("dovecot did not listen on %s: %s\n%s", s.Addr, out.String(), s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd = cmd
	s.exited = exited
}

// Stop kills the server (every connection is cut); Start brings it back
// on the same port with the same mail.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	// The whole process group at once, as a crash or a pulled cable
	// would: every connection is cut (a graceful SIGTERM takes Dovecot
	// seconds with clients connected).
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
	// The master is gone; wait for its listener to close for good.
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) writeConfig(opts Options) error {
	d := s.dir
	uid, gid := mailOwner()
	for _, sub := range []string{"state", "mail", "home"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
		if sub != "state" {
			if err := os.Chown(filepath.Join(d, sub), uid, gid); err != nil {
				return err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(d, "passwd"), []byte(s.User+":{PLAIN}"+s.Password+"::::::\n"), 0o644); err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	mechs := "plain login"
	ssl := "ssl = no\n"
	imaps := "  inet_listener imaps {\n    port = 0\n  }\n"
	if opts.TLS {
		cert, key, err := selfSigned()
		if err != nil {
			return err
		}
		s.CertPEM = cert
		if err := os.WriteFile(filepath.Join(d, "cert.pem"), cert, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "key.pem"), key, 0o600); err != nil {
			return err
		}
		_, tport, _ := net.SplitHostPort(s.TLSAddr)
		ssl = fmt.Sprintf("ssl = yes\nssl_cert = <%s/cert.pem\nssl_key = <%s/key.pem\n", d, d)
		imaps = fmt.Sprintf("  inet_listener imaps {\n    address = 127.0.0.1\n    port = %s\n    ssl = yes\n  }\n", tport)
	}
	passdbs := fmt.Sprintf("passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s/passwd\n}\n", d)
	if opts.OAuth2URL != "" {
		mechs += " xoauth2 oauthbearer"
		conf := fmt.Sprintf("introspection_mode = auth\nintrospection_url = %s\nusername_attribute = username\ntls_ca_cert_file = /etc/ssl/certs/ca-certificates.crt\n", opts.OAuth2URL)
		if err := os.WriteFile(filepath.Join(d, "oauth2.conf.ext"), []byte(conf), 0o644); err != nil {
			return err
		}
		passdbs += fmt.Sprintf("passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s/oauth2.conf.ext\n}\n", d)
	}
	idle := ""
	if opts.NoIdle {
		idle = "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE SORT UIDPLUS MOVE UNSELECT NAMESPACE\n"
	}
	conf := fmt.Sprintf(`protocols = imap
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
instance_name = dovecot-test-%[2]s
log_path = %[1]s/dovecot.log
info_log_path = %[1]s/dovecot.log
%[3]sdisable_plaintext_auth = no
auth_mechanisms = %[4]s
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:%[1]s/mail/%%u
mail_uid = %[5]d
mail_gid = %[6]d
first_valid_uid = %[5]d
first_valid_gid = %[6]d
%[7]suserdb {
  driver = static
  args = uid=%[5]d gid=%[6]d home=%[1]s/home/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[8]s
  }
%[9]s}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
protocol imap {
  mail_max_userip_connections = 100
}
# No growing delay after failed sign-ins (tests retry on purpose).
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
%[10]s`, d, port, ssl, mechs, uid, gid, passdbs, port, imaps, idle)
	return os.WriteFile(filepath.Join(d, "dovecot.conf"), []byte(conf), 0o644)
}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// mailOwner is the user the mail belongs to: Dovecot refuses uid 0, so
// root maps the test user to Debian's "mail" user (8:8).
func mailOwner() (int, int) {
	if os.Getuid() == 0 {
		return 8, 8
	}
	return os.Getuid(), os.Getgid()
}
