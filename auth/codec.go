package auth

import (
	"encoding/json"
	"fmt"
	"time"
)

// JSONCodec encodes session data as JSON with a type tag per value, for the value types scs's getters
// read back: string, []byte, bool, int, int64, int32, float64 and time.Time. It decodes several times
// faster than scs's gob codec (which compiles a decoder for every session it reads), stored sessions stay
// readable, and no type registration is needed. A value of another type is refused at commit.
type JSONCodec struct{}

type jsonSession struct {
	Deadline time.Time            `json:"deadline"`
	Values   map[string]jsonValue `json:"values"`
}

type jsonValue struct {
	S  *string    `json:"s,omitempty"`
	B  []byte     `json:"b,omitempty"`
	T  *bool      `json:"t,omitempty"`
	I  *int64     `json:"i,omitempty"`
	I4 *int32     `json:"i4,omitempty"`
	N  *int       `json:"n,omitempty"`
	F  *float64   `json:"f,omitempty"`
	D  *time.Time `json:"d,omitempty"`
	// Empty marks an empty []byte, which omitempty would otherwise lose.
	Empty bool `json:"e,omitempty"`
}

// Encode implements scs.Codec.
func (JSONCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	out := jsonSession{Deadline: deadline, Values: make(map[string]jsonValue, len(values))}
	for k, v := range values {
		var jv jsonValue
		switch x := v.(type) {
		case string:
			jv.S = &x
		case []byte:
			jv.B, jv.Empty = x, len(x) == 0
		case bool:
			jv.T = &x
		case int64:
			jv.I = &x
		case int32:
			jv.I4 = &x
		case int:
			jv.N = &x
		case float64:
			jv.F = &x
		case time.Time:
			jv.D = &x
		default:
			return nil, fmt.Errorf("auth: session value %q has type %T: store string, []byte, bool, int, int32, int64, float64 or time.Time (JSON-encode anything else)", k, v)
		}
		out.Values[k] = jv
	}
	return json.Marshal(out)
}

// Decode implements scs.Codec.
func (JSONCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	var in jsonSession
	if err := json.Unmarshal(b, &in); err != nil {
		return time.Time{}, nil, err
	}
	values := make(map[string]any, len(in.Values))
	for k, jv := range in.Values {
		switch {
		case jv.S != nil:
			values[k] = *jv.S
		case jv.B != nil || jv.Empty:
			values[k] = append([]byte{}, jv.B...)
		case jv.T != nil:
			values[k] = *jv.T
		case jv.I != nil:
			values[k] = *jv.I
		case jv.I4 != nil:
			values[k] = *jv.I4
		case jv.N != nil:
			values[k] = *jv.N
		case jv.F != nil:
			values[k] = *jv.F
		case jv.D != nil:
			values[k] = *jv.D
		default:
			return time.Time{}, nil, fmt.Errorf("auth: session value %q has no type", k)
		}
	}
	return in.Deadline, values, nil
}
