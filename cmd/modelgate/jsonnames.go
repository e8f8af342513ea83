package main

import (
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/internal/safetext"
)

// nameMembers are the JSON members (strings, or lists of strings) that
// carry a file, member or tensor name: they are written as the text output
// writes them, through safetext.Escape, which leaves ordinary names as
// they are, writes a byte that is not UTF-8 as \xNN and doubles a
// backslash. The escaping is reversible, so two names that differ only in
// invalid UTF-8 stay distinct, where encoding/json would write both with
// U+FFFD.
var nameMembers = map[string]bool{
	"path": true, "name": true, "file": true, "files": true, "member": true,
	"in": true, "out": true, "bundle": true, "ignored": true, "copied": true, "cache_blobs": true,
}

// escapeNames returns a copy of v, ready for encoding/json: names escaped
// as nameMembers says, and every other string (messages, reasons,
// metadata) escaped the same way only when it is not UTF-8, which JSON
// cannot carry.
func escapeNames(v any) any {
	if v == nil {
		return nil
	}
	return escapeValue(reflect.ValueOf(v), false).Interface()
}

func escapeValue(v reflect.Value, name bool) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if !name && utf8.ValidString(s) {
			return v
		}
		if e := safetext.Escape(s); e != s {
			out := reflect.New(v.Type()).Elem()
			out.SetString(e)
			return out
		}
		return v
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return v
		}
		e := escapeValue(v.Elem(), name)
		if v.Kind() == reflect.Interface {
			out := reflect.New(v.Type()).Elem()
			out.Set(e)
			return out
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(e)
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			member, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if member == "" && !f.Anonymous {
				member = f.Name
			}
			out.Field(i).Set(escapeValue(v.Field(i), nameMembers[member]))
		}
		return out
	case reflect.Slice, reflect.Array:
		if !holdsStrings(v.Type().Elem()) || v.Kind() == reflect.Slice && v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		if v.Kind() == reflect.Slice {
			out.Set(reflect.MakeSlice(v.Type(), v.Len(), v.Len()))
		}
		for i := range v.Len() {
			out.Index(i).Set(escapeValue(v.Index(i), name))
		}
		return out
	case reflect.Map:
		if v.IsNil() || !holdsStrings(v.Type().Key()) && !holdsStrings(v.Type().Elem()) {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(escapeValue(it.Key(), false), escapeValue(it.Value(), false))
		}
		return out
	}
	return v
}

// holdsStrings reports whether a value of type t can hold a string.
func holdsStrings(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Interface, reflect.Struct, reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return true
	}
	return false
}
