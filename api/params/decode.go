package params

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tenderhq/tender"
)

// Unmarshaler is implemented by types that decode themselves, such as a
// decimal amount or an enum that validates its value. path is the bracket
// path of the parameter, for error messages; raw is the leaf or subtree
// from Values and is never nil (a JSON null leaves the field untouched).
// An error that is not a *tender.Error is reported to the client as a
// generic invalid value for path, keeping the original as the cause.
type Unmarshaler interface {
	UnmarshalParam(path string, raw any) error
}

var unmarshalerType = reflect.TypeFor[Unmarshaler]()

// Decode copies v into the struct dst points to, guided by struct tags:
//
//	Amount   int64             `param:"amount,required"`
//	Metadata map[string]string `param:"metadata"`
//	Secret   string            `param:"-"` // never set from a request
//
// Fields without a param tag are not decoded, except that the fields of an
// untagged embedded struct are promoted, so shared parameter sets (paging,
// expand) can be embedded. Any key in v that names no field is rejected with
// parameter_unknown and its full bracket path, as Stripe does, so typos fail
// loudly instead of being ignored.
//
// Supported field types: string, bool, signed integers, pointers to any
// supported type, slices and string-keyed maps of supported types, structs,
// any (which receives the raw subtree), and types implementing Unmarshaler
// with a value or pointer receiver.
//
// A slice accepts an array, or an object whose keys are all array indices,
// which is how ParseForm represents items[0][price]=…&items[1][price]=…:
// the keys must be whole numbers from 0 to MaxIndex without leading zeros,
// and together 0 to n-1 with no gap, in any order. Anything else, such as
// items[0] and items[x] together, items[01] or items[0] with items[2], is
// an error naming the parameter. The rule is the same whatever the source,
// so a JSON object such as {"0":"a","1":"b"} also fills a slice. Any other
// destination takes digit keys as plain strings: metadata[0]=a and
// metadata[007]=b give a map[string]string with keys "0" and "007", and an
// any or map[string]any field receives the digit-keyed map unchanged.
//
// A parameter that is present replaces its field wholesale; absent
// parameters and JSON nulls leave the field as dst had it, so callers may
// set defaults first. "required" is about the request, not dst: the client
// must send a non-null value even if dst already holds one. An empty string (form "metadata=") clears a map,
// slice or struct field, as Stripe uses it to unset. Errors report the
// first problem in sorted key order, so messages are stable; on error dst
// is left unchanged.
func Decode(v Values, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return tender.Internal(fmt.Errorf("params.Decode: destination must be a non-nil pointer to a struct, not %T", dst))
	}
	t := rv.Elem().Type()
	info, err := structInfoFor(t)
	if err != nil {
		return tender.Internal(err)
	}
	// Decode into a copy so that a failure halfway leaves dst as it was.
	// Present fields get freshly allocated maps, slices and pointers, so
	// the shallow copy never writes through to dst's own references.
	tmp := reflect.New(t).Elem()
	tmp.Set(rv.Elem())
	if err := decodeFields("", v, tmp, info); err != nil {
		return err
	}
	rv.Elem().Set(tmp)
	return nil
}

func decodeFields(path string, obj map[string]any, sv reflect.Value, info *structInfo) error {
	keys := slices.Sorted(maps.Keys(obj))
	for _, k := range keys {
		p := join(path, k)
		f, ok := info.byName[k]
		if !ok {
			return tender.InvalidParam(tender.CodeParameterUnknown, paramName(p),
				"Received unknown parameter: %s", paramName(p))
		}
		raw := obj[k]
		if raw == nil {
			continue
		}
		if err := decodeValue(p, raw, sv.FieldByIndex(f.index)); err != nil {
			return err
		}
	}
	for _, f := range info.fields {
		if f.required && obj[f.name] == nil {
			return tender.MissingParam(join(path, f.name))
		}
	}
	return nil
}

// decodeValue stores raw into fv, which is addressable and settable.
func decodeValue(path string, raw any, fv reflect.Value) error {
	if raw == nil {
		return nil
	}
	t := fv.Type()
	if t.Kind() == reflect.Pointer {
		if raw == "" && clearsOnEmpty(t.Elem()) {
			fv.SetZero()
			return nil
		}
		pv := reflect.New(t.Elem())
		if err := decodeValue(path, raw, pv.Elem()); err != nil {
			return err
		}
		fv.Set(pv)
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return unmarshal(path, raw, fv.Addr().Interface().(Unmarshaler))
	}
	switch t.Kind() {
	case reflect.String:
		s, err := toString(path, raw)
		if err != nil {
			return err
		}
		fv.SetString(s)
	case reflect.Bool:
		b, err := toBool(path, raw)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := toInt(path, raw)
		if err != nil {
			return err
		}
		if fv.OverflowInt(n) {
			return errInvalidInt(path, raw)
		}
		fv.SetInt(n)
	case reflect.Interface:
		if err := checkTree(path, raw); err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(raw))
	case reflect.Slice:
		return decodeSlice(path, raw, fv)
	case reflect.Map:
		return decodeMap(path, raw, fv)
	case reflect.Struct:
		if raw == "" {
			fv.SetZero()
			return nil
		}
		obj, ok := asObject(raw)
		if !ok {
			return errInvalidObject(path)
		}
		info, err := structInfoFor(t)
		if err != nil {
			return tender.Internal(err)
		}
		fv.SetZero()
		return decodeFields(path, obj, fv, info)
	default:
		// structInfoFor rejects such fields; this guards hand-made calls.
		return tender.Internal(fmt.Errorf("params: unsupported type %s at %s", t, path))
	}
	return nil
}

// clearsOnEmpty reports whether "" means "unset" for a pointer to t rather
// than being decoded into t itself (a *string must be able to hold "").
func clearsOnEmpty(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice:
		return true
	}
	return false
}

func unmarshal(path string, raw any, u Unmarshaler) error {
	err := u.UnmarshalParam(path, raw)
	if err == nil {
		return nil
	}
	if _, ok := tender.AsError(err); ok {
		return err
	}
	e := tender.InvalidParam(tender.CodeParameterInvalid, paramName(path), "Invalid value for %s.", paramName(path))
	e.Cause = err
	return e
}

func decodeSlice(path string, raw any, fv reflect.Value) error {
	if raw == "" {
		fv.Set(reflect.MakeSlice(fv.Type(), 0, 0))
		return nil
	}
	arr, ok := raw.([]any)
	if !ok {
		obj, isObj := asObject(raw)
		if !isObj {
			return errInvalidArray(path)
		}
		var err error
		if arr, err = indexedElems(path, obj); err != nil {
			return err
		}
	}
	sv := reflect.MakeSlice(fv.Type(), len(arr), len(arr))
	for i, el := range arr {
		p := join(path, strconv.Itoa(i))
		if el == nil {
			// A nil element would reach handlers as a nil pointer or a
			// silent zero; no Stripe parameter allows it.
			return tender.InvalidParam(tender.CodeParameterInvalid, paramName(p),
				"Invalid value for %s: arrays cannot contain null.", paramName(p))
		}
		if err := decodeValue(p, el, sv.Index(i)); err != nil {
			return err
		}
	}
	fv.Set(sv)
	return nil
}

// indexedElems reads obj, as ParseForm builds it from items[0]=…&items[1]=…,
// as an array. Its keys must all be indices: whole numbers from 0 to
// MaxIndex without leading zeros, together 0 to n-1 with no gap, in any
// order. The result has at most len(obj) elements, so it is bounded by
// MaxLeaves whatever indices a client sends. Errors name the first
// offending key in sorted order, so they do not depend on map order.
func indexedElems(path string, obj map[string]any) ([]any, error) {
	digits := digitKeys(obj)
	switch {
	case len(obj) == 0 || digits == 0:
		return nil, errInvalidArray(path)
	case digits < len(obj):
		return nil, errMixed(path, describeIndexed, "an object")
	}
	maxLen := len(strconv.Itoa(MaxIndex))
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		n, err := strconv.Atoi(k)
		if len(k) > maxLen || (len(k) > 1 && k[0] == '0') || err != nil || n > MaxIndex {
			p := join(path, k)
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, paramName(p),
				"Invalid array index in %s: indices must be whole numbers from 0 to %d without leading zeros.",
				paramName(p), MaxIndex)
		}
	}
	arr := make([]any, len(obj))
	for i := range arr {
		el, ok := obj[strconv.Itoa(i)]
		if !ok {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, paramName(path),
				"Array %s is missing index %d: indices must start at 0 and have no gaps.", paramName(path), i)
		}
		arr[i] = el
	}
	return arr, nil
}

func decodeMap(path string, raw any, fv reflect.Value) error {
	t := fv.Type()
	if raw == "" {
		fv.Set(reflect.MakeMap(t))
		return nil
	}
	obj, ok := asObject(raw)
	if !ok {
		return errInvalidObject(path)
	}
	m := reflect.MakeMapWithSize(t, len(obj))
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		p := join(path, k)
		if !validText(k) {
			return tender.InvalidParam(tender.CodeParameterInvalid, paramName(p),
				"Invalid parameter name %s: names must be valid UTF-8 without NUL bytes.", paramName(p))
		}
		ev := reflect.New(t.Elem()).Elem()
		// A null map value decodes to the zero value: for metadata that
		// is "", which is how Stripe deletes a key.
		if err := decodeValue(p, obj[k], ev); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
	}
	fv.Set(m)
	return nil
}

// checkTree validates every string and key of a subtree kept as is, so
// that text reaching storage through an any field obeys the same rules as
// text reaching a string field.
func checkTree(path string, raw any) error {
	switch v := raw.(type) {
	case string:
		_, err := toString(path, v)
		return err
	case []any:
		for i, el := range v {
			if err := checkTree(join(path, strconv.Itoa(i)), el); err != nil {
				return err
			}
		}
	default:
		obj, ok := asObject(raw)
		if !ok {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			p := join(path, k)
			if !validText(k) {
				return tender.InvalidParam(tender.CodeParameterInvalid, paramName(p),
					"Invalid parameter name %s: names must be valid UTF-8 without NUL bytes.", paramName(p))
			}
			if err := checkTree(p, obj[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

func toString(path string, raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		if !validText(v) {
			return "", tender.InvalidParam(tender.CodeParameterInvalid, paramName(path),
				"Invalid string for %s: text must be valid UTF-8 without NUL bytes.", paramName(path))
		}
		return v, nil
	case json.Number:
		// Stripe accepts numbers for string parameters; JSON clients
		// often send ids or postal codes as numbers.
		return string(v), nil
	}
	return "", tender.InvalidParam(tender.CodeParameterInvalid, paramName(path), "Invalid string: %s", quote(raw))
}

func toBool(path string, raw any) (bool, error) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case string:
		switch v {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, tender.InvalidParam(tender.CodeParameterInvalid, paramName(path), "Invalid boolean: %s", quote(raw))
}

// toInt accepts only plain base-10 integers: "1e3", "10.0", "+5", "0x10"
// and "1_000" are refused because amounts are in minor units and a client
// sending them has almost certainly confused units or formats.
func toInt(path string, raw any) (int64, error) {
	var s string
	switch v := raw.(type) {
	case string:
		s = v
	case json.Number:
		s = string(v)
	default:
		return 0, errInvalidInt(path, raw)
	}
	digits := strings.TrimPrefix(s, "-")
	if !isDigits(digits) {
		return 0, errInvalidInt(path, raw)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errInvalidInt(path, raw)
	}
	return n, nil
}

func errInvalidInt(path string, raw any) error {
	return tender.InvalidParam(tender.CodeParameterInvalidInt, paramName(path), "Invalid integer: %s", quote(raw))
}

func errInvalidArray(path string) error {
	return tender.InvalidParam(tender.CodeParameterInvalid, paramName(path), "Invalid array")
}

func errInvalidObject(path string) error {
	return tender.InvalidParam(tender.CodeParameterInvalid, paramName(path), "Invalid object")
}

// structInfo is the decoding plan for one struct type, computed once.
type structInfo struct {
	fields []fieldInfo
	byName map[string]*fieldInfo
}

type fieldInfo struct {
	name     string
	index    []int // for reflect.Value.FieldByIndex, through embedded structs
	required bool
}

type cachedInfo struct {
	info *structInfo
	err  error
}

var structCache sync.Map // reflect.Type → cachedInfo

// structInfoFor returns the plan for t, having checked every reachable field
// type once, so that a mistake in a request struct fails on its first use
// rather than only when a client happens to send that parameter.
func structInfoFor(t reflect.Type) (*structInfo, error) {
	if c, ok := structCache.Load(t); ok {
		return c.(cachedInfo).info, c.(cachedInfo).err
	}
	info, err := buildStructInfo(t)
	if err == nil {
		err = checkType(t, map[reflect.Type]bool{})
	}
	if err != nil {
		info = nil
	}
	structCache.Store(t, cachedInfo{info, err})
	return info, err
}

func buildStructInfo(t reflect.Type) (*structInfo, error) {
	info := &structInfo{byName: map[string]*fieldInfo{}}
	if err := collectFields(t, nil, info); err != nil {
		return nil, err
	}
	for i := range info.fields {
		info.byName[info.fields[i].name] = &info.fields[i]
	}
	return info, nil
}

func collectFields(t reflect.Type, prefix []int, info *structInfo) error {
	for i := range t.NumField() {
		f := t.Field(i)
		index := append(slices.Clone(prefix), i)
		tag, tagged := f.Tag.Lookup("param")
		if !tagged {
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				if err := collectFields(f.Type, index, info); err != nil {
					return err
				}
			}
			continue
		}
		if tag == "-" {
			continue
		}
		if !f.IsExported() {
			return fmt.Errorf("params: %s.%s has a param tag but is unexported", t, f.Name)
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			return fmt.Errorf("params: %s.%s has an empty param name", t, f.Name)
		}
		required := false
		switch opts {
		case "":
		case "required":
			required = true
		default:
			return fmt.Errorf("params: %s.%s has unknown param option %q", t, f.Name, opts)
		}
		for _, other := range info.fields {
			if other.name == name {
				return fmt.Errorf("params: %s declares param %q twice", t, name)
			}
		}
		info.fields = append(info.fields, fieldInfo{name: name, index: index, required: required})
	}
	return nil
}

// checkType reports the first field type below t that decodeValue cannot
// fill. seen stops recursion through self-referencing types.
func checkType(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return nil
	case reflect.Pointer, reflect.Slice:
		return checkType(t.Elem(), seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("params: map key type %s is not a string", t.Key())
		}
		return checkType(t.Elem(), seen)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return fmt.Errorf("params: interface type %s cannot be decoded into; use any", t)
		}
		return nil
	case reflect.Struct:
		info, err := buildStructInfo(t)
		if err != nil {
			return err
		}
		for _, f := range info.fields {
			if err := checkType(t.FieldByIndex(f.index).Type, seen); err != nil {
				return fmt.Errorf("%w (field %s of %s)", err, f.name, t)
			}
		}
		return nil
	}
	return fmt.Errorf("params: unsupported type %s", t)
}
