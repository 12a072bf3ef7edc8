package pgwire

import (
	"crypto/tls"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
)

// AuthMethod is how clients prove who they are.
type AuthMethod string

// Authentication methods, named as in pg_hba.conf.
const (
	// AuthDefault trusts loopback clients and asks others for SCRAM-SHA-256.
	AuthDefault  AuthMethod = ""
	AuthTrust    AuthMethod = "trust"
	AuthPassword AuthMethod = "password" // cleartext password
	AuthSCRAM    AuthMethod = "scram-sha-256"
)

// AuthConfig configures authentication.
type AuthConfig struct {
	Method AuthMethod
	// Users maps a user name to its password (for password and
	// scram-sha-256). A user not in the map cannot log in with a password.
	Users map[string]string
	// TrustLoopback lets clients on a loopback address in without a
	// password whatever Method says (AuthDefault implies it).
	TrustLoopback bool
	// SCRAMIterations is the PBKDF2 iteration count (4096 when 0).
	SCRAMIterations int
}

// method returns the method used for a client at addr.
func (a AuthConfig) method(addr net.Addr) AuthMethod {
	loop := isLoopback(addr)
	switch {
	case a.Method == AuthDefault && loop, a.TrustLoopback && loop:
		return AuthTrust
	case a.Method == AuthDefault:
		return AuthSCRAM
	}
	return a.Method
}

func isLoopback(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	case nil:
		return false
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Config configures a Server.
type Config struct {
	// Addr is the TCP address ListenAndServe listens on (":5432" when empty).
	Addr string
	// TLSConfig, when set, lets clients upgrade with SSLRequest.
	TLSConfig *tls.Config
	Auth      AuthConfig
	// Logger receives connection-level events (slog.Default when nil).
	Logger *slog.Logger
	// MaxConnections refuses connections beyond this many with SQLSTATE
	// 53300 (0 means no limit).
	MaxConnections int
	// Registerer, when set, receives the server's metrics:
	// sluice_pgwire_connections (gauge), sluice_pgwire_connections_total,
	// sluice_pgwire_query_duration_seconds (histogram by protocol) and
	// sluice_pgwire_errors_total (by SQLSTATE class).
	Registerer prometheus.Registerer
	// ServerVersion is reported as server_version ("15.0 (Sluice 0.1)" when
	// empty). Clients parse the leading number, as for Debian's
	// "15.4 (Debian 15.4-1)".
	ServerVersion string
	// MaxMessageSize bounds a client message (64 MiB when 0).
	MaxMessageSize int
}

// DefaultServerVersion is the server_version reported by default.
const DefaultServerVersion = "15.0 (Sluice 0.1)"
