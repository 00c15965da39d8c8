package auth

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

func TestJSONCodecRoundTrip(t *testing.T) {
	deadline := time.Date(2026, 12, 3, 12, 0, 0, 123, time.UTC)
	in := map[string]any{
		"s": "text", "empty-s": "", "b": []byte{0, 1, 2}, "empty-b": []byte{}, "t": true, "f": false,
		"i64": int64(-7), "i32": int32(5), "n": 42, "fl": 3.5, "d": deadline,
	}
	b, err := JSONCodec{}.Encode(deadline, in)
	if err != nil {
		t.Fatal(err)
	}
	gotDeadline, out, err := JSONCodec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !gotDeadline.Equal(deadline) || !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n in %#v\nout %#v", in, out)
	}
	if _, err := (JSONCodec{}).Encode(deadline, map[string]any{"x": struct{}{}}); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("unsupported type: %v", err)
	}
	for _, bad := range []string{"", "{", `{"values":{"k":{}}}`, "\x00gob"} {
		if _, _, err := (JSONCodec{}).Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

var benchValues = map[string]any{
	keyUser:   []byte(`{"iss":"https://idp.example","sub":"user-1","sid":"abc","name":"Ada Lovelace","email":"ada@example.test","id_token_claims":{"iss":"https://idp.example","sub":"user-1","aud":"x","exp":1,"iat":1,"name":"Ada Lovelace"}}`),
	keyTokens: []byte(`{"id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2ln","access_token":"at","refresh_token":"rt","expiry":"2026-12-03T12:00:00Z"}`),
	keyCSRF:   "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6",
}

func benchmarkDecode(b *testing.B, c scs.Codec) {
	data, err := c.Encode(time.Now(), benchValues)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSON(b *testing.B) { benchmarkDecode(b, JSONCodec{}) }
func BenchmarkDecodeGob(b *testing.B)  { benchmarkDecode(b, scs.GobCodec{}) }

func TestTolerantCodecReadsGobAndSurvivesGarbage(t *testing.T) {
	deadline := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	old, err := scs.GobCodec{}.Encode(deadline, map[string]any{"csrf": "tok"})
	if err != nil {
		t.Fatal(err)
	}
	d, v, err := tolerantCodec{}.Decode(old)
	if err != nil || !d.Equal(deadline) || v["csrf"] != "tok" {
		t.Errorf("gob session: %v %v %v", d, v, err)
	}
	if _, v, err := (tolerantCodec{}).Decode([]byte("garbage")); err != nil || len(v) != 0 {
		t.Errorf("garbage: %v %v", v, err)
	}
}
