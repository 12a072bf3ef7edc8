package pgwire_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"errors"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lib/pq"

	"github.com/sluice-db/sluice/pgwire"
)

func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestTLS(t *testing.T) {
	ts := startServer(t, pgwire.Config{TLSConfig: selfSignedTLS(t)})
	ctx := context.Background()
	c, err := pgx.Connect(ctx, ts.url("")[:len(ts.url(""))-len("sslmode=disable")]+"sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("connection is %T, not TLS", c.PgConn().Conn())
	}
	var n int32
	if err := c.QueryRow(ctx, "select 11").Scan(&n); err != nil || n != 11 {
		t.Fatal(n, err)
	}
	// Plain connections are still accepted.
	c2, err := pgx.Connect(ctx, ts.url(""))
	if err != nil {
		t.Fatal(err)
	}
	c2.Close(ctx)
	// lib/pq over TLS.
	db, err := sql.Open("postgres", ts.url("")[:len(ts.url(""))-len("sslmode=disable")]+"sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow("select 12").Scan(&n); err != nil || n != 12 {
		t.Fatal(n, err)
	}

	// Without a certificate, sslmode=require fails and prefer falls back.
	plain := startServer(t, pgwire.Config{})
	if _, err := pgx.Connect(ctx, plain.url("")[:len(plain.url(""))-len("sslmode=disable")]+"sslmode=require"); err == nil {
		t.Fatal("sslmode=require succeeded without TLS")
	}
	c3, err := pgx.Connect(ctx, plain.url("")[:len(plain.url(""))-len("sslmode=disable")]+"sslmode=prefer")
	if err != nil {
		t.Fatal(err)
	}
	c3.Close(ctx)
}

func TestPasswordAuth(t *testing.T) {
	users := map[string]string{"alice": "s3cret", "bob": "pässword"}
	for _, method := range []pgwire.AuthMethod{pgwire.AuthSCRAM, pgwire.AuthPassword} {
		t.Run(string(method), func(t *testing.T) {
			ts := startServer(t, pgwire.Config{Auth: pgwire.AuthConfig{Method: method, Users: users}})
			ctx := context.Background()
			urlOf := func(user, pass string) string {
				u := url.URL{Scheme: "postgres", User: url.UserPassword(user, pass), Host: ts.addr, Path: "/sluice", RawQuery: "sslmode=disable"}
				return u.String()
			}
			for user, pass := range users {
				c, err := pgx.Connect(ctx, urlOf(user, pass))
				if err != nil {
					t.Fatalf("%s: %v", user, err)
				}
				c.Close(ctx)
				// lib/pq speaks both methods too.
				db, err := sql.Open("postgres", urlOf(user, pass))
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Ping(); err != nil {
					t.Fatalf("lib/pq %s: %v", user, err)
				}
				db.Close()
			}
			for _, bad := range [][2]string{{"alice", "wrong"}, {"alice", ""}, {"mallory", "s3cret"}} {
				_, err := pgx.Connect(ctx, urlOf(bad[0], bad[1]))
				if err == nil {
					t.Fatalf("%s/%q logged in", bad[0], bad[1])
				}
				if bad[1] == "" {
					continue // pgx may refuse to send an empty password itself
				}
				pe := pgErr(t, err)
				if pe.Code != "28P01" || pe.Severity != "FATAL" || pe.Message != `password authentication failed for user "`+bad[0]+`"` {
					t.Fatalf("%v: %+v", bad, pe)
				}
			}
			db, _ := sql.Open("postgres", urlOf("alice", "wrong"))
			defer db.Close()
			var pqe *pq.Error
			if err := db.Ping(); !errors.As(err, &pqe) || pqe.Code != "28P01" {
				t.Fatalf("lib/pq wrong password: %v", err)
			}
		})
	}
}

func TestDefaultAuthTrustsLoopback(t *testing.T) {
	ts := startServer(t, pgwire.Config{Auth: pgwire.AuthConfig{Users: map[string]string{"alice": "x"}}})
	c, err := pgx.Connect(context.Background(), "postgres://anyone@"+ts.addr+"/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
	// With TrustLoopback off and SCRAM required, loopback needs the password.
	ts2 := startServer(t, pgwire.Config{Auth: pgwire.AuthConfig{Method: pgwire.AuthSCRAM, Users: map[string]string{"alice": "x"}}})
	if _, err := pgx.Connect(context.Background(), "postgres://anyone@"+ts2.addr+"/db?sslmode=disable"); err == nil {
		t.Fatal("logged in without a password")
	}
	ts3 := startServer(t, pgwire.Config{Auth: pgwire.AuthConfig{Method: pgwire.AuthSCRAM, TrustLoopback: true}})
	c, err = pgx.Connect(context.Background(), "postgres://anyone@"+ts3.addr+"/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
}
