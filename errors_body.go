package librato

// Decoding of non-2xx bodies into python-librato style messages
// (testdata/README.md: error body shapes, TV20).

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
)

// errorBodyMessage turns a non-2xx body into the readable message and the
// flattened params. The message is never empty: a blank body gives the status text.
func errorBodyMessage(status int, contentType string, body []byte) (string, map[string][]string) {
	if isPlainText(contentType) {
		if msg := plainMessage(body); msg != "" {
			return msg, nil
		}
		return statusText(status), nil
	}
	if msg, params := parseErrorBody(body); msg != "" {
		return msg, params
	}
	return statusText(status), nil
}

// isAPIErrorBody reports whether body is a JSON object with an "errors" member, the envelope of
// every error the API documents (testdata/README.md, error body shapes).
func isAPIErrorBody(body []byte) bool {
	var v map[string]json.RawMessage
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	_, ok := v["errors"]
	return ok
}

// parseErrorBody returns the readable message of an error body of unknown
// type: the python-librato message of a JSON payload, else the body itself
// with surrounding space trimmed. It returns "" only for a blank body.
func parseErrorBody(body []byte) (string, map[string][]string) {
	if msg, params := errorMessageFromJSON(body); msg != "" {
		return msg, params
	}
	return plainMessage(body), nil
}

// plainMessage is a non-JSON body as a message: trimmed, valid UTF-8.
func plainMessage(body []byte) string {
	return strings.ToValidUTF8(string(bytes.TrimSpace(body)), "\uFFFD")
}

// isPlainText reports a text/* content type other than JSON, whose body is the
// message as is (shape 10 in testdata/README.md).
func isPlainText(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "json")
}

// errorMessageFromJSON decodes a JSON error payload into the python-librato
// message and the flattened params; it returns "" when raw is not JSON or
// carries no message. It reads, in python-librato's order:
//
//   - a JSON string: the string itself;
//   - "error" (rate limiting, shape 8), then "message" (shape 9);
//   - "errors" as a list (shape 7): the items joined by ", ";
//   - "errors" as an object: each key's items become "key: item" (a list
//     under a top-level key gives one entry per item, "request: a, request: b");
//     nested objects prefix their keys, "params: conditions: duration: must be set",
//     and a list below the top level is joined, "params: name: x, y".
//
// Entries keep the order of the body. Params holds what is under
// errors.params, and the errors keys other than "request" and "system" (the
// job failure payload {"state":"failed","errors":{"name":["is invalid"]}}),
// flattened with dots: "conditions.duration". The jobs code reuses this on a
// failed job's payload.
func errorMessageFromJSON(raw []byte) (msg string, params map[string][]string) {
	root, ok := decodeOrdered(raw)
	if !ok {
		return "", nil
	}
	switch root.kind {
	case jsonString:
		return strings.TrimSpace(root.text), nil
	case jsonArray:
		return joinMessages(root.leafTexts()), nil
	case jsonObject:
	default:
		return "", nil
	}
	for _, key := range [...]string{"error", "message"} {
		if v := root.get(key); v != nil {
			if m := joinMessages(v.leafTexts()); m != "" {
				return m, nil
			}
		}
	}
	errs := root.get("errors")
	if errs == nil {
		return "", nil
	}
	if errs.kind != jsonObject {
		return joinMessages(errs.leafTexts()), nil
	}
	var msgs []string
	for i, key := range errs.keys {
		v := errs.vals[i]
		if v.kind == jsonArray {
			for _, item := range v.vals {
				msgs = appendMessages(msgs, []string{key}, item)
			}
		} else {
			msgs = appendMessages(msgs, []string{key}, v)
		}
		switch key {
		case "request", "system":
		case "params":
			params = appendParams(params, "", v)
		default:
			params = appendParams(params, key, v)
		}
	}
	return joinMessages(msgs), params
}

// appendMessages adds the "path: text" entries of v below path.
func appendMessages(msgs []string, path []string, v *jsonNode) []string {
	if v.kind == jsonObject {
		for i, k := range v.keys {
			msgs = appendMessages(msgs, append(path[:len(path):len(path)], k), v.vals[i])
		}
		return msgs
	}
	text := strings.Join(v.leafTexts(), ", ")
	if text == "" {
		return msgs
	}
	return append(msgs, strings.Join(append(path[:len(path):len(path)], text), ": "))
}

// appendParams flattens v into params under the dotted key prefix.
func appendParams(params map[string][]string, prefix string, v *jsonNode) map[string][]string {
	if v.kind == jsonObject {
		for i, k := range v.keys {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			params = appendParams(params, key, v.vals[i])
		}
		return params
	}
	texts := v.leafTexts()
	if prefix == "" || len(texts) == 0 {
		return params
	}
	if params == nil {
		params = make(map[string][]string)
	}
	params[prefix] = append(params[prefix], texts...)
	return params
}

// joinMessages joins non-empty entries with ", ".
func joinMessages(msgs []string) string {
	return strings.Join(slices.DeleteFunc(msgs, func(s string) bool { return s == "" }), ", ")
}

// jsonNode is a decoded JSON value that, unlike map[string]any, keeps object
// keys in body order: python-librato lists messages in that order.
type jsonNode struct {
	kind jsonKind
	text string      // string, or the literal text of a number, bool or null
	keys []string    // object keys, parallel to vals
	vals []*jsonNode // object values or array items
}

type jsonKind uint8

const (
	jsonScalar jsonKind = iota // number or bool
	jsonNull
	jsonString
	jsonArray
	jsonObject
)

// maxJSONDepth bounds nesting; error bodies are two or three levels deep.
const maxJSONDepth = 32

// get returns the value of the first key k of an object, or nil.
func (n *jsonNode) get(k string) *jsonNode {
	for i, key := range n.keys {
		if key == k {
			return n.vals[i]
		}
	}
	return nil
}

// leafTexts lists the texts of n: a string or scalar itself, the items of an
// array (nested values flattened), and "key: text" for objects. Nulls and
// empty strings are skipped.
func (n *jsonNode) leafTexts() []string {
	switch n.kind {
	case jsonString, jsonScalar:
		if t := strings.TrimSpace(n.text); t != "" {
			return []string{t}
		}
	case jsonArray:
		var out []string
		for _, v := range n.vals {
			out = append(out, v.leafTexts()...)
		}
		return out
	case jsonObject:
		return appendMessages(nil, nil, n)
	}
	return nil
}

// decodeOrdered decodes one JSON value that fills raw (trailing data fails).
func decodeOrdered(raw []byte) (*jsonNode, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := decodeNode(dec, 0)
	if err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return n, true
}

func decodeNode(dec *json.Decoder, depth int) (*jsonNode, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &jsonNode{kind: jsonObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token() // '}'
			return n, err
		case '[':
			n := &jsonNode{kind: jsonArray}
			for dec.More() {
				v, err := decodeNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token() // ']'
			return n, err
		}
		return nil, errors.New("unexpected delimiter")
	case string:
		return &jsonNode{kind: jsonString, text: t}, nil
	case json.Number:
		return &jsonNode{kind: jsonScalar, text: t.String()}, nil
	case bool:
		return &jsonNode{kind: jsonScalar, text: strconv.FormatBool(t)}, nil
	case nil:
		return &jsonNode{kind: jsonNull}, nil
	}
	return nil, errors.New("unexpected token")
}
