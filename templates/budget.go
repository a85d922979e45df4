package templates

import (
	"errors"
	"fmt"
	"reflect"
	texttemplate "text/template"
	"time"
)

// Rendering is bounded in memory and time whatever the template: a
// draft that doubles a string in a variable ({{$x = printf "%s%s" $x
// $x}} repeated) or pads it ({{printf "%01000000d" 0}}) is refused, not
// rendered into gigabytes. The functions that make strings (printf,
// print, println, html, js, urlquery) are replaced by bounded ones: a
// width or precision over MaxFormatWidth is refused, a result over
// MaxValueBytes is refused before it is made (from the sizes of its
// arguments) or right after, and all results of one render together stay
// under MaxFunctionBytes. The output of each part is cut at
// MaxRenderedBytes (limitedBuffer), ranges nest at most MaxRangeDepth
// deep over the data (bounds.go), and every function call and write
// checks the render's deadline, RenderTimeout after it began.
const (
	MaxFormatWidth   = 1000
	MaxValueBytes    = 256 << 10
	MaxFunctionBytes = 4 << 20
	MaxRangeDepth    = 2
)

// RenderTimeout bounds the time of one render (its three parts).
var RenderTimeout = 2 * time.Second

var (
	errValueSize   = fmt.Errorf("a value over %d KiB", MaxValueBytes>>10)
	errBudget      = fmt.Errorf("functions made more than %d MiB in all", MaxFunctionBytes>>20)
	errStarWidth   = errors.New("a * width or precision is not allowed")
	errFormatWidth = fmt.Errorf("a width or precision over %d", MaxFormatWidth)
)

// budget is what one render may still spend.
type budget struct {
	now      func() time.Time
	deadline time.Time
	left     int // bytes the functions may still make
}

func newBudget(now func() time.Time) *budget {
	return &budget{now: now, deadline: now().Add(RenderTimeout), left: MaxFunctionBytes}
}

func (b *budget) alive() error {
	if b.now().After(b.deadline) {
		return fmt.Errorf("took longer than %s", RenderTimeout)
	}
	return nil
}

// before refuses a result whose size estimate is over the bounds.
func (b *budget) before(estimate int) error {
	if err := b.alive(); err != nil {
		return err
	}
	if estimate > MaxValueBytes {
		return errValueSize
	}
	if estimate > b.left {
		return errBudget
	}
	return nil
}

// spend charges a result made.
func (b *budget) spend(s string) (string, error) {
	if len(s) > MaxValueBytes {
		return "", errValueSize
	}
	if b.left -= len(s); b.left < 0 {
		return "", errBudget
	}
	return s, nil
}

// size is at most what an argument prints to under %v (or %s, %d ...),
// measured before anything is formatted: a string's or byte slice's
// length, a scalar's widest form (a 64-bit %b with sign and prefix), and
// for a composite (a message, the messages, the whole Data) the sum of
// its parts plus room for the brackets, separators, field and type names
// that %v, %+v and %#v add. Verbs that quote or hex-encode (q, x, X, #)
// multiply text by at most expand.
func size(a any) int {
	return sizeOf(reflect.ValueOf(a), 0)
}

const (
	scalarSize = 70 // %#b of a negative int64: "-0b" and 64 digits
	partSize   = 64 // per field or element: separators, names, type
	expand     = 4  // %q of a control byte: \x01; %x: 2; % x: 3
	escExpand  = 6  // js of '<': \u003C; html of '"': &#34;
	maxDepth   = 8
)

func sizeOf(v reflect.Value, depth int) int {
	if depth > maxDepth {
		return scalarSize
	}
	switch v.Kind() {
	case reflect.String:
		return v.Len()
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Len() * expand // %v of bytes: "[255 0 ...]"
		}
		n := partSize
		for i := range v.Len() {
			n += partSize + sizeOf(v.Index(i), depth+1)
		}
		return n
	case reflect.Struct:
		n := partSize + len(v.Type().String())
		for i := range v.NumField() {
			n += partSize + len(v.Type().Field(i).Name) + sizeOf(v.Field(i), depth+1)
		}
		return n
	case reflect.Interface:
		if v.IsNil() {
			return partSize
		}
		return partSize + sizeOf(v.Elem(), depth+1)
	case reflect.Pointer:
		if v.IsNil() || depth > 0 { // fmt prints a nested pointer's address
			return partSize
		}
		return partSize + sizeOf(v.Elem(), depth+1)
	case reflect.Map:
		n := partSize
		for it := v.MapRange(); it.Next(); {
			n += partSize + sizeOf(it.Key(), depth+1) + sizeOf(it.Value(), depth+1)
		}
		return n
	}
	return scalarSize
}

func sizes(args []any) (total, largest int) {
	for _, a := range args {
		n := size(a)
		total += n
		largest = max(largest, n)
	}
	return total, largest
}

// formatSize checks a printf format's widths and precisions and
// estimates its result; a format that picks arguments by index ("%[1]s")
// may print the largest one at every verb.
func formatSize(format string, args []any) (int, error) {
	est, verbs, indexed, factor := len(format), 0, false, 1
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && (format[i] == '+' || format[i] == '-' || format[i] == '#' || format[i] == ' ' || format[i] == '0') {
			if format[i] == '#' {
				factor = expand
			}
			i++
		}
		for part := 0; part < 2 && i < len(format); part++ {
			if format[i] == '[' {
				indexed = true
				for i < len(format) && format[i] != ']' {
					i++
				}
				i++
			}
			if i < len(format) && format[i] == '*' {
				return 0, errStarWidth
			}
			n := 0
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				if n = n*10 + int(format[i]-'0'); n > MaxFormatWidth {
					return 0, errFormatWidth
				}
				i++
			}
			est += n
			if part == 0 && i < len(format) && format[i] == '.' {
				i++
				continue
			}
			break
		}
		if i < len(format) && format[i] == '[' {
			indexed = true
			for i < len(format) && format[i] != ']' {
				i++
			}
			i++
		}
		if i < len(format) && format[i] != '%' {
			verbs++
			if format[i] == 'q' || format[i] == 'x' || format[i] == 'X' {
				factor = expand
			}
		}
	}
	total, largest := sizes(args)
	if indexed {
		return est + verbs*largest*factor, nil
	}
	return est + total*factor, nil
}

// funcs are the bounded replacements of text/template's functions that
// make strings; they apply to the html part too.
func (b *budget) funcs() texttemplate.FuncMap {
	escaper := func(escape func(...any) string) func(...any) (string, error) {
		return func(args ...any) (string, error) {
			total, _ := sizes(args)
			if err := b.before(total * escExpand); err != nil {
				return "", err
			}
			return b.spend(escape(args...))
		}
	}
	return texttemplate.FuncMap{
		"printf": func(format string, args ...any) (string, error) {
			est, err := formatSize(format, args)
			if err != nil {
				return "", err
			}
			if err := b.before(est); err != nil {
				return "", err
			}
			return b.spend(fmt.Sprintf(format, args...))
		},
		"print": func(args ...any) (string, error) {
			total, _ := sizes(args)
			if err := b.before(total + len(args)); err != nil {
				return "", err
			}
			return b.spend(fmt.Sprint(args...))
		},
		"println": func(args ...any) (string, error) {
			total, _ := sizes(args)
			if err := b.before(total + len(args) + 1); err != nil {
				return "", err
			}
			return b.spend(fmt.Sprintln(args...))
		},
		"timeFormat": func(m MessageData, layout string) (string, error) {
			if len(layout) > MaxTimeLayout {
				return "", fmt.Errorf("a time layout over %d bytes", MaxTimeLayout)
			}
			if err := b.before(len(layout) * 16); err != nil { // "January", "-07:00:00" ...
				return "", err
			}
			return b.spend(m.at.Format(layout))
		},
		"html":     escaper(texttemplate.HTMLEscaper),
		"js":       escaper(texttemplate.JSEscaper),
		"urlquery": escaper(texttemplate.URLQueryEscaper),
	}
}
