// Package jsonrectest fills records for the tests of their jsonrec encoders.
package jsonrectest

import (
	"reflect"
	"time"
)

// Fill sets every field of the struct v points to (and of the
// structs in it, and one element of each slice) to a value that is not
// zero and that each record's enums accept from accepted, so a test of a
// record's encoder against json.Marshal fails for a field added to the
// type but not to its encoder. accepted maps a field's Go type name to
// the string it takes (an enum's known value).
func Fill(v any, accepted map[string]string) {
	fill(reflect.ValueOf(v).Elem(), accepted)
}

var timeType = reflect.TypeOf(time.Time{})

func fill(v reflect.Value, accepted map[string]string) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(time.Date(2026, 12, 7, 11, 15, 22, 5, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		s := "x<y>"
		if a, ok := accepted[v.Type().Name()]; ok {
			s = a
		}
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), accepted)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), accepted)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, accepted)
		fill(e, accepted)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), accepted)
			}
		}
	}
}
