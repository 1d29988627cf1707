package jsonfields

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// read reads body with Body, keeping the string or the kind of every
// member, elements of arrays included, as "name=value" or "name:kind".
func read(body string) ([]string, error) {
	d := New([]byte(body))
	defer d.Release()
	var got []string
	var member func(prefix string) func(name []byte) error
	member = func(prefix string) func(name []byte) error {
		return func(name []byte) error {
			path := prefix + string(name)
			switch d.PeekKind() {
			case '{':
				return d.Object(member(path + "."))
			case '[':
				i := 0
				return d.Array(func() error {
					i++
					return member(path + "[")([]byte(strings.Repeat("]", i)))
				})
			}
			var f Field
			if err := d.Field(&f); err != nil {
				return err
			}
			if f.Kind == '"' {
				got = append(got, path+"="+f.Str)
			} else {
				got = append(got, path+":"+KindName(f.Kind))
			}
			return nil
		}
	}
	return got, d.Body(member(""))
}

func TestBodyReadsEveryMemberInOrder(t *testing.T) {
	got, err := read(` {"a":"x","a":"y","n":null,"b":[1,"s",{"c":true}],"o":{"p":{"q":false}},"e\u0073c":"\u00e9\n","bad":"` + "\xff" + `"} `)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a=x", "a=y", "n:null", "b[]:number", "b[]]=s", "b[]]].c:boolean", "o.p.q:boolean", "esc=é\n", "bad=\uFFFD"}
	if !slices.Equal(got, want) {
		t.Errorf("members %q, want %q", got, want)
	}
}

func TestBodyRefusesWhatEncodingJSONRefuses(t *testing.T) {
	for _, body := range []string{"", "null", "[]", `"x"`, "1", `{"a":1} {}`, `{"a":1}]`, `{"a":1,}`, `{"a":[1,]}`, `{"a" 1}`, `{"a":"\x01"}`, `{"a":01}`, "\xef\xbb\xbf{}", `{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`} {
		_, err := read(body)
		if err == nil {
			t.Errorf("Body(%.40q): no error", body)
			continue
		}
		var top map[string]json.RawMessage
		v1err := json.Unmarshal([]byte(body), &top)
		if got := Refused([]byte(body), err); got == nil && (v1err != nil || top != nil) || got != nil && got.Error() != v1err.Error() {
			t.Errorf("Refused(%.40q) = %v, want encoding/json's %v", body, got, v1err)
		}
	}
	if _, err := read("[]"); !errors.Is(err, ErrNotObject) {
		t.Errorf("Body([]) = %v, want ErrNotObject", err)
	}
}

func TestRefusedSaysSoOfAnObjectEncodingJSONReads(t *testing.T) {
	cause := errors.New("cause")
	if err := Refused([]byte(`{"a":1}`), cause); !errors.Is(err, cause) || !strings.Contains(err.Error(), "could not be read") {
		t.Errorf("Refused = %v, want the cause", err)
	}
}

func TestAReleasedDecoderReadsTheNextBodyAfresh(t *testing.T) {
	if _, err := read(`{"a":`); err == nil {
		t.Fatal("a truncated body read")
	}
	got, err := read(`{"b":"c"}`)
	if err != nil || !slices.Equal(got, []string{"b=c"}) {
		t.Errorf("read after a failed read = %v, %v", got, err)
	}
}

// FuzzBody checks that Body accepts exactly the bodies encoding/json reads
// as an object, and never changes the body.
func FuzzBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[{"b":null}],"a":"\ud800"}`, `{"a":1}x`, "{\"\xff\":1}", `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := string(body)
		d := New(body)
		err := d.Body(func([]byte) error { return d.Skip() })
		d.Release()
		var top map[string]json.RawMessage
		v1err := json.Unmarshal(body, &top)
		if (err == nil) != (v1err == nil && top != nil) {
			t.Fatalf("Body: %v; encoding/json: %v (object %v)", err, v1err, top != nil)
		}
		if string(body) != orig {
			t.Fatal("Body changed the body")
		}
	})
}
