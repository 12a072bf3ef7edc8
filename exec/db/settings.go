package db

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-db/sluice/sql/sqlerr"
)

// settingDef is a session parameter.
type settingDef struct {
	def  string
	desc string
	// reported parameters are sent to clients in ParameterStatus.
	reported bool
	// readOnly parameters cannot be SET.
	readOnly bool
	// check validates and normalises a new value.
	check func(string) (string, error)
}

// ServerVersion is the Postgres version Sluice reports; clients parse it.
const ServerVersion = "15.0 (Sluice 0.1)"

var settingDefs = map[string]settingDef{
	"server_version":                {def: ServerVersion, desc: "Postgres version Sluice speaks", reported: true, readOnly: true},
	"server_version_num":            {def: "150000", desc: "Postgres version as a number", readOnly: true},
	"server_encoding":               {def: "UTF8", desc: "server character set", reported: true, readOnly: true},
	"client_encoding":               {def: "UTF8", desc: "client character set", reported: true, check: checkEncoding},
	"datestyle":                     {def: "ISO, MDY", desc: "display format for dates and times", reported: true, check: checkDateStyle},
	"intervalstyle":                 {def: "postgres", desc: "display format for intervals", reported: true, check: oneOf("postgres")},
	"timezone":                      {def: "UTC", desc: "time zone for displaying time stamps", reported: true, check: checkTimeZone},
	"integer_datetimes":             {def: "on", desc: "datetimes are integer based", reported: true, readOnly: true},
	"standard_conforming_strings":   {def: "on", desc: "'...' strings treat backslashes literally", reported: true, check: oneOf("on")},
	"application_name":              {def: "", desc: "name of the client application", reported: true},
	"is_superuser":                  {def: "on", desc: "whether the user is a superuser", reported: true, readOnly: true},
	"session_authorization":         {def: "", desc: "session user name", reported: true, readOnly: true},
	"default_transaction_read_only": {def: "off", desc: "default read-only status of new transactions", reported: true},
	"in_hot_standby":                {def: "off", desc: "whether hot standby is active", reported: true, readOnly: true},
	"search_path":                   {def: `"$user", public`, desc: "schema search order"},
	"statement_timeout":             {def: "0", desc: "maximum time a statement may run (0 = none)", check: checkDuration},
	"extra_float_digits":            {def: "1", desc: "digits displayed for floating-point values", check: checkInt},
	"transaction_isolation":         {def: "read committed", desc: "current transaction isolation level"},
	"default_transaction_isolation": {def: "read committed", desc: "isolation level of new transactions"},
	"max_identifier_length":         {def: "63", desc: "maximum identifier length", readOnly: true},
	"lc_collate":                    {def: "C", desc: "collation order locale", readOnly: true},
	"lc_ctype":                      {def: "C", desc: "character classification locale", readOnly: true},
	"lc_messages":                   {def: "C", desc: "language of messages"},
	"lc_monetary":                   {def: "C", desc: "locale for monetary amounts"},
	"lc_numeric":                    {def: "C", desc: "locale for numbers"},
	"lc_time":                       {def: "C", desc: "locale for dates and times"},
	"bytea_output":                  {def: "hex", desc: "output format for bytea", check: oneOf("hex")},
	"client_min_messages":           {def: "notice", desc: "message levels sent to the client"},
	"implicit_flush":                {def: "on", desc: "wait after INSERT until every view has processed the rows (read your writes)", check: checkBool},
	"max_rows":                      {def: "0", desc: "refuse ad-hoc results larger than this many rows (0 = no limit)", check: checkInt},
}

func oneOf(vals ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, a := range vals {
			if strings.EqualFold(v, a) {
				return a, nil
			}
		}
		return "", fmt.Errorf("must be %s", strings.Join(vals, " or "))
	}
}

func checkEncoding(v string) (string, error) {
	switch strings.ToUpper(strings.ReplaceAll(v, "-", "")) {
	case "UTF8", "UNICODE":
		return "UTF8", nil
	case "SQL_ASCII":
		return "SQL_ASCII", nil
	}
	return "", fmt.Errorf("only UTF8 is supported")
}

func checkDateStyle(v string) (string, error) {
	if strings.Contains(strings.ToUpper(v), "ISO") || v == "" {
		return "ISO, MDY", nil
	}
	return "", fmt.Errorf("only ISO is supported")
}

func checkTimeZone(v string) (string, error) {
	if _, err := time.LoadLocation(v); err != nil {
		return "", fmt.Errorf("unknown time zone %q", v)
	}
	return v, nil
}

func checkDuration(v string) (string, error) {
	if _, err := parseDurationSetting(v); err != nil {
		return "", err
	}
	return v, nil
}

// parseDurationSetting parses Postgres-style durations: a bare number of
// milliseconds, or a number with a unit (ms, s, min, h, d).
func parseDurationSetting(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	for _, u := range []struct {
		suf string
		d   time.Duration
	}{{"ms", time.Millisecond}, {"min", time.Minute}, {"s", time.Second}, {"h", time.Hour}, {"d", 24 * time.Hour}} {
		if num, ok := strings.CutSuffix(v, u.suf); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err == nil {
				return time.Duration(n * float64(u.d)), nil
			}
		}
	}
	return 0, fmt.Errorf("invalid duration %q (use milliseconds or a unit: ms, s, min, h, d)", v)
}

func checkInt(v string) (string, error) {
	if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
		return "", fmt.Errorf("must be an integer")
	}
	return strings.TrimSpace(v), nil
}

func checkBool(v string) (string, error) {
	switch strings.ToLower(v) {
	case "on", "true", "1", "yes":
		return "on", nil
	case "off", "false", "0", "no":
		return "off", nil
	}
	return "", fmt.Errorf("must be on or off")
}

// settings is a session's parameters.
type settings struct {
	vals map[string]string
}

func newSettings(user, appName string, startup map[string]string) *settings {
	s := &settings{vals: map[string]string{}}
	for k, d := range settingDefs {
		s.vals[k] = d.def
	}
	s.vals["session_authorization"] = user
	s.vals["application_name"] = appName
	for k, v := range startup {
		k = strings.ToLower(k)
		d, ok := settingDefs[k]
		if !ok || d.readOnly {
			continue
		}
		if d.check != nil {
			nv, err := d.check(v)
			if err != nil {
				continue // a client's startup parameter never fails the connection
			}
			v = nv
		}
		s.vals[k] = v
	}
	return s
}

// canonicalName maps case-insensitive setting names and aliases.
func canonicalName(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "time zone", "time_zone":
		return "timezone"
	case "names":
		return "client_encoding"
	case "session characteristics as transaction isolation level", "transaction isolation level":
		return "transaction_isolation"
	}
	return n
}

func (s *settings) get(name string) (string, bool) {
	v, ok := s.vals[canonicalName(name)]
	return v, ok
}

// set changes a parameter; it returns the reported name and value when the
// change must be sent in ParameterStatus.
func (s *settings) set(name, value string) (string, error) {
	n := canonicalName(name)
	d, ok := settingDefs[n]
	if !ok {
		if strings.Contains(n, ".") { // custom (extension-style) settings are accepted
			s.vals[n] = value
			return "", nil
		}
		return "", sqlerr.New(sqlerr.UndefinedObject, "unrecognized configuration parameter %q", name)
	}
	if d.readOnly {
		return "", sqlerr.New("55P02", "parameter %q cannot be changed", name)
	}
	if strings.EqualFold(value, "default") {
		value = d.def
	} else if d.check != nil {
		nv, err := d.check(value)
		if err != nil {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for parameter %q: %q", name, value).WithDetail("%v", err)
		}
		value = nv
	}
	s.vals[n] = value
	if d.reported {
		return n, nil
	}
	return "", nil
}

func (s *settings) reset(name string) (string, error) {
	if strings.EqualFold(name, "all") {
		for k, d := range settingDefs {
			if !d.readOnly {
				s.vals[k] = d.def
			}
		}
		return "", nil
	}
	return s.set(name, "default")
}

// reportedName returns the name clients expect in ParameterStatus.
func reportedName(n string) string {
	switch n {
	case "datestyle":
		return "DateStyle"
	case "intervalstyle":
		return "IntervalStyle"
	case "timezone":
		return "TimeZone"
	}
	return n
}

func (s *settings) reported() map[string]string {
	out := map[string]string{}
	for k, d := range settingDefs {
		if d.reported {
			out[reportedName(k)] = s.vals[k]
		}
	}
	return out
}

func (s *settings) all() [][3]string {
	names := make([]string, 0, len(s.vals))
	for k := range s.vals {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([][3]string, 0, len(names))
	for _, k := range names {
		out = append(out, [3]string{reportedName(k), s.vals[k], settingDefs[k].desc})
	}
	return out
}
