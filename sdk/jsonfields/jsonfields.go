// Package jsonfields reads the few fields an operator plugin needs from a
// webhook body in one pass, accepting what encoding/json accepts.
//
// Every event a GitOps operator posts goes through its plugin's parser,
// and most of the body is of no interest to it. Decoding the body into a
// map of raw values and each of those again with encoding/json costs
// several passes and reflection on every value: in the Flux plugin it was a
// quarter of the processor time. A Decoder instead walks the body once with
// jsontext (the syntax layer of the JSON v2 reference module), keeps the
// strings the plugin asks for and skips the rest, validating all of it.
//
// It is as lenient as encoding/json: a name given twice in an object is
// accepted (the plugin decides which counts; encoding/json keeps the last),
// and invalid UTF-8 in a string reads as U+FFFD. A body it does not read as
// one JSON object followed by nothing but white space is one encoding/json
// refuses too, so a plugin can take encoding/json's error for it (see
// Refused).
package jsonfields

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// Kind is the kind of a JSON value: '"' string, '0' number, 't' true,
// 'f' false, 'n' null, '{' object, '[' array; 0 for none.
type Kind = jsontext.Kind

// KindName names a kind in messages: "object", "array", "string",
// "boolean", "null" or "number".
func KindName(k Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// Field is a member of an object as read: the kind of its value (0 when
// absent) and, for a string, the string.
type Field struct {
	Kind Kind
	Str  string
}

// Decoder reads one body. Get one with New and give it back with Release.
type Decoder struct {
	dec  jsontext.Decoder
	in   bytes.Buffer
	name []byte
}

var decoders = sync.Pool{New: func() any { return new(Decoder) }}

// options make jsontext as lenient as encoding/json.
var options = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// New returns a Decoder reading body in place (not copied: body must not
// change until Release).
func New(body []byte) *Decoder {
	d := decoders.Get().(*Decoder)
	d.in = *bytes.NewBuffer(body)
	d.dec.Reset(&d.in, options...)
	return d
}

// Release gives the Decoder back for reuse; it keeps no reference to the
// body.
func (d *Decoder) Release() {
	d.in = bytes.Buffer{}
	d.dec.Reset(&d.in)
	decoders.Put(d)
}

// PeekKind returns the kind of the next value, 0 at an error or the end.
func (d *Decoder) PeekKind() Kind { return d.dec.PeekKind() }

// Skip reads the next value, checking it, and drops it.
func (d *Decoder) Skip() error { return d.dec.SkipValue() }

// Field reads the next value into f; a value other than a string is
// skipped, its kind kept.
func (d *Decoder) Field(f *Field) error {
	f.Kind, f.Str = d.dec.PeekKind(), ""
	if f.Kind != '"' {
		return d.dec.SkipValue()
	}
	tok, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	f.Str = tok.String()
	return nil
}

// Object reads the object the decoder is at, calling member with each
// member's name, unquoted; member must read the value (Field, Skip,
// Object, Array). The name is only valid until member returns: compare it
// (switch string(name) does not allocate), and copy it to keep it.
func (d *Decoder) Object(member func(name []byte) error) error {
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for d.dec.PeekKind() == '"' {
		raw, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		// raw is a valid string (jsontext checked it); invalid UTF-8 in it
		// is replaced as encoding/json does, and reported as an error.
		d.name, _ = jsontext.AppendUnquote(d.name[:0], raw)
		if err := member(d.name); err != nil {
			return err
		}
	}
	_, err := d.dec.ReadToken()
	return err
}

// Array reads the array the decoder is at, calling elem for each element;
// elem must read it.
func (d *Decoder) Array(elem func() error) error {
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for k := d.dec.PeekKind(); k != ']'; k = d.dec.PeekKind() {
		if k == 0 {
			// Let jsontext say what is wrong.
			_, err := d.dec.ReadToken()
			return err
		}
		if err := elem(); err != nil {
			return err
		}
	}
	_, err := d.dec.ReadToken()
	return err
}

// ErrNotObject is what Body returns for valid JSON that is not an object.
var ErrNotObject = errors.New("not a JSON object")

// Body reads the body as one JSON object, calling member as Object does,
// and checks that nothing but white space follows it.
func (d *Decoder) Body(member func(name []byte) error) error {
	if d.dec.PeekKind() != '{' {
		return ErrNotObject
	}
	if err := d.Object(member); err != nil {
		return err
	}
	if _, err := d.dec.ReadToken(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return nil
}

// Refused returns encoding/json's error for a body Body did not read (a
// *json.SyntaxError, or a *json.UnmarshalTypeError for JSON that is no
// object), or nil when encoding/json reads it as null: a plugin explains a
// refused body in encoding/json's terms, as it did before it read bodies
// with a Decoder. Should encoding/json read the body as an object, which
// no body is known to do (the plugins' fuzz tests compare the two), the
// error says that the body could not be read, and why: Body's err.
func Refused(body []byte, err error) error {
	var top map[string]json.RawMessage
	v1err := json.Unmarshal(body, &top)
	if v1err == nil && top != nil {
		return fmt.Errorf("body could not be read: %w", err)
	}
	return v1err
}
