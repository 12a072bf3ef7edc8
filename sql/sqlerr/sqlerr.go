// Package sqlerr is the error type every layer uses to give an error a
// SQLSTATE, so that pgwire can send it to clients as Postgres does.
package sqlerr

import (
	"errors"
	"fmt"
)

// SQLSTATE codes used across Sluice.
const (
	SyntaxError             = "42601"
	UndefinedTable          = "42P01"
	UndefinedColumn         = "42703"
	UndefinedFunction       = "42883"
	UndefinedObject         = "42704"
	DuplicateObject         = "42710"
	DuplicateTable          = "42P07"
	AmbiguousColumn         = "42702"
	DatatypeMismatch        = "42804"
	GroupingError           = "42803"
	InvalidParameterValue   = "22023"
	InvalidTextRep          = "22P02"
	NumericOutOfRange       = "22003"
	DivisionByZero          = "22012"
	InvalidRowCountInLimit  = "2201W"
	InvalidRowCountInOffset = "2201X"
	FeatureNotSupported     = "0A000"
	InvalidSQLStatement     = "26000"
	InvalidCursorName       = "34000"
	DependentObjects        = "2BP01"
	InFailedTransaction     = "25P02"
	QueryCanceled           = "57014"
	InvalidAuthorization    = "28000"
	InvalidPassword         = "28P01"
	ProtocolViolation       = "08P01"
	ObjectNotInState        = "55000"
	ProgramLimitExceeded    = "54000"
	ConfigurationError      = "F0000"
	ConnectionException     = "08000"
	WrongObjectType         = "42809"
	InvalidObjectDefinition = "42P17"
	Internal                = "XX000"
)

// Error is an error with a SQLSTATE and the fields of a Postgres
// ErrorResponse.
type Error struct {
	Code     string
	Message  string
	Detail   string
	Hint     string
	Position int // 1-based character position in the statement text, 0 if none
	// Line and Col locate the error in the user's text (1-based, 0 if none).
	Line, Col int
	// Err is the underlying cause, if any (for errors.Is/As).
	Err error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s at line %d, column %d", e.Message, e.Line, e.Col)
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error with code and a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap gives err a code, keeping it as the cause; an err that already has
// a code keeps it.
func Wrap(code string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: code, Message: err.Error(), Err: err}
}

// WithHint returns e with a hint.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// WithDetail returns e with a detail.
func (e *Error) WithDetail(format string, args ...any) *Error {
	e.Detail = fmt.Sprintf(format, args...)
	return e
}

// Code returns the SQLSTATE of err, or XX000 when it has none.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}
