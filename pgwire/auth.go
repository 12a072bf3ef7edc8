package pgwire

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/sluice-db/sluice/sql/sqlerr"
)

// scramCache keeps each user's SCRAM stored credentials (salted once per
// server), so that a login costs one PBKDF2 round, not two.
type scramCache struct {
	mu    sync.Mutex
	creds map[string]scram.StoredCredentials // key: user + "\x00" + password
}

// scramCredentials returns the stored credentials of a configured user,
// cached when cache is set.
func (s *Server) scramCredentials(user, password string, cache bool) (scram.StoredCredentials, error) {
	key := user + "\x00" + password
	s.scram.mu.Lock()
	defer s.scram.mu.Unlock()
	if c, ok := s.scram.creds[key]; ok {
		return c, nil
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return scram.StoredCredentials{}, fmt.Errorf("make scram salt: %w", err)
	}
	client, err := scram.SHA256.NewClientUnprepped(user, password, "")
	if err != nil {
		return scram.StoredCredentials{}, fmt.Errorf("make scram client: %w", err)
	}
	c := client.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: s.cfg.Auth.SCRAMIterations})
	if cache {
		if s.scram.creds == nil {
			s.scram.creds = map[string]scram.StoredCredentials{}
		}
		s.scram.creds[key] = c
	}
	return c, nil
}

func authFailed(user string) *sqlerr.Error {
	return &sqlerr.Error{Code: sqlerr.InvalidPassword, Message: fmt.Sprintf("password authentication failed for user %q", user)}
}

// authenticate runs the authentication exchange for c.info.User.
func (c *conn) authenticate() error {
	s := c.srv
	user := c.info.User
	password, known := s.cfg.Auth.Users[user]
	switch s.cfg.Auth.method(c.nc.RemoteAddr()) {
	case AuthTrust:
		return nil
	case AuthPassword:
		c.be.Send(&pgproto3.AuthenticationCleartextPassword{})
		if err := c.be.Flush(); err != nil {
			return fmt.Errorf("send password request: %w", err)
		}
		if err := c.be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
			return fmt.Errorf("set auth type: %w", err)
		}
		msg, err := c.be.Receive()
		if err != nil {
			return fmt.Errorf("receive password: %w", err)
		}
		pm, ok := msg.(*pgproto3.PasswordMessage)
		if !ok {
			c.fatal(&sqlerr.Error{Code: sqlerr.ProtocolViolation, Message: fmt.Sprintf("expected password response, got %T", msg)})
			return errHandled
		}
		if !known || subtle.ConstantTimeCompare([]byte(pm.Password), []byte(password)) != 1 {
			c.fatal(authFailed(user))
			return errHandled
		}
		return nil
	case AuthSCRAM:
		return c.authSCRAM(user, password, known)
	default:
		c.fatal(&sqlerr.Error{Code: sqlerr.InvalidAuthorization, Message: fmt.Sprintf("unsupported authentication method %q", s.cfg.Auth.Method)})
		return errHandled
	}
}

var errUnknownUser = errors.New("unknown user")

// authSCRAM runs SCRAM-SHA-256 (RFC 7677) as Postgres does: the user name
// inside the SCRAM messages is ignored in favour of the startup user. An
// unknown user goes through the exchange with random credentials and fails
// at the end, so that user names cannot be probed.
func (c *conn) authSCRAM(user, password string, known bool) error {
	creds := func(string) (scram.StoredCredentials, error) {
		if !known {
			var junk [32]byte
			_, _ = rand.Read(junk[:])
			return c.srv.scramCredentials(user, string(junk[:]), false)
		}
		return c.srv.scramCredentials(user, password, true)
	}
	server, err := scram.SHA256.NewServer(creds)
	if err != nil {
		return fmt.Errorf("make scram server: %w", err)
	}
	conv := server.NewConversation()
	c.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := c.be.Flush(); err != nil {
		return fmt.Errorf("send sasl request: %w", err)
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return fmt.Errorf("set auth type: %w", err)
	}
	msg, err := c.be.Receive()
	if err != nil {
		return fmt.Errorf("receive sasl initial response: %w", err)
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || first.AuthMechanism != "SCRAM-SHA-256" {
		c.fatal(&sqlerr.Error{Code: sqlerr.ProtocolViolation, Message: "client selected an invalid SASL authentication mechanism"})
		return errHandled
	}
	serverFirst, err := conv.Step(string(first.Data))
	if err != nil {
		c.fatal(authFailed(user))
		return errHandled
	}
	c.be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if err := c.be.Flush(); err != nil {
		return fmt.Errorf("send sasl continue: %w", err)
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return fmt.Errorf("set auth type: %w", err)
	}
	msg, err = c.be.Receive()
	if err != nil {
		return fmt.Errorf("receive sasl response: %w", err)
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		c.fatal(&sqlerr.Error{Code: sqlerr.ProtocolViolation, Message: fmt.Sprintf("expected SASL response, got %T", msg)})
		return errHandled
	}
	serverFinal, err := conv.Step(string(resp.Data))
	if err != nil || !conv.Valid() || !known {
		c.fatal(authFailed(user))
		return errHandled
	}
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)})
	return nil
}
